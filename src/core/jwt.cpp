#include "core/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/ids.h"

namespace berth {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string BnBytes(const BIGNUM* bn, int width) {
  std::string out(static_cast<size_t>(width), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), width);
  return out;
}

Result<PkeyPtr> LoadKey(const std::string& pem, const std::string& path) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC || EVP_PKEY_get_bits(key.get()) != 256)
    return Internal(path + " is not a PEM P-256 private key");
  return key;
}

Result<std::string> NewKeyPem() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Internal("cannot generate a P-256 key");
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return Internal("cannot encode a P-256 key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

std::string Base64UrlEncode(std::string_view in) {
  std::string s = Base64Encode(in);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return s;
}

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  if (in.find_first_of("+/=") != std::string_view::npos) return std::nullopt;
  std::string s(in);
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4 != 0) s.push_back('=');
  return Base64Decode(s);
}

struct JwtSigner::Impl {
  PkeyPtr key;
  std::string kid;
  std::string jwk_x, jwk_y;

  std::string SignBytes(std::string_view data) const {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    size_t len = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
      return "";
    std::string der(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
      return "";
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<ECDSA_SIG, SigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
    if (!sig) return "";
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(sig.get(), &r, &s);
    // JWS carries ECDSA signatures as the raw 32-byte r and s (RFC 7518 §3.4).
    return BnBytes(r, 32) + BnBytes(s, 32);
  }

  bool VerifyBytes(std::string_view data, std::string_view raw) const {
    if (raw.size() != 64) return false;
    std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data() + 32), 32, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    unsigned char* der = nullptr;
    int der_len = i2d_ECDSA_SIG(sig.get(), &der);
    if (der_len <= 0) return false;
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    bool ok = EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
              EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_len),
                               reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    OPENSSL_free(der);
    return ok;
  }
};

JwtSigner::JwtSigner() : impl_(std::make_unique<Impl>()) {}
JwtSigner::~JwtSigner() = default;

Result<std::unique_ptr<JwtSigner>> JwtSigner::LoadOrCreate(const std::string& key_path) {
  auto pem = ReadFile(key_path);
  if (!pem.ok()) {
    if (pem.status().code() != Code::kNotFound) return pem.status();
    BERTH_ASSIGN_OR_RETURN(std::string fresh, NewKeyPem());
    BERTH_RETURN_IF_ERROR(WriteFileAtomic(key_path, fresh, 0600));
    pem = std::move(fresh);
  }
  std::unique_ptr<JwtSigner> t(new JwtSigner());
  BERTH_ASSIGN_OR_RETURN(t->impl_->key, LoadKey(*pem, key_path));
  EVP_PKEY* k = t->impl_->key.get();
  unsigned char* der = nullptr;
  int der_len = i2d_PUBKEY(k, &der);
  if (der_len <= 0) return Internal("cannot encode the public key of " + key_path);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(der_len), digest);
  OPENSSL_free(der);
  t->impl_->kid = Base64UrlEncode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
      EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
    BN_free(x);
    BN_free(y);
    return Internal("cannot read the public key of " + key_path);
  }
  std::unique_ptr<BIGNUM, BnFree> xp(x), yp(y);
  t->impl_->jwk_x = Base64UrlEncode(BnBytes(x, 32));
  t->impl_->jwk_y = Base64UrlEncode(BnBytes(y, 32));
  return t;
}

const std::string& JwtSigner::key_id() const { return impl_->kid; }

Json JwtSigner::Jwk() const {
  return Json{{"use", "sig"}, {"kty", "EC"},          {"kid", impl_->kid},  {"crv", "P-256"},
              {"alg", "ES256"}, {"x", impl_->jwk_x}, {"y", impl_->jwk_y}};
}

std::string JwtSigner::Sign(const Json& claims, std::string_view typ) const {
  Json header = {{"alg", "ES256"}, {"kid", impl_->kid}};
  if (!typ.empty()) header["typ"] = typ;
  std::string signing_input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  return signing_input + "." + Base64UrlEncode(impl_->SignBytes(signing_input));
}

Result<Json> JwtSigner::Verify(std::string_view token) const {
  auto bad = [](const char* why) { return Status(Code::kUnauthorized, std::string("invalid token: ") + why); };
  size_t a = token.find('.');
  size_t b = a == std::string::npos ? a : token.find('.', a + 1);
  if (b == std::string::npos || token.find('.', b + 1) != std::string::npos) return bad("not a JWT");
  auto header_raw = Base64UrlDecode(token.substr(0, a));
  auto claims_raw = Base64UrlDecode(token.substr(a + 1, b - a - 1));
  auto sig = Base64UrlDecode(token.substr(b + 1));
  if (!header_raw || !claims_raw || !sig) return bad("not base64url");
  Json header = Json::parse(*header_raw, nullptr, false);
  Json claims = Json::parse(*claims_raw, nullptr, false);
  if (!header.is_object() || !claims.is_object()) return bad("not JSON");
  auto str = [&header](const char* k) {
    return header.contains(k) && header[k].is_string() ? header[k].get<std::string>() : std::string();
  };
  if (str("alg") != "ES256" || str("kid") != impl_->kid) return bad("unknown key");
  if (!impl_->VerifyBytes(token.substr(0, b), *sig)) return bad("bad signature");
  return claims;
}

}  // namespace berth
