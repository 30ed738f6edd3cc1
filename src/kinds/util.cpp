// Helpers for kind files; see util.h. Formatting follows kubectl's printers
// (pkg/printers/internalversion) and apimachinery's label helpers.
#include "kinds/util.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "core/time.h"

namespace berth::kinds {

const Json* At(const Json& obj, std::initializer_list<std::string_view> path) {
  const Json* cur = &obj;
  for (auto k : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(k);
    if (it == cur->end() || it->is_null()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::string Str(const Json& obj, std::initializer_list<std::string_view> path,
                const std::string& def) {
  const Json* v = At(obj, path);
  return v && v->is_string() ? v->get<std::string>() : def;
}

int64_t Int(const Json& obj, std::initializer_list<std::string_view> path, int64_t def) {
  const Json* v = At(obj, path);
  if (v && v->is_number_integer()) return v->get<int64_t>();
  if (v && v->is_number()) return static_cast<int64_t>(v->get<double>());
  return def;
}

bool Bool(const Json& obj, std::initializer_list<std::string_view> path, bool def) {
  const Json* v = At(obj, path);
  return v && v->is_boolean() ? v->get<bool>() : def;
}

bool Has(const Json& obj, std::initializer_list<std::string_view> path) {
  return At(obj, path) != nullptr;
}

Json& Obj(Json& obj, std::initializer_list<std::string_view> path) {
  Json* cur = &obj;
  if (!cur->is_object()) *cur = Json::object();
  for (auto k : path) {
    Json& next = (*cur)[std::string(k)];
    if (!next.is_object()) next = Json::object();
    cur = &next;
  }
  return *cur;
}

void SetDefault(Json& obj, const std::string& key, const Json& value) {
  if (!obj.is_object()) return;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) obj[key] = value;
}

void ForEach(Json& obj, const char* key, const std::function<void(Json&)>& fn) {
  if (!obj.is_object()) return;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return;
  for (auto& e : *it) fn(e);
}

std::string AgeOf(const Json& obj, std::initializer_list<std::string_view> path) {
  const Json* v = At(obj, path);
  if (!v || !v->is_string()) return "<unknown>";
  auto t = ParseRFC3339(v->get<std::string>());
  if (!t) return "<unknown>";
  return HumanDuration(NowSeconds() - *t);
}

std::string Age(const Json& obj) { return AgeOf(obj, {"metadata", "creationTimestamp"}); }

std::string FormatLabels(const Json* labels) {
  if (!labels || !labels->is_object() || labels->empty()) return "<none>";
  std::string out;
  for (const auto& [k, v] : labels->items()) {
    if (!out.empty()) out += ",";
    out += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

std::string FormatSelector(const Json* sel) {
  if (!sel || !sel->is_object()) return "<none>";
  std::vector<std::string> parts;
  if (const Json* ml = At(*sel, {"matchLabels"}); ml && ml->is_object())
    for (const auto& [k, v] : ml->items())
      parts.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
  if (const Json* me = At(*sel, {"matchExpressions"}); me && me->is_array()) {
    for (const auto& r : *me) {
      std::string key = Str(r, {"key"}), op = Str(r, {"operator"});
      std::string vals;
      if (const Json* vs = At(r, {"values"}); vs && vs->is_array())
        for (const auto& v : *vs) vals += (vals.empty() ? "" : ",") + v.get<std::string>();
      if (op == "In")
        parts.push_back(key + " in (" + vals + ")");
      else if (op == "NotIn")
        parts.push_back(key + " notin (" + vals + ")");
      else if (op == "Exists")
        parts.push_back(key);
      else if (op == "DoesNotExist")
        parts.push_back("!" + key);
    }
  }
  if (parts.empty()) return "<none>";
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

namespace {
std::string JoinContainers(const Json* spec, const char* field) {
  std::string out;
  if (!spec) return out;
  if (const Json* cs = At(*spec, {"containers"}); cs && cs->is_array())
    for (const auto& c : *cs) out += (out.empty() ? "" : ",") + Str(c, {field});
  return out;
}
}  // namespace

std::string ContainerNames(const Json* spec) { return JoinContainers(spec, "name"); }
std::string ContainerImages(const Json* spec) { return JoinContainers(spec, "image"); }

std::string Ratio(int64_t a, int64_t b) { return std::to_string(a) + "/" + std::to_string(b); }

api::TableColumn Column(std::string name, std::function<Json(const Json&)> cell, int priority,
                        std::string type, std::string description) {
  api::TableColumn c;
  c.name = std::move(name);
  c.type = std::move(type);
  c.priority = priority;
  c.description = std::move(description);
  c.cell = std::move(cell);
  return c;
}

namespace {
const Json* AtPath(const Json& o, const std::vector<std::string>& path) {
  const Json* cur = &o;
  for (const auto& k : path) {
    if (!cur->is_object() || !cur->contains(k)) return nullptr;
    cur = &(*cur)[k];
  }
  return cur;
}
}  // namespace

api::TableColumn IntColumn(std::string name, std::vector<std::string> path, int priority,
                           std::string description) {
  return Column(
      std::move(name),
      [path = std::move(path)](const Json& o) -> Json {
        const Json* v = AtPath(o, path);
        return v && v->is_number_integer() ? *v : Json(0);
      },
      priority, "integer", std::move(description));
}

api::TableColumn StrColumn(std::string name, std::vector<std::string> path, int priority,
                           std::string description) {
  return Column(
      std::move(name),
      [path = std::move(path)](const Json& o) -> Json {
        const Json* v = AtPath(o, path);
        return v && v->is_string() ? *v : Json("");
      },
      priority, "string", std::move(description));
}

api::TableColumn AgeColumn() {
  return Column(
      "Age", [](const Json& o) -> Json { return Age(o); }, 0, "string",
      "CreationTimestamp is a timestamp representing the server time when this object "
      "was created.");
}

std::vector<std::string> IsConfigMapKey(const std::string& key) {
  std::vector<std::string> errs;
  if (key.size() > 253) errs.push_back("must be no more than 253 characters");
  bool ok = !key.empty();
  for (char c : key)
    ok = ok && (isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  if (!ok)
    errs.push_back(
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
        "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')");
  if (key == ".") errs.push_back("must not be '.'");
  if (key == "..")
    errs.push_back("must not be '..'");
  else if (key.starts_with(".."))
    errs.push_back("must not start with '..'");
  return errs;
}

void ValidateLabelSelector(const Json& sel, const std::string& path, std::vector<Cause>& causes) {
  if (!sel.is_object()) return;
  if (const Json* ml = At(sel, {"matchLabels"}); ml && ml->is_object()) {
    for (const auto& [k, v] : ml->items()) {
      for (auto& m : api::IsQualifiedName(k))
        causes.push_back(api::InvalidValue(path + ".matchLabels", k, m));
      std::string s = v.is_string() ? v.get<std::string>() : v.dump();
      for (auto& m : api::IsValidLabelValue(s))
        causes.push_back(api::InvalidValue(path + ".matchLabels", s, m));
    }
  }
  if (const Json* me = At(sel, {"matchExpressions"}); me && me->is_array()) {
    for (size_t i = 0; i < me->size(); ++i) {
      const Json& r = (*me)[i];
      std::string p = Idx(path + ".matchExpressions", i);
      std::string op = Str(r, {"operator"});
      const Json* vals = At(r, {"values"});
      size_t n = vals && vals->is_array() ? vals->size() : 0;
      if (op == "In" || op == "NotIn") {
        if (n == 0)
          causes.push_back(
              api::Required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'"));
      } else if (op == "Exists" || op == "DoesNotExist") {
        if (n > 0)
          causes.push_back(api::Forbidden(
              p + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      } else {
        causes.push_back(api::InvalidValue(p + ".operator", op, "not a valid selector operator"));
      }
      std::string key = Str(r, {"key"});
      for (auto& m : api::IsQualifiedName(key))
        causes.push_back(api::InvalidValue(p + ".key", key, m));
    }
  }
}

bool SelectorMatches(const Json& sel, const Json* labels) {
  auto label = [&](const std::string& k) -> const Json* {
    if (!labels || !labels->is_object()) return nullptr;
    auto it = labels->find(k);
    return it == labels->end() ? nullptr : &*it;
  };
  if (const Json* ml = At(sel, {"matchLabels"}); ml && ml->is_object())
    for (const auto& [k, v] : ml->items()) {
      const Json* l = label(k);
      if (!l || *l != v) return false;
    }
  if (const Json* me = At(sel, {"matchExpressions"}); me && me->is_array())
    for (const auto& r : *me) {
      const Json* l = label(Str(r, {"key"}));
      std::string op = Str(r, {"operator"});
      bool in = false;
      if (const Json* vs = At(r, {"values"}); vs && vs->is_array() && l)
        for (const auto& v : *vs) in = in || v == *l;
      if (op == "In" && !in) return false;
      if (op == "NotIn" && in) return false;
      if (op == "Exists" && !l) return false;
      if (op == "DoesNotExist" && l) return false;
    }
  return true;
}

std::string GoLabelSelector(const Json* sel) {
  auto quote = [](const std::string& s) { return Json(s).dump(); };
  std::string out = "v1.LabelSelector{MatchLabels:";
  const Json* ml = sel ? At(*sel, {"matchLabels"}) : nullptr;
  if (!ml || !ml->is_object()) {
    out += "map[string]string(nil)";
  } else {
    out += "map[string]string{";
    bool first = true;
    for (const auto& [k, v] : ml->items()) {
      out += (first ? "" : ", ") + quote(k) + ":" +
             quote(v.is_string() ? v.get<std::string>() : v.dump());
      first = false;
    }
    out += "}";
  }
  out += ", MatchExpressions:";
  const Json* me = sel ? At(*sel, {"matchExpressions"}) : nullptr;
  if (!me || !me->is_array()) {
    out += "[]v1.LabelSelectorRequirement(nil)";
  } else {
    out += "[]v1.LabelSelectorRequirement{";
    for (size_t i = 0; i < me->size(); ++i) {
      const Json& r = (*me)[i];
      out += (i ? ", " : "") + std::string("v1.LabelSelectorRequirement{Key:") +
             quote(Str(r, {"key"})) + ", Operator:" + quote(Str(r, {"operator"})) + ", Values:";
      const Json* vs = At(r, {"values"});
      if (!vs || !vs->is_array()) {
        out += "[]string(nil)}";
      } else {
        out += "[]string{";
        for (size_t j = 0; j < vs->size(); ++j)
          out += (j ? ", " : "") + quote((*vs)[j].is_string() ? (*vs)[j].get<std::string>() : "");
        out += "}}";
      }
    }
    out += "}";
  }
  return out + "}";
}

}  // namespace berth::kinds
