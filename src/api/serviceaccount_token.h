// Service-account tokens: Berth's token issuer (signed JWTs, ES256, in the
// form kube-apiserver issues them), the TokenRequest subresource
// (serviceaccounts/NAME/token, what `kubectl create token` and the node agent
// call), TokenReview and SelfSubjectReview (`kubectl auth whoami`), the
// OpenID discovery documents, and the authenticator that accepts these tokens
// as long as the service account (and the pod, secret or node the token is
// bound to) still exists with the same uid.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/apiserver.h"
#include "api/objects.h"
#include "core/status.h"
#include "net/http.h"
#include "net/server.h"

namespace berth::api {

// The issuer and default audience of every token Berth signs, as a cluster
// configured with --service-account-issuer=https://kubernetes.default.svc.cluster.local.
inline constexpr const char* kServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local";

struct TokenClaims {
  std::string ns, service_account, service_account_uid;
  std::string bound_kind, bound_name, bound_uid;  // Pod, Secret or Node; empty when unbound
  std::string node_name, node_uid;                // the node of a bound pod
  std::vector<std::string> audiences;
  int64_t issued_at = 0, not_before = 0, expires = 0;  // unix seconds
  std::string id;                                      // jti
};

class TokenIssuer {
 public:
  // Loads the P-256 signing key at `key_path`, creating it (0600) on first use.
  static Result<std::unique_ptr<TokenIssuer>> LoadOrCreate(const std::string& key_path);
  ~TokenIssuer();

  std::string Sign(const TokenClaims& c) const;
  // Checks form, algorithm, key id, signature, issuer and the time window
  // (60 s of leeway); not whether the objects still exist.
  Result<TokenClaims> Verify(const std::string& token) const;
  // {"keys": [JWK]}: the public key, for /openid/v1/jwks.
  std::string Jwks() const;
  const std::string& key_id() const;

 private:
  TokenIssuer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The identity of a service account: system:serviceaccount:NS:NAME in the
// groups system:serviceaccounts, system:serviceaccounts:NS and system:authenticated.
net::Identity ServiceAccountIdentity(const std::string& ns, const std::string& name);

// Authenticates a bearer token Berth signed: nullopt unless the signature,
// times and audience check out and every object named in it still exists.
std::optional<net::Identity> AuthenticateServiceAccountToken(ObjectStore* os, const TokenIssuer& issuer,
                                                             const std::string& token);

// Serves serviceaccounts/token, authentication.k8s.io/v1 tokenreviews and
// selfsubjectreviews. `authenticate` is the server's whole token chain (for
// TokenReview). Call before serving.
void InstallAuthenticationApi(ApiServer* api, ObjectStore* os, const TokenIssuer* issuer,
                              net::TokenAuthenticator authenticate);

// /.well-known/openid-configuration and /openid/v1/jwks (authenticated, as
// kube-apiserver serves them to system:service-account-issuer-discovery).
// `external_url` gives https://HOST:PORT once the server is listening.
void MountOidcDiscovery(net::Router& router, const TokenIssuer* issuer, std::function<std::string()> external_url);

}  // namespace berth::api
