#include "core/json.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace berth {

Result<Json> ParseJson(std::string_view text) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    // parse_error for syntax, out_of_range for numbers such as 9e+800.
    return BadRequest(std::string("invalid JSON: ") + e.what());
  }
}

namespace {

Json ScalarToJson(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str") return s;  // quoted
  if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  // Integers (decimal, 0x hex, 0o octal) and floats per the YAML 1.2 core schema.
  char* end = nullptr;
  if (!s.empty() && (isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '+')) {
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (end && *end == '\0' && errno == 0) return v;
    double d = std::strtod(s.c_str(), &end);
    if (end && *end == '\0' && std::isfinite(d) && s.find_first_of(".eE") != std::string::npos)
      return d;
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    errno = 0;
    long long v = std::strtoll(s.c_str() + 2, &end, s[1] == 'x' ? 16 : 8);
    if (end && *end == '\0' && errno == 0) return v;
  }
  return s;
}

Result<Json> NodeToJson(const YAML::Node& n, int depth) {
  if (depth > 200) return BadRequest("YAML nesting too deep");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return Json(nullptr);
    case YAML::NodeType::Scalar:
      return ScalarToJson(n);
    case YAML::NodeType::Sequence: {
      Json a = Json::array();
      for (const auto& e : n) {
        auto v = NodeToJson(e, depth + 1);
        if (!v.ok()) return v;
        a.push_back(std::move(v).value());
      }
      return a;
    }
    case YAML::NodeType::Map: {
      Json o = Json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) return BadRequest("YAML map keys must be scalars");
        auto v = NodeToJson(kv.second, depth + 1);
        if (!v.ok()) return v;
        o[kv.first.Scalar()] = std::move(v).value();
      }
      return o;
    }
  }
  return Json(nullptr);
}

}  // namespace

Result<Json> ParseYamlOrJson(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (i < text.size() && (text[i] == '{' || text[i] == '[')) {
    auto j = ParseJson(text);
    if (j.ok()) return j;
  }
  try {
    YAML::Node n = YAML::Load(std::string(text));
    return NodeToJson(n, 0);
  } catch (const YAML::Exception& e) {
    return BadRequest(std::string("invalid YAML: ") + e.what());
  }
}

}  // namespace berth
