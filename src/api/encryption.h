// Encryption at rest for values of sensitive kinds (Secrets): AES-256-GCM with
// a random 96-bit nonce per value. Stored form:
//   "k8s:enc:aesgcm:v1:<keyname>:" + nonce(12) + ciphertext + tag(16)
// like the apiserver's aesgcm provider, so the layout is familiar to operators.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace berth::api {

class Encryptor {
 public:
  // Loads the 32-byte key from `path`, creating it (mode 0600) when absent.
  static Result<std::unique_ptr<Encryptor>> LoadOrCreate(const std::string& path);
  explicit Encryptor(std::string key) : key_(std::move(key)) {}

  std::string Encrypt(std::string_view plain) const;
  // Values without the prefix are returned as they are (written before
  // encryption was enabled).
  Result<std::string> Decrypt(std::string_view stored) const;
  static bool IsEncrypted(std::string_view stored);

 private:
  std::string key_;
};

}  // namespace berth::api
