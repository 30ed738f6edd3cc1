// Internal to node/, included only by .cpp files (it pulls in nlohmann/json).
// Null-safe reads of API objects for node/ code: a missing or mistyped field
// gives the default instead of an exception (objects come from the network).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/json.h"

namespace berth::node {

inline const Json& At(const Json& j, const char* k) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(k);
  return it == j.end() ? kNull : *it;
}

inline std::string Str(const Json& j, const char* k, const std::string& def = "") {
  const Json& v = At(j, k);
  return v.is_string() ? v.get<std::string>() : def;
}

inline int64_t Int(const Json& j, const char* k, int64_t def) {
  const Json& v = At(j, k);
  return v.is_number_integer() ? v.get<int64_t>() : def;
}

}  // namespace berth::node
