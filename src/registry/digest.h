// Content digests as the OCI image specification defines them:
// "algorithm:encoded", with sha256 (64 hex) and sha512 (128 hex) registered.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace berth::registry {

struct Digest {
  std::string algorithm;  // "sha256" or "sha512"
  std::string hex;        // lower-case hex
  std::string str() const { return algorithm + ":" + hex; }
};

// Parses and validates a digest. Invalid: wrong form, an algorithm other than
// sha256/sha512 (BadRequest), or an encoded part of the wrong length or case.
Result<Digest> ParseDigest(std::string_view s);

// Incremental hashing for one algorithm.
class Hasher {
 public:
  explicit Hasher(std::string_view algorithm);  // "sha256" or "sha512"
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  void Update(std::string_view data);
  // The hex digest; the hasher is spent afterwards.
  std::string Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "algorithm:hex" of data.
std::string DigestOf(std::string_view data, std::string_view algorithm = "sha256");

}  // namespace berth::registry
