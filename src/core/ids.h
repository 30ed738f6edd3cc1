// Identifiers, encodings and digests shared by every module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace berth {

// Random RFC 4122 version-4 UUID, lower case.
std::string NewUUID();
// n random characters from [bcdfghjklmnpqrstvwxz2456789], the alphabet
// Kubernetes uses for generateName suffixes and pod-template hashes.
std::string RandomSuffix(size_t n);
// Cryptographically random bytes.
std::string RandomBytes(size_t n);

std::string Base64Encode(std::string_view in);
std::optional<std::string> Base64Decode(std::string_view in);
std::string HexEncode(std::string_view in);

std::string Sha256Hex(std::string_view in);
// 32-bit FNV-1a, as Kubernetes' ComputeHash uses for pod-template-hash.
uint32_t Fnv32a(std::string_view in);
// Encodes a 32-bit value with the suffix alphabet (k8s rand.SafeEncodeString).
std::string SafeEncode(uint32_t v);

}  // namespace berth
