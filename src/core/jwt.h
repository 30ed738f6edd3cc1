// ES256 JSON Web Tokens (RFC 7519 with RFC 7518's ECDSA P-256 / SHA-256): the
// signing key on disk, signing a claims object and checking a token's form and
// signature. What the claims must say (issuer, audience, lifetime) is the
// caller's to check: the service-account issuer and the registry's token
// service each have their own rules.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/json.h"
#include "core/status.h"

namespace berth {

std::string Base64UrlEncode(std::string_view in);
// nullopt unless `in` is unpadded base64url.
std::optional<std::string> Base64UrlDecode(std::string_view in);

class JwtSigner {
 public:
  // Loads the PEM P-256 private key at `key_path`, creating it (0600) on first use.
  static Result<std::unique_ptr<JwtSigner>> LoadOrCreate(const std::string& key_path);
  ~JwtSigner();

  // header {"alg":"ES256","kid":...[,"typ":typ]} . claims . signature
  std::string Sign(const Json& claims, std::string_view typ = "") const;
  // The claims of a token with this key's kid and a valid signature;
  // Unauthorized "invalid token: WHY" otherwise.
  Result<Json> Verify(std::string_view token) const;
  // The public key as a JWK (kty EC, crv P-256, kid, x, y, alg, use).
  Json Jwk() const;
  // base64url(SHA-256(DER public key)), as kube-apiserver derives key ids.
  const std::string& key_id() const;

 private:
  JwtSigner();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth
