// The service-account token issuer and authenticator, against a real store.
#include "api/serviceaccount_token.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/encryption.h"
#include "core/ids.h"
#include "core/time.h"
#include "kinds/kinds.h"
#include "testing/temp_store.h"

namespace berth::api {
namespace {

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_.get());
    kinds::RegisterBuiltins(kinds_, schemas_);
    enc_ = std::make_unique<Encryptor>(std::string(32, 'k'));
    os_ = std::make_unique<ObjectStore>(store_.get(), &kinds_, &schemas_, enc_.get());
    ASSERT_TRUE(os_->Create(*K("namespaces"), "", {{"metadata", {{"name", "default"}}}}, {}).ok());
    auto sa = os_->Create(*K("serviceaccounts"), "default", {{"metadata", {{"name", "app"}}}}, {});
    ASSERT_TRUE(sa.ok()) << sa.status().ToString();
    sa_uid_ = (*sa)["metadata"]["uid"];
    auto issuer = TokenIssuer::LoadOrCreate(store_.dir() + "/sa.key");
    ASSERT_TRUE(issuer.ok()) << issuer.status().ToString();
    issuer_ = std::move(issuer).value();
  }
  KindPtr K(const std::string& r) { return kinds_.Find("", "v1", r); }
  TokenClaims Claims() {
    TokenClaims c;
    c.ns = "default";
    c.service_account = "app";
    c.service_account_uid = sa_uid_;
    c.audiences = {kServiceAccountIssuer};
    c.issued_at = c.not_before = NowSeconds();
    c.expires = c.issued_at + 3600;
    c.id = NewUUID();
    return c;
  }
  std::optional<net::Identity> Auth(const std::string& t) { return AuthenticateServiceAccountToken(os_.get(), *issuer_, t); }

  testing::TempStore store_;
  KindRegistry kinds_;
  SchemaRegistry schemas_;
  std::unique_ptr<Encryptor> enc_;
  std::unique_ptr<ObjectStore> os_;
  std::unique_ptr<TokenIssuer> issuer_;
  std::string sa_uid_;
};

TEST_F(TokenTest, SignedTokenAuthenticatesAsTheServiceAccount) {
  auto id = Auth(issuer_->Sign(Claims()));
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->user, "system:serviceaccount:default:app");
  EXPECT_EQ(id->groups, (std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:default",
                                                  "system:authenticated"}));
}

TEST_F(TokenTest, VerifyRoundTripsTheClaims) {
  TokenClaims c = Claims();
  c.bound_kind = "Pod";
  c.bound_name = "p";
  c.bound_uid = "u1";
  c.node_name = "n1";
  c.node_uid = "u2";
  auto v = issuer_->Verify(issuer_->Sign(c));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->ns, "default");
  EXPECT_EQ(v->service_account_uid, sa_uid_);
  EXPECT_EQ(v->bound_kind, "Pod");
  EXPECT_EQ(v->bound_uid, "u1");
  EXPECT_EQ(v->node_name, "n1");
  EXPECT_EQ(v->expires, c.expires);
  EXPECT_EQ(v->id, c.id);
}

TEST_F(TokenTest, EveryAlteredPartIsRefused) {
  std::string t = issuer_->Sign(Claims());
  size_t a = t.find('.'), b = t.rfind('.');
  for (size_t pos : {size_t{5}, a + 5, b + 5, t.size() - 2}) {
    std::string bad = t;
    bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(Auth(bad).has_value()) << "altered at " << pos;
  }
  EXPECT_FALSE(Auth(t.substr(0, b)).has_value());
  EXPECT_FALSE(Auth(t + ".x").has_value());
  EXPECT_FALSE(Auth("eyJ").has_value());
  EXPECT_FALSE(Auth("").has_value());
}

TEST_F(TokenTest, AnotherKeysTokenIsRefused) {
  testing::TempStore other;
  auto issuer2 = TokenIssuer::LoadOrCreate(other.dir() + "/sa.key");
  ASSERT_TRUE(issuer2.ok());
  EXPECT_NE((*issuer2)->key_id(), issuer_->key_id());
  EXPECT_FALSE(Auth((*issuer2)->Sign(Claims())).has_value());
}

TEST_F(TokenTest, KeyIsKeptAcrossRestarts) {
  auto again = TokenIssuer::LoadOrCreate(store_.dir() + "/sa.key");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->key_id(), issuer_->key_id());
  EXPECT_TRUE(Auth((*again)->Sign(Claims())).has_value());
}

TEST_F(TokenTest, ExpiredAndFutureTokensAreRefused) {
  TokenClaims c = Claims();
  c.issued_at = c.not_before = NowSeconds() - 7200;
  c.expires = NowSeconds() - 120;  // beyond the 60 s leeway
  EXPECT_FALSE(Auth(issuer_->Sign(c)).has_value());
  c.expires = NowSeconds() - 30;  // within it
  EXPECT_TRUE(Auth(issuer_->Sign(c)).has_value());
  c = Claims();
  c.not_before = NowSeconds() + 600;
  EXPECT_FALSE(Auth(issuer_->Sign(c)).has_value());
}

TEST_F(TokenTest, OtherAudiencesAreNotForTheApi) {
  TokenClaims c = Claims();
  c.audiences = {"vault"};
  EXPECT_FALSE(Auth(issuer_->Sign(c)).has_value());
  c.audiences = {"vault", kServiceAccountIssuer};
  EXPECT_TRUE(Auth(issuer_->Sign(c)).has_value());
}

TEST_F(TokenTest, TokensDieWithTheirObjects) {
  auto pod = os_->Create(*K("pods"), "default",
                         Json::parse(R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}})"),
                         {});
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  TokenClaims c = Claims();
  c.bound_kind = "Pod";
  c.bound_name = "p";
  c.bound_uid = (*pod)["metadata"]["uid"];
  std::string bound = issuer_->Sign(c);
  c.bound_uid = "some-other-uid";
  std::string wrong_uid = issuer_->Sign(c);
  std::string unbound = issuer_->Sign(Claims());
  EXPECT_TRUE(Auth(bound).has_value());
  EXPECT_FALSE(Auth(wrong_uid).has_value());

  ASSERT_TRUE(os_->Delete(*K("pods"), "default", "p", {}, {}).ok());
  EXPECT_FALSE(Auth(bound).has_value());
  EXPECT_TRUE(Auth(unbound).has_value());

  // A service account deleted and made again is another account.
  ASSERT_TRUE(os_->Delete(*K("serviceaccounts"), "default", "app", {}, {}).ok());
  EXPECT_FALSE(Auth(unbound).has_value());
  ASSERT_TRUE(os_->Create(*K("serviceaccounts"), "default", {{"metadata", {{"name", "app"}}}}, {}).ok());
  EXPECT_FALSE(Auth(unbound).has_value());
}

TEST_F(TokenTest, JwksPublishesTheKey) {
  Json j = Json::parse(issuer_->Jwks());
  ASSERT_EQ(j["keys"].size(), 1u);
  EXPECT_EQ(j["keys"][0]["kid"], issuer_->key_id());
  EXPECT_EQ(j["keys"][0]["alg"], "ES256");
  EXPECT_EQ(j["keys"][0]["x"].get<std::string>().size(), 43u);  // 32 bytes, base64url
}

}  // namespace
}  // namespace berth::api
