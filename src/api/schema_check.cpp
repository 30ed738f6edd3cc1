#include "api/schema_check.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>

#include "api/validation.h"

namespace berth::api {
namespace {

constexpr int kMaxDepth = 64;

// Follows $ref and single-element allOf wrappers (how Kubernetes documents
// embed references next to a description).
const Json* Resolve(const Json* s, const SchemaRegistry& reg, std::shared_ptr<const Json>& hold) {
  for (int i = 0; i < 16 && s; ++i) {
    if (s->contains("$ref") && (*s)["$ref"].is_string()) {
      std::string ref = (*s)["$ref"];
      auto pos = ref.rfind('/');
      hold = reg.Get(pos == std::string::npos ? ref : ref.substr(pos + 1));
      s = hold.get();
      continue;
    }
    if (s->contains("allOf") && (*s)["allOf"].is_array() && (*s)["allOf"].size() == 1 &&
        !s->contains("properties") && !s->contains("type")) {
      s = &(*s)["allOf"][0];
      continue;
    }
    break;
  }
  return s;
}

bool PreservesUnknown(const Json& s) {
  auto it = s.find("x-kubernetes-preserve-unknown-fields");
  return it != s.end() && it->is_boolean() && it->get<bool>();
}

bool IsEmbedded(const Json& s) {
  auto it = s.find("x-kubernetes-embedded-resource");
  return it != s.end() && it->is_boolean() && it->get<bool>();
}

void Unknown(Json& obj, const Json* schema, const SchemaRegistry& reg, const std::string& path,
             std::vector<std::string>& out, bool prune, int depth) {
  if (depth > kMaxDepth || !schema) return;
  std::shared_ptr<const Json> hold;
  const Json* s = Resolve(schema, reg, hold);
  if (!s || s->is_null()) return;
  if (obj.is_object()) {
    auto props = s->find("properties");
    auto addl = s->find("additionalProperties");
    bool has_props = props != s->end() && props->is_object();
    if (addl != s->end() && addl->is_object()) {
      for (auto it = obj.begin(); it != obj.end(); ++it)
        Unknown(it.value(), &*addl, reg, path + (path.empty() ? "" : ".") + it.key(), out, prune,
                depth + 1);
      return;
    }
    if (!has_props) return;  // free-form object (or preserve-unknown-fields)
    std::vector<std::string> drop;
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      std::string p = path + (path.empty() ? "" : ".") + it.key();
      auto ps = props->find(it.key());
      if (ps == props->end()) {
        bool meta = depth == 0 && (it.key() == "apiVersion" || it.key() == "kind" || it.key() == "metadata");
        if (PreservesUnknown(*s) || meta || (IsEmbedded(*s) && (it.key() == "apiVersion" || it.key() == "kind" || it.key() == "metadata")))
          continue;
        out.push_back(p);
        drop.push_back(it.key());
        continue;
      }
      Unknown(it.value(), &*ps, reg, p, out, prune, depth + 1);
    }
    if (prune)
      for (const auto& k : drop) obj.erase(k);
  } else if (obj.is_array()) {
    auto items = s->find("items");
    if (items == s->end()) return;
    for (size_t i = 0; i < obj.size(); ++i)
      Unknown(obj[i], &*items, reg, path + "[" + std::to_string(i) + "]", out, prune, depth + 1);
  }
}

std::string TypeOf(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

void Validate(const Json& v, const Json* schema, const SchemaRegistry& reg, const std::string& path,
              std::vector<Cause>& causes, int depth) {
  if (depth > kMaxDepth || !schema) return;
  std::shared_ptr<const Json> hold;
  const Json* s = Resolve(schema, reg, hold);
  if (!s || !s->is_object()) return;
  const std::string field = path.empty() ? "<root>" : path;
  if (v.is_null()) {
    if (s->value("nullable", false) || s->empty() || PreservesUnknown(*s)) return;
    if (s->contains("type")) causes.push_back(InvalidValue(field, "null", "must be " + (*s)["type"].get<std::string>() ));
    return;
  }
  if (s->value("x-kubernetes-int-or-string", false)) {
    if (!v.is_string() && !v.is_number_integer() && !v.is_number_unsigned())
      causes.push_back(InvalidValue(field, TypeOf(v), "must be an integer or a string"));
    return;
  }
  if (s->contains("type") && (*s)["type"].is_string()) {
    std::string want = (*s)["type"];
    std::string got = TypeOf(v);
    bool ok = want == got || (want == "number" && got == "integer") ||
              (want == "integer" && got == "number" && std::floor(v.get<double>()) == v.get<double>());
    if (!ok) {
      Cause c;
      c.reason = "FieldValueTypeInvalid";
      c.field = field;
      c.message = "Invalid value: \"" + got + "\": " + field + " in body must be of type " + want + ": \"" + got + "\"";
      causes.push_back(c);
      return;
    }
  }
  if (s->contains("enum") && (*s)["enum"].is_array()) {
    bool found = false;
    std::vector<std::string> allowed;
    for (const auto& e : (*s)["enum"]) {
      if (e == v) found = true;
      allowed.push_back(e.is_string() ? e.get<std::string>() : e.dump());
    }
    if (!found) causes.push_back(NotSupported(field, v, allowed));
  }
  if (v.is_string()) {
    const std::string& str = v.get_ref<const std::string&>();
    if (s->contains("maxLength") && str.size() > (*s)["maxLength"].get<size_t>())
      causes.push_back(TooLong(field, (*s)["maxLength"].get<size_t>()));
    if (s->contains("minLength") && str.size() < (*s)["minLength"].get<size_t>())
      causes.push_back(InvalidValue(field, v, field + " in body should be at least " +
                                                  std::to_string((*s)["minLength"].get<size_t>()) + " chars long"));
    if (s->contains("pattern") && (*s)["pattern"].is_string()) {
      try {
        std::regex re((*s)["pattern"].get<std::string>(), std::regex::ECMAScript);
        if (!std::regex_search(str, re))
          causes.push_back(InvalidValue(field, v, field + " in body should match '" +
                                                      (*s)["pattern"].get<std::string>() + "'"));
      } catch (const std::regex_error&) {
      }
    }
  }
  if (v.is_number()) {
    double d = v.get<double>();
    if (s->contains("minimum") && d < (*s)["minimum"].get<double>())
      causes.push_back(InvalidValue(field, v, field + " in body should be greater than or equal to " + (*s)["minimum"].dump()));
    if (s->contains("maximum") && d > (*s)["maximum"].get<double>())
      causes.push_back(InvalidValue(field, v, field + " in body should be less than or equal to " + (*s)["maximum"].dump()));
  }
  if (v.is_array()) {
    if (s->contains("maxItems") && v.size() > (*s)["maxItems"].get<size_t>())
      causes.push_back(TooLong(field, (*s)["maxItems"].get<size_t>()));
    if (s->contains("minItems") && v.size() < (*s)["minItems"].get<size_t>())
      causes.push_back(InvalidValue(field, v.size(), field + " in body should have at least " + (*s)["minItems"].dump() + " items"));
    if (s->contains("items"))
      for (size_t i = 0; i < v.size(); ++i)
        Validate(v[i], &(*s)["items"], reg, path + "[" + std::to_string(i) + "]", causes, depth + 1);
  }
  if (v.is_object()) {
    if (s->contains("required") && (*s)["required"].is_array())
      for (const auto& r : (*s)["required"])
        if (r.is_string() && !v.contains(r.get<std::string>()))
          causes.push_back(Required((path.empty() ? "" : path + ".") + r.get<std::string>()));
    auto props = s->find("properties");
    auto addl = s->find("additionalProperties");
    for (auto it = v.begin(); it != v.end(); ++it) {
      std::string p = path + (path.empty() ? "" : ".") + it.key();
      if (props != s->end() && props->is_object() && props->contains(it.key()))
        Validate(it.value(), &(*props)[it.key()], reg, p, causes, depth + 1);
      else if (addl != s->end() && addl->is_object())
        Validate(it.value(), &*addl, reg, p, causes, depth + 1);
    }
  }
}

}  // namespace

void FindUnknownFields(Json& obj, const Json& schema, const SchemaRegistry& reg,
                       std::vector<std::string>& unknown, bool prune) {
  Unknown(obj, &schema, reg, "", unknown, prune, 0);
}

void ValidateSchema(const Json& obj, const Json& schema, const SchemaRegistry& reg,
                    std::vector<Cause>& causes) {
  Validate(obj, &schema, reg, "", causes, 0);
}

}  // namespace berth::api
