#include "api/serviceaccount_token.h"


#include <nlohmann/json.hpp>

#include "api/validation.h"
#include "core/file.h"
#include "core/jwt.h"
#include "core/ids.h"
#include "core/time.h"

namespace berth::api {
namespace {

constexpr int64_t kLeewaySeconds = 60;
constexpr int64_t kDefaultExpirationSeconds = 3600;
constexpr int64_t kMinExpirationSeconds = 600;
constexpr int64_t kMaxExpirationSeconds = int64_t{1} << 32;

std::vector<std::string> Strings(const Json& j) {
  std::vector<std::string> out;
  if (j.is_string()) out.push_back(j.get<std::string>());
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string StrAt(const Json& j, const char* a, const char* b = nullptr) {
  if (!j.is_object() || !j.contains(a)) return "";
  const Json& x = j[a];
  if (b == nullptr) return x.is_string() ? x.get<std::string>() : "";
  if (!x.is_object() || !x.contains(b) || !x[b].is_string()) return "";
  return x[b].get<std::string>();
}

}  // namespace

struct TokenIssuer::Impl {
  std::unique_ptr<JwtSigner> signer;
};

TokenIssuer::TokenIssuer() : impl_(std::make_unique<Impl>()) {}
TokenIssuer::~TokenIssuer() = default;

Result<std::unique_ptr<TokenIssuer>> TokenIssuer::LoadOrCreate(const std::string& key_path) {
  std::unique_ptr<TokenIssuer> t(new TokenIssuer());
  BERTH_ASSIGN_OR_RETURN(t->impl_->signer, JwtSigner::LoadOrCreate(key_path));
  return t;
}

const std::string& TokenIssuer::key_id() const { return impl_->signer->key_id(); }

std::string TokenIssuer::Jwks() const { return Json{{"keys", Json::array({impl_->signer->Jwk()})}}.dump(); }

std::string TokenIssuer::Sign(const TokenClaims& c) const {
  Json k8s = {{"namespace", c.ns},
              {"serviceaccount", {{"name", c.service_account}, {"uid", c.service_account_uid}}}};
  if (c.bound_kind == "Pod") k8s["pod"] = {{"name", c.bound_name}, {"uid", c.bound_uid}};
  if (c.bound_kind == "Secret") k8s["secret"] = {{"name", c.bound_name}, {"uid", c.bound_uid}};
  if (c.bound_kind == "Node") k8s["node"] = {{"name", c.bound_name}, {"uid", c.bound_uid}};
  if (!c.node_name.empty()) k8s["node"] = {{"name", c.node_name}, {"uid", c.node_uid}};
  Json claims = {{"aud", c.audiences},
                 {"exp", c.expires},
                 {"iat", c.issued_at},
                 {"nbf", c.not_before},
                 {"iss", kServiceAccountIssuer},
                 {"jti", c.id},
                 {"kubernetes.io", k8s},
                 {"sub", "system:serviceaccount:" + c.ns + ":" + c.service_account}};
  return impl_->signer->Sign(claims);
}

Result<TokenClaims> TokenIssuer::Verify(const std::string& token) const {
  auto bad = [](const char* why) { return Status(Code::kUnauthorized, std::string("invalid token: ") + why); };
  BERTH_ASSIGN_OR_RETURN(Json claims, impl_->signer->Verify(token));
  if (StrAt(claims, "iss") != kServiceAccountIssuer) return bad("unknown issuer");
  auto num = [&claims](const char* k) -> int64_t {
    return claims.contains(k) && claims[k].is_number_integer() ? claims[k].get<int64_t>() : 0;
  };
  TokenClaims c;
  c.expires = num("exp");
  c.issued_at = num("iat");
  c.not_before = num("nbf");
  int64_t now = NowSeconds();
  if (c.expires == 0 || now > c.expires + kLeewaySeconds) return bad("expired");
  if (c.not_before > now + kLeewaySeconds) return bad("not valid yet");
  c.audiences = Strings(claims.value("aud", Json()));
  c.id = StrAt(claims, "jti");
  const Json& k8s = claims.contains("kubernetes.io") ? claims["kubernetes.io"] : Json();
  c.ns = StrAt(k8s, "namespace");
  c.service_account = StrAt(k8s, "serviceaccount", "name");
  c.service_account_uid = StrAt(k8s, "serviceaccount", "uid");
  if (c.ns.empty() || c.service_account.empty() ||
      StrAt(claims, "sub") != "system:serviceaccount:" + c.ns + ":" + c.service_account)
    return bad("no service account");
  for (const char* kind : {"Pod", "Secret"}) {
    std::string key = kind == std::string("Pod") ? "pod" : "secret";
    if (k8s.is_object() && k8s.contains(key)) {
      c.bound_kind = kind;
      c.bound_name = StrAt(k8s, key.c_str(), "name");
      c.bound_uid = StrAt(k8s, key.c_str(), "uid");
    }
  }
  if (k8s.is_object() && k8s.contains("node")) {
    if (c.bound_kind.empty()) {
      c.bound_kind = "Node";
      c.bound_name = StrAt(k8s, "node", "name");
      c.bound_uid = StrAt(k8s, "node", "uid");
    } else {
      c.node_name = StrAt(k8s, "node", "name");
      c.node_uid = StrAt(k8s, "node", "uid");
    }
  }
  return c;
}

net::Identity ServiceAccountIdentity(const std::string& ns, const std::string& name) {
  net::Identity id;
  id.user = "system:serviceaccount:" + ns + ":" + name;
  id.groups = {"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"};
  return id;
}

namespace {

// The object named in a token, if it still exists with the uid the token names.
bool StillExists(ObjectStore* os, const char* resource, const std::string& ns, const std::string& name,
                 const std::string& uid) {
  auto k = os->kinds()->Find("", "v1", resource);
  if (!k || name.empty()) return false;
  auto obj = os->Get(*k, k->namespaced ? ns : "", name);
  if (!obj.ok()) return false;
  return uid.empty() || StrAt(*obj, "metadata", "uid") == uid;
}

Result<TokenClaims> CheckToken(ObjectStore* os, const TokenIssuer& issuer, const std::string& token,
                               const std::vector<std::string>& audiences) {
  BERTH_ASSIGN_OR_RETURN(TokenClaims c, issuer.Verify(token));
  bool aud_ok = false;
  for (const auto& want : audiences)
    for (const auto& have : c.audiences) aud_ok = aud_ok || want == have;
  if (!aud_ok) return Status(Code::kUnauthorized, "invalid token: token audiences do not match");
  if (!StillExists(os, "serviceaccounts", c.ns, c.service_account, c.service_account_uid))
    return Status(Code::kUnauthorized, "invalid token: service account " + c.ns + "/" + c.service_account +
                                           " is gone or was recreated");
  if (c.bound_kind == "Pod" && !StillExists(os, "pods", c.ns, c.bound_name, c.bound_uid))
    return Status(Code::kUnauthorized, "invalid token: pod " + c.ns + "/" + c.bound_name + " is gone");
  if (c.bound_kind == "Secret" && !StillExists(os, "secrets", c.ns, c.bound_name, c.bound_uid))
    return Status(Code::kUnauthorized, "invalid token: secret " + c.ns + "/" + c.bound_name + " is gone");
  if (c.bound_kind == "Node" && !StillExists(os, "nodes", "", c.bound_name, c.bound_uid))
    return Status(Code::kUnauthorized, "invalid token: node " + c.bound_name + " is gone");
  return c;
}

void ReplyJson(net::ResponseWriter& w, int code, const Json& body) {
  w.Reply(code, {{"Content-Type", "application/json"}}, body.dump());
}

Json UserInfo(const net::Identity& id) {
  return {{"username", id.user}, {"groups", id.groups}};
}

// POST .../serviceaccounts/NAME/token
void ServeTokenRequest(net::Request& r, net::ResponseWriter& w, ObjectStore* os, const TokenIssuer* issuer,
                       const std::string& ns, const std::string& name) {
  if (r.method != "POST")
    return ReplyStatus(w, Status(Code::kMethodNotAllowed, "the server does not allow this method on the requested resource"));
  auto sa_kind = os->kinds()->Find("", "v1", "serviceaccounts");
  auto sa = os->Get(*sa_kind, ns, name);
  if (!sa.ok()) return ReplyStatus(w, sa.status(), "", "serviceaccounts", name);
  auto body = DecodeRequestBody(r);
  if (!body.ok()) return ReplyStatus(w, body.status());
  Json req = *body;
  if (!req.is_object()) return ReplyStatus(w, BadRequest("the body must be a TokenRequest object"));
  std::string kind = StrAt(req, "kind");
  if (!kind.empty() && kind != "TokenRequest")
    return ReplyStatus(w, BadRequest("expected a TokenRequest, got a " + kind));
  Json spec = req.contains("spec") && req["spec"].is_object() ? req["spec"] : Json::object();
  std::vector<Cause> causes;
  int64_t exp = kDefaultExpirationSeconds;
  if (spec.contains("expirationSeconds") && !spec["expirationSeconds"].is_null()) {
    if (!spec["expirationSeconds"].is_number_integer()) {
      causes.push_back(InvalidValue("spec.expirationSeconds", spec["expirationSeconds"], "must be an integer"));
    } else {
      exp = spec["expirationSeconds"].get<int64_t>();
      if (exp < kMinExpirationSeconds)
        causes.push_back(InvalidValue("spec.expirationSeconds", exp, "may not specify a duration less than 10 minutes"));
      else if (exp > kMaxExpirationSeconds)
        causes.push_back(InvalidValue("spec.expirationSeconds", exp, "may not specify a duration larger than 2^32 seconds"));
    }
  }
  std::vector<std::string> audiences = Strings(spec.value("audiences", Json()));
  if (audiences.empty()) audiences = {kServiceAccountIssuer};
  TokenClaims c;
  c.ns = ns;
  c.service_account = name;
  c.service_account_uid = StrAt(*sa, "metadata", "uid");
  c.audiences = audiences;
  Json bound = spec.contains("boundObjectRef") && spec["boundObjectRef"].is_object() ? spec["boundObjectRef"]
                                                                                       : Json();
  if (bound.is_object()) {
    c.bound_kind = StrAt(bound, "kind");
    c.bound_name = StrAt(bound, "name");
    std::string want_uid = StrAt(bound, "uid");
    const char* resource = c.bound_kind == "Pod" ? "pods" : c.bound_kind == "Secret" ? "secrets"
                           : c.bound_kind == "Node" ? "nodes" : nullptr;
    if (resource == nullptr) {
      causes.push_back(NotSupported("spec.boundObjectRef.kind", c.bound_kind, {"Pod", "Secret", "Node"}));
    } else if (c.bound_name.empty()) {
      causes.push_back(Required("spec.boundObjectRef.name"));
    } else {
      auto k = os->kinds()->Find("", "v1", resource);
      auto obj = os->Get(*k, k->namespaced ? ns : "", c.bound_name);
      if (!obj.ok()) return ReplyStatus(w, obj.status(), "", resource, c.bound_name);
      c.bound_uid = StrAt(*obj, "metadata", "uid");
      if (!want_uid.empty() && want_uid != c.bound_uid)
        return ReplyStatus(w, Conflict("the UID in the bound object reference (" + want_uid +
                                       ") does not match the UID in record. The object might have been deleted "
                                       "and then recreated"));
      if (c.bound_kind == "Pod") {
        std::string node = StrAt(*obj, "spec", "nodeName");
        auto nk = os->kinds()->Find("", "v1", "nodes");
        auto n = node.empty() ? Result<Json>(NotFound("")) : os->Get(*nk, "", node);
        if (n.ok()) {
          c.node_name = node;
          c.node_uid = StrAt(*n, "metadata", "uid");
        }
      }
    }
  }
  if (!causes.empty()) {
    return ReplyStatus(w, InvalidStatus("TokenRequest", "authentication.k8s.io", name, std::move(causes)),
                       "authentication.k8s.io", "TokenRequest", name);
  }
  c.issued_at = c.not_before = NowSeconds();
  c.expires = c.issued_at + exp;
  c.id = NewUUID();
  spec["audiences"] = audiences;
  spec["expirationSeconds"] = exp;
  if (!spec.contains("boundObjectRef")) spec["boundObjectRef"] = nullptr;
  Json out = {{"kind", "TokenRequest"},
              {"apiVersion", "authentication.k8s.io/v1"},
              {"metadata", {{"name", name}, {"namespace", ns}, {"creationTimestamp", FormatRFC3339(c.issued_at)}}},
              {"spec", spec},
              {"status", {{"token", issuer->Sign(c)}, {"expirationTimestamp", FormatRFC3339(c.expires)}}}};
  ReplyJson(w, 201, out);
}

// POST /apis/authentication.k8s.io/v1/tokenreviews
void ServeTokenReview(net::Request& r, net::ResponseWriter& w, const net::TokenAuthenticator& authenticate,
                      ObjectStore* os, const TokenIssuer* issuer) {
  auto body = DecodeRequestBody(r);
  if (!body.ok()) return ReplyStatus(w, body.status());
  if (!body->is_object()) return ReplyStatus(w, BadRequest("the body must be a TokenReview object"));
  Json spec = body->contains("spec") && (*body)["spec"].is_object() ? (*body)["spec"] : Json::object();
  std::string token = StrAt(spec, "token");
  if (token.empty()) {
    return ReplyStatus(w,
                       InvalidStatus("TokenReview", "authentication.k8s.io", "",
                                     {Required("spec.token")}),
                       "authentication.k8s.io", "TokenReview");
  }
  std::vector<std::string> audiences = Strings(spec.value("audiences", Json()));
  Json status = {{"authenticated", false}};
  // A token of ours is checked against the audiences asked for; other tokens
  // (static ones) only when no particular audience is asked for.
  auto sa = CheckToken(os, *issuer, token, audiences.empty() ? std::vector<std::string>{kServiceAccountIssuer}
                                                             : audiences);
  std::optional<net::Identity> id;
  if (sa.ok()) {
    id = ServiceAccountIdentity(sa->ns, sa->service_account);
    status["audiences"] = audiences.empty() ? std::vector<std::string>{kServiceAccountIssuer} : audiences;
  } else if (audiences.empty()) {
    id = authenticate(token);
  }
  if (id) {
    status["authenticated"] = true;
    status["user"] = UserInfo(*id);
  } else {
    status["error"] = sa.ok() ? "invalid token" : sa.status().message();
  }
  Json out = {{"kind", "TokenReview"},
              {"apiVersion", "authentication.k8s.io/v1"},
              {"metadata", {{"creationTimestamp", nullptr}}},
              {"spec", spec},
              {"status", status}};
  ReplyJson(w, 201, out);
}

}  // namespace

std::optional<net::Identity> AuthenticateServiceAccountToken(ObjectStore* os, const TokenIssuer& issuer,
                                                             const std::string& token) {
  // Cheap test first: a JWT's header is base64url JSON, so it starts "eyJ".
  if (token.rfind("eyJ", 0) != 0) return std::nullopt;
  auto c = CheckToken(os, issuer, token, {kServiceAccountIssuer});
  if (!c.ok()) return std::nullopt;
  return ServiceAccountIdentity(c->ns, c->service_account);
}

void InstallAuthenticationApi(ApiServer* api, ObjectStore* os, const TokenIssuer* issuer,
                              net::TokenAuthenticator authenticate) {
  for (const char* kind : {"TokenReview", "SelfSubjectReview"}) {
    KindInfo k;
    k.group = "authentication.k8s.io";
    k.version = "v1";
    k.kind = kind;
    k.resource = kind == std::string("TokenReview") ? "tokenreviews" : "selfsubjectreviews";
    k.singular = kind == std::string("TokenReview") ? "tokenreview" : "selfsubjectreview";
    k.list_kind = k.kind + "List";
    k.namespaced = false;
    k.verbs = {"create"};
    os->kinds()->Register(k);
  }
  api->HandleSubresource("", "serviceaccounts", "token",
                         [os, issuer](net::Request& r, net::ResponseWriter& w, const std::string& ns,
                                      const std::string& name) { ServeTokenRequest(r, w, os, issuer, ns, name); });
  api->HandleResource("authentication.k8s.io", "v1", "tokenreviews",
                      [os, issuer, authenticate](net::Request& r, net::ResponseWriter& w, const std::string&,
                                                 const std::string&) {
                        ServeTokenReview(r, w, authenticate, os, issuer);
                      });
  api->HandleResource("authentication.k8s.io", "v1", "selfsubjectreviews",
                      [](net::Request& r, net::ResponseWriter& w, const std::string&, const std::string&) {
                        auto body = DecodeRequestBody(r);
                        if (!body.ok()) return ReplyStatus(w, body.status());
                        Json out = {{"kind", "SelfSubjectReview"},
                                    {"apiVersion", "authentication.k8s.io/v1"},
                                    {"metadata", {{"creationTimestamp", FormatRFC3339(NowSeconds())}}},
                                    {"status", {{"userInfo", UserInfo(r.identity)}}}};
                        ReplyJson(w, 201, out);
                      });
}

void MountOidcDiscovery(net::Router& router, const TokenIssuer* issuer, std::function<std::string()> external_url) {
  router.Handle("/.well-known/openid-configuration", [external_url](net::Request&, net::ResponseWriter& w) {
    Json config = {{"issuer", kServiceAccountIssuer},
                   {"jwks_uri", external_url() + "/openid/v1/jwks"},
                   {"response_types_supported", {"id_token"}},
                   {"subject_types_supported", {"public"}},
                   {"id_token_signing_alg_values_supported", {"ES256"}}};
    w.Reply(200, {{"Content-Type", "application/json"}}, config.dump());
  });
  std::string jwks = issuer->Jwks();
  router.Handle("/openid/v1/jwks", [jwks](net::Request&, net::ResponseWriter& w) {
    w.Reply(200, {{"Content-Type", "application/jwk-set+json"}}, jwks);
  });
}

}  // namespace berth::api
