#include "registry/digest.h"

#include <openssl/evp.h>

#include "core/ids.h"

namespace berth::registry {

Result<Digest> ParseDigest(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return Invalid("invalid digest \"" + std::string(s) + "\": expected algorithm:encoded");
  Digest d{std::string(s.substr(0, colon)), std::string(s.substr(colon + 1))};
  size_t want = 0;
  if (d.algorithm == "sha256") want = 64;
  if (d.algorithm == "sha512") want = 128;
  if (want == 0) {
    for (char c : d.algorithm)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '.' || c == '_' || c == '-'))
        return Invalid("invalid digest \"" + std::string(s) + "\": bad algorithm");
    return BadRequest("unsupported digest algorithm \"" + d.algorithm + "\"");
  }
  if (d.hex.size() != want)
    return Invalid("invalid digest \"" + std::string(s) + "\": " + d.algorithm + " needs " +
                   std::to_string(want) + " hex characters");
  for (char c : d.hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return Invalid("invalid digest \"" + std::string(s) + "\": not lower-case hex");
  return d;
}

struct Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(std::string_view algorithm) : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(impl_->ctx, algorithm == "sha512" ? EVP_sha512() : EVP_sha256(), nullptr);
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::Update(std::string_view data) { EVP_DigestUpdate(impl_->ctx, data.data(), data.size()); }

std::string Hasher::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &n);
  return HexEncode(std::string_view(reinterpret_cast<char*>(md), n));
}

std::string DigestOf(std::string_view data, std::string_view algorithm) {
  Hasher h(algorithm);
  h.Update(data);
  return std::string(algorithm) + ":" + h.Finish();
}

}  // namespace berth::registry
