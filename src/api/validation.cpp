// Generic validators with the exact wording of k8s.io/apimachinery's
// pkg/util/validation and pkg/api/validation (ObjectMeta), so that kubectl
// prints what a user would see against a real cluster. The regular languages
// involved are simple enough to match by hand, which avoids std::regex cost on
// every write.
#include "api/validation.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

namespace berth::api {
namespace {

constexpr size_t kDNS1123LabelMax = 63;
constexpr size_t kDNS1123SubdomainMax = 253;
constexpr size_t kQualifiedNameMax = 63;
constexpr size_t kLabelValueMax = 63;
constexpr size_t kTotalAnnotationSizeLimit = 256 * 1024;

const char kDNS1123LabelFmt[] = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const char kDNS1123SubdomainFmt[] =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const char kDNS1035LabelFmt[] = "[a-z]([-a-z0-9]*[a-z0-9])?";
const char kQualifiedNameFmt[] = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const char kLabelValueFmt[] = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const char kQualifiedNameErr[] =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";

// validation.RegexError, including its odd "',  or '" spacing.
std::string RegexError(const std::string& msg, const std::string& fmt,
                       const std::vector<std::string>& examples) {
  if (examples.empty()) return msg + " (regex used for validation is '" + fmt + "')";
  std::string out = msg + " (e.g. ";
  for (size_t i = 0; i < examples.size(); ++i) {
    if (i > 0) out += " or ";
    out += "'" + examples[i] + "', ";
  }
  return out + "regex used for validation is '" + fmt + "')";
}

std::string MaxLenError(size_t n) {
  return "must be no more than " + std::to_string(n) + " characters";
}

bool LowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool Alnum(char c) { return LowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool MatchLabel(std::string_view s) {
  if (s.empty() || !LowerAlnum(s.front()) || !LowerAlnum(s.back())) return false;
  for (char c : s)
    if (!LowerAlnum(c) && c != '-') return false;
  return true;
}

bool MatchSubdomain(std::string_view s) {
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!MatchLabel(s.substr(start, dot == std::string_view::npos ? s.npos : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchQualifiedName(std::string_view s) {
  if (s.empty() || !Alnum(s.front()) || !Alnum(s.back())) return false;
  for (char c : s)
    if (!Alnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

// Go's %q for the ASCII-printable common case; other bytes are escaped.
std::string GoQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Renders a bad value as field.Error does: strings quoted, scalars plain, and
// string maps / string slices in Go's %#v syntax (the shapes users meet most,
// e.g. template labels); anything else as compact JSON.
std::string FormatValue(const Json& v) {
  if (v.is_string()) return GoQuote(v.get<std::string>());
  if (v.is_null()) return "\"null\"";
  if (v.is_boolean() || v.is_number()) return v.dump();
  if (v.is_object()) {
    bool all_strings = true;
    for (const auto& [k, x] : v.items()) all_strings = all_strings && x.is_string();
    if (all_strings) {
      std::string out = "map[string]string{";
      bool first = true;
      for (const auto& [k, x] : v.items()) {  // nlohmann orders keys, as Go's %#v does
        if (!first) out += ", ";
        first = false;
        out += GoQuote(k) + ":" + GoQuote(x.get<std::string>());
      }
      return out + "}";
    }
  }
  if (v.is_array()) {
    bool all_strings = true;
    for (const auto& x : v) all_strings = all_strings && x.is_string();
    if (all_strings) {
      std::string out = "[]string{";
      for (size_t i = 0; i < v.size(); ++i)
        out += (i ? ", " : "") + GoQuote(v[i].get<std::string>());
      return out + "}";
    }
  }
  return v.dump();
}

Cause Make(const char* reason, const std::string& field, std::string message) {
  return Cause{reason, std::move(message), field};
}

std::vector<std::string> ValidateName(const std::string& rule, std::string name, bool prefix) {
  // A generateName prefix may end in '-': mask it as the apiserver does.
  if (prefix && name.size() > 1 && name.back() == '-') name.back() = 'a';
  if (rule == "label") return IsDNS1123Label(name);
  if (rule == "dns1035") return IsDNS1035Label(name);
  if (rule == "path") return IsValidPathSegmentName(name);
  return IsDNS1123Subdomain(name);
}

}  // namespace

std::vector<std::string> IsDNS1123Label(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > kDNS1123LabelMax) errs.push_back(MaxLenError(kDNS1123LabelMax));
  if (!MatchLabel(v)) {
    if (MatchSubdomain(v)) {
      errs.push_back("must not contain dots");
    } else {
      errs.push_back(RegexError(
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
          "and must start and end with an alphanumeric character",
          kDNS1123LabelFmt, {"my-name", "123-abc"}));
    }
  }
  return errs;
}

std::vector<std::string> IsDNS1123Subdomain(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > kDNS1123SubdomainMax) errs.push_back(MaxLenError(kDNS1123SubdomainMax));
  if (!MatchSubdomain(v))
    errs.push_back(RegexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character",
        kDNS1123SubdomainFmt, {"example.com"}));
  return errs;
}

std::vector<std::string> IsDNS1035Label(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > kDNS1123LabelMax) errs.push_back(MaxLenError(kDNS1123LabelMax));
  if (!MatchLabel(v) || !(v.front() >= 'a' && v.front() <= 'z'))
    errs.push_back(RegexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
        "an alphabetic character, and end with an alphanumeric character",
        kDNS1035LabelFmt, {"my-name", "abc-123"}));
  return errs;
}

std::vector<std::string> IsQualifiedName(const std::string& v) {
  std::vector<std::string> errs;
  std::string name;
  size_t slash = v.find('/');
  if (slash == std::string::npos) {
    name = v;
  } else if (v.find('/', slash + 1) != std::string::npos) {
    return {"a qualified name " +
            RegexError(kQualifiedNameErr, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
            " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"};
  } else {
    std::string prefix = v.substr(0, slash);
    name = v.substr(slash + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      for (auto& m : IsDNS1123Subdomain(prefix)) errs.push_back("prefix part " + m);
    }
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > kQualifiedNameMax) {
    errs.push_back("name part " + MaxLenError(kQualifiedNameMax));
  }
  if (!MatchQualifiedName(name))
    errs.push_back("name part " + RegexError(kQualifiedNameErr, kQualifiedNameFmt,
                                             {"MyName", "my.name", "123-abc"}));
  return errs;
}

std::vector<std::string> IsValidLabelValue(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > kLabelValueMax) errs.push_back(MaxLenError(kLabelValueMax));
  if (!v.empty() && !MatchQualifiedName(v))
    errs.push_back(RegexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character",
        kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  return errs;
}

std::vector<std::string> IsValidPortNum(int64_t port) {
  if (port >= 1 && port <= 65535) return {};
  return {"must be between 1 and 65535, inclusive"};
}

std::vector<std::string> IsValidPathSegmentName(const std::string& v) {
  if (v == ".") return {"may not be '.'"};
  if (v == "..") return {"may not be '..'"};
  std::vector<std::string> errs;
  if (v.find('/') != std::string::npos) errs.push_back("may not contain '/'");
  if (v.find('%') != std::string::npos) errs.push_back("may not contain '%'");
  return errs;
}

void ValidateObjectMeta(const Json& obj, bool namespaced, const std::string& name_rule,
                        std::vector<Cause>& causes) {
  static const Json kEmpty = Json::object();
  const Json& meta = obj.is_object() && obj.contains("metadata") && obj["metadata"].is_object()
                         ? obj["metadata"]
                         : kEmpty;
  auto str = [&](const char* k) {
    auto it = meta.find(k);
    return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string name = str("name"), generate = str("generateName"), ns = str("namespace");

  if (!generate.empty()) {
    for (auto& m : ValidateName(name_rule, generate, true))
      causes.push_back(InvalidValue("metadata.generateName", generate, m));
  }
  if (name.empty()) {
    if (generate.empty())
      causes.push_back(Required("metadata.name", "name or generateName is required"));
  } else {
    for (auto& m : ValidateName(name_rule, name, false))
      causes.push_back(InvalidValue("metadata.name", name, m));
  }

  if (namespaced) {
    if (ns.empty()) {
      causes.push_back(Required("metadata.namespace"));
    } else {
      for (auto& m : IsDNS1123Label(ns))
        causes.push_back(InvalidValue("metadata.namespace", ns, m));
    }
  } else if (!ns.empty()) {
    causes.push_back(Forbidden("metadata.namespace", "not allowed on this type"));
  }

  if (auto it = meta.find("generation");
      it != meta.end() && it->is_number_integer() && it->get<int64_t>() < 0)
    causes.push_back(
        InvalidValue("metadata.generation", *it, "must be greater than or equal to 0"));

  if (auto it = meta.find("labels"); it != meta.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      for (auto& m : IsQualifiedName(k)) causes.push_back(InvalidValue("metadata.labels", k, m));
      if (!v.is_string()) {
        causes.push_back(InvalidValue("metadata.labels", v, "must be a string"));
        continue;
      }
      for (auto& m : IsValidLabelValue(v.get<std::string>()))
        causes.push_back(InvalidValue("metadata.labels", v, m));
    }
  }

  if (auto it = meta.find("annotations"); it != meta.end() && it->is_object()) {
    size_t total = 0;
    for (const auto& [k, v] : it->items()) {
      std::string lower = k;
      for (char& c : lower) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
      for (auto& m : IsQualifiedName(lower))
        causes.push_back(InvalidValue("metadata.annotations", k, m));
      total += k.size() + (v.is_string() ? v.get_ref<const std::string&>().size() : 0);
    }
    if (total > kTotalAnnotationSizeLimit)
      causes.push_back(TooLong("metadata.annotations", kTotalAnnotationSizeLimit));
  }

  if (auto it = meta.find("ownerReferences"); it != meta.end() && it->is_array()) {
    int controllers = 0;
    for (const auto& ref : *it) {
      auto get = [&](const char* k) {
        auto f = ref.find(k);
        return f != ref.end() && f->is_string() ? f->get<std::string>() : std::string();
      };
      std::string av = get("apiVersion");
      if (av.empty())
        causes.push_back(
            InvalidValue("metadata.ownerReferences.apiVersion", av, "version must not be empty"));
      if (get("kind").empty())
        causes.push_back(
            InvalidValue("metadata.ownerReferences.kind", "", "kind must not be empty"));
      if (get("name").empty())
        causes.push_back(
            InvalidValue("metadata.ownerReferences.name", "", "name must not be empty"));
      if (get("uid").empty())
        causes.push_back(InvalidValue("metadata.ownerReferences.uid", "", "uid must not be empty"));
      if (auto c = ref.find("controller"); c != ref.end() && c->is_boolean() && c->get<bool>())
        ++controllers;
    }
    if (controllers > 1)
      causes.push_back(InvalidValue("metadata.ownerReferences", *it,
                                    "Only one reference can have Controller set to true"));
  }

  if (auto it = meta.find("finalizers"); it != meta.end() && it->is_array()) {
    static const std::set<std::string> kStandard = {"kubernetes", "orphan", "foregroundDeletion"};
    bool orphan = false, foreground = false;
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& f = (*it)[i];
      std::string path = "metadata.finalizers[" + std::to_string(i) + "]";
      if (!f.is_string()) {
        causes.push_back(InvalidValue(path, f, "must be a string"));
        continue;
      }
      std::string s = f.get<std::string>();
      orphan |= s == "orphan";
      foreground |= s == "foregroundDeletion";
      auto errs = IsQualifiedName(s);
      for (auto& m : errs) causes.push_back(InvalidValue(path, s, m));
      if (errs.empty() && s.find('/') == std::string::npos && !kStandard.count(s))
        causes.push_back(InvalidValue(
            path, s, "name is neither a standard finalizer name nor is it fully qualified"));
    }
    if (orphan && foreground)
      causes.push_back(InvalidValue("metadata.finalizers", *it,
                                    "finalizer orphan and foregroundDeletion cannot be both set"));
  }
}

Cause Required(const std::string& field, const std::string& detail) {
  return Make("FieldValueRequired", field,
              detail.empty() ? "Required value" : "Required value: " + detail);
}

Cause InvalidValue(const std::string& field, const Json& value, const std::string& detail) {
  std::string msg = "Invalid value: " + FormatValue(value);
  if (!detail.empty()) msg += ": " + detail;
  return Make("FieldValueInvalid", field, std::move(msg));
}

Cause NotSupported(const std::string& field, const Json& value,
                   const std::vector<std::string>& valid) {
  std::string msg = "Unsupported value: " + FormatValue(value);
  if (!valid.empty()) {
    msg += ": supported values: ";
    for (size_t i = 0; i < valid.size(); ++i) msg += (i ? ", " : "") + GoQuote(valid[i]);
  }
  return Make("FieldValueNotSupported", field, std::move(msg));
}

Cause Forbidden(const std::string& field, const std::string& detail) {
  return Make("FieldValueForbidden", field, detail.empty() ? "Forbidden" : "Forbidden: " + detail);
}

Cause Duplicate(const std::string& field, const Json& value) {
  return Make("FieldValueDuplicate", field, "Duplicate value: " + FormatValue(value));
}

Cause TooLong(const std::string& field, size_t max) {
  return Make(
      "FieldValueTooLong", field,
      "Too long: may not be more than " + std::to_string(max) + (max == 1 ? " byte" : " bytes"));
}

Cause Immutable(const std::string& field) {
  // field.Invalid with an omitted value prints no value, only the detail.
  return Make("FieldValueInvalid", field, "Invalid value: field is immutable");
}

Status InvalidStatus(const std::string& kind, const std::string& group, const std::string& name,
                     std::vector<Cause> causes) {
  std::string qualified = group.empty() ? kind : kind + "." + group;
  // utilerrors.NewAggregate drops repeated messages; so do we.
  std::vector<std::string> msgs;
  std::set<std::string> seen;
  for (const auto& c : causes) {
    std::string m = c.field.empty() ? c.message : c.field + ": " + c.message;
    if (seen.insert(m).second) msgs.push_back(std::move(m));
  }
  std::string body;
  if (msgs.size() == 1) {
    body = msgs[0];
  } else {
    body = "[";
    for (size_t i = 0; i < msgs.size(); ++i) body += (i ? ", " : "") + msgs[i];
    body += "]";
  }
  std::string message = qualified + " " + GoQuote(name) + " is invalid";
  if (!msgs.empty()) message += ": " + body;
  return Status(Code::kInvalid, std::move(message)).WithCauses(std::move(causes));
}

}  // namespace berth::api
