#include "core/jwt.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

namespace berth {
namespace {

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-jwt-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(JwtTest, SignsAndVerifiesWithAPersistentKey) {
  auto a = JwtSigner::LoadOrCreate(dir_ + "/a.key");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(std::filesystem::status(dir_ + "/a.key").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  Json claims = {{"sub", "dev"}, {"access", {{{"type", "repository"}, {"name", "p/r"}}}}};
  std::string token = (*a)->Sign(claims, "JWT");
  auto back = (*a)->Verify(token);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, claims);
  // Loading the same file again gives the same key.
  auto again = JwtSigner::LoadOrCreate(dir_ + "/a.key");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->key_id(), (*a)->key_id());
  EXPECT_TRUE((*again)->Verify(token).ok());
  EXPECT_EQ((*a)->Jwk()["kid"], (*a)->key_id());
}

TEST_F(JwtTest, RefusesForgeriesAndOtherKeys) {
  auto a = JwtSigner::LoadOrCreate(dir_ + "/a.key");
  auto b = JwtSigner::LoadOrCreate(dir_ + "/b.key");
  ASSERT_TRUE(a.ok() && b.ok());
  std::string token = (*a)->Sign(Json{{"sub", "dev"}});
  EXPECT_EQ((*b)->Verify(token).status().code(), Code::kUnauthorized);
  // The same claims with a different payload but the old signature.
  size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  std::string forged = token.substr(0, dot1 + 1) + Base64UrlEncode(Json{{"sub", "admin"}}.dump()) + token.substr(dot2);
  auto r = (*a)->Verify(forged);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad signature"), std::string::npos);
  for (const char* bad : {"", "a.b", "a.b.c.d", "!!.??.##"}) EXPECT_FALSE((*a)->Verify(bad).ok()) << bad;
  EXPECT_EQ(Base64UrlDecode(Base64UrlEncode("\xff\xfe?>")), std::string("\xff\xfe?>"));
  EXPECT_FALSE(Base64UrlDecode("ab+/").has_value());
}

}  // namespace
}  // namespace berth
