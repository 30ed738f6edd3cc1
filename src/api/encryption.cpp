#include "api/encryption.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/ids.h"

namespace berth::api {
namespace {
constexpr std::string_view kPrefix = "k8s:enc:aesgcm:v1:key1:";

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;
}  // namespace

Result<std::unique_ptr<Encryptor>> Encryptor::LoadOrCreate(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    std::string k = ss.str();
    if (k.size() != 32) return Internal("encryption key " + path + " is not 32 bytes");
    return std::make_unique<Encryptor>(k);
  }
  std::string k = RandomBytes(32);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("cannot create " + tmp);
  bool ok = ::write(fd, k.data(), k.size()) == static_cast<ssize_t>(k.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) return Internal("cannot write " + path);
  return std::make_unique<Encryptor>(k);
}

bool Encryptor::IsEncrypted(std::string_view stored) {
  return stored.substr(0, kPrefix.size()) == kPrefix;
}

std::string Encryptor::Encrypt(std::string_view plain) const {
  std::string nonce = RandomBytes(12);
  Ctx ctx(EVP_CIPHER_CTX_new());
  std::string out(kPrefix);
  out += nonce;
  std::string ct(plain.size(), '\0');
  int len = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(key_.data()),
                     reinterpret_cast<const unsigned char*>(nonce.data()));
  EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(ct.data()), &len,
                    reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  int fin = 0;
  EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(ct.data()) + len, &fin);
  unsigned char tag[16];
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag);
  out += ct;
  out.append(reinterpret_cast<char*>(tag), 16);
  return out;
}

Result<std::string> Encryptor::Decrypt(std::string_view stored) const {
  if (!IsEncrypted(stored)) return std::string(stored);
  std::string_view body = stored.substr(kPrefix.size());
  if (body.size() < 28) return Internal("encrypted value is truncated");
  std::string_view nonce = body.substr(0, 12);
  std::string_view ct = body.substr(12, body.size() - 28);
  std::string tag(body.substr(body.size() - 16));
  Ctx ctx(EVP_CIPHER_CTX_new());
  std::string out(ct.size(), '\0');
  int len = 0;
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                     reinterpret_cast<const unsigned char*>(key_.data()),
                     reinterpret_cast<const unsigned char*>(nonce.data()));
  EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                    reinterpret_cast<const unsigned char*>(ct.data()), static_cast<int>(ct.size()));
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data());
  int fin = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &fin) != 1)
    return Internal("stored value failed authentication (wrong key or corrupted)");
  return out;
}

}  // namespace berth::api
