#include "core/ids.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

namespace berth {
namespace {
constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}

std::string NewUUID() {
  std::string b = RandomBytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  std::string h = HexEncode(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

std::string RandomSuffix(size_t n) {
  std::string b = RandomBytes(n);
  std::string out;
  for (unsigned char c : b) out += kAlphabet[c % (sizeof(kAlphabet) - 1)];
  return out;
}

std::string SafeEncode(uint32_t v) {
  std::string s = std::to_string(v);
  for (char& c : s) c = kAlphabet[static_cast<unsigned char>(c) % (sizeof(kAlphabet) - 1)];
  return s;
}

std::string Base64Encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  struct Table {
    int8_t v[256];
    Table() {
      for (auto& x : v) x = -1;
      const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      for (int i = 0; i < 64; ++i) v[static_cast<unsigned char>(a[i])] = static_cast<int8_t>(i);
    }
  };
  static const Table kTable;
  const int8_t* table = kTable.v;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char ch : in) {
    if (ch == '=') {
      ++pad;
      continue;
    }
    if (ch == '\n' || ch == '\r') continue;
    if (pad) return std::nullopt;
    int8_t v = table[static_cast<unsigned char>(ch)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (pad > 2) return std::nullopt;
  return out;
}

std::string HexEncode(std::string_view in) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(in.size() * 2);
  for (unsigned char c : in) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view in) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(in.data()), in.size(), md);
  return HexEncode(std::string_view(reinterpret_cast<char*>(md), sizeof md));
}

uint32_t Fnv32a(std::string_view in) {
  uint32_t h = 2166136261u;
  for (unsigned char c : in) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

}  // namespace berth
