#include "api/selector.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace berth {
namespace {

// ---------------------------------------------------------------------------
// Label syntax (k8s.io/apimachinery/pkg/util/validation), messages verbatim.

constexpr size_t kMaxLabelLength = 63;
constexpr size_t kMaxSubdomainLength = 253;

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool IsLabelName(std::string_view s) {
  return !s.empty() && IsAlnum(s.front()) && IsAlnum(s.back()) &&
         std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*
bool IsDns1123Subdomain(std::string_view s) {
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (size_t start = 0;;) {
    size_t end = std::min(s.find('.', start), s.size());
    std::string_view label = s.substr(start, end - start);
    if (label.empty() || !lower_alnum(label.front()) || !lower_alnum(label.back()) ||
        !std::all_of(label.begin(), label.end(),
                     [&](char c) { return lower_alnum(c) || c == '-'; })) {
      return false;
    }
    if (end == s.size()) return true;
    start = end + 1;
  }
}

std::string RegexError(std::string msg, std::string_view regex,
                       std::initializer_list<std::string_view> examples) {
  msg += " (e.g. ";
  bool first = true;
  for (auto e : examples) {
    msg += (first ? "'" : " or '") + std::string(e) + "', ";
    first = false;
  }
  return msg + "regex used for validation is '" + std::string(regex) + "')";
}

const std::string& NameRegexError() {
  static const std::string kMsg = RegexError(
      "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
      "an alphanumeric character",
      "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", {"MyName", "my.name", "123-abc"});
  return kMsg;
}

// JSON quoting as Go's %q would show it; invalid UTF-8 is replaced, never thrown on.
std::string Quote(std::string_view s) {
  return Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
  return out;
}

// A field.Invalid error rendered as the apiserver prints it.
std::string InvalidValue(std::string_view field, std::string_view value,
                         const std::vector<std::string>& errors) {
  return std::string(field) + ": Invalid value: " + Quote(value) + ": " + Join(errors, "; ");
}

// Go's strconv.ParseInt(s, 10, 64).
std::optional<int64_t> ParseInt64(std::string_view s) {
  if (s.starts_with('+')) {
    s.remove_prefix(1);
    if (s.starts_with('-')) return std::nullopt;
  }
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// ---------------------------------------------------------------------------
// Label selector string form (k8s.io/apimachinery/pkg/labels/selector.go).

enum class Tok {
  kEnd,
  kIdentifier,
  kIn,
  kNotIn,
  kNot,
  kEquals,
  kDoubleEquals,
  kNotEquals,
  kGreater,
  kLess,
  kOpen,
  kClose,
  kComma,
};

struct Token {
  Tok tok;
  std::string text;
};

bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsSymbol(char c) { return std::string_view("=!(),><").find(c) != std::string_view::npos; }

std::vector<Token> Lex(std::string_view s) {
  // Two-character operators first: the longest match wins.
  static const std::pair<std::string_view, Tok> kSymbols[] = {
      {"!=", Tok::kNotEquals}, {"==", Tok::kDoubleEquals}, {"!", Tok::kNot},
      {"=", Tok::kEquals},     {">", Tok::kGreater},       {"<", Tok::kLess},
      {"(", Tok::kOpen},       {")", Tok::kClose},         {",", Tok::kComma}};
  std::vector<Token> out;
  size_t i = 0;
  while (true) {
    while (i < s.size() && IsWhitespace(s[i])) ++i;
    if (i == s.size()) break;
    if (IsSymbol(s[i])) {
      for (const auto& [symbol, tok] : kSymbols) {
        if (s.substr(i).starts_with(symbol)) {
          out.push_back({tok, std::string(symbol)});
          i += symbol.size();
          break;
        }
      }
      continue;
    }
    size_t start = i;
    while (i < s.size() && !IsWhitespace(s[i]) && !IsSymbol(s[i])) ++i;
    std::string word(s.substr(start, i - start));
    Tok tok = word == "in" ? Tok::kIn : word == "notin" ? Tok::kNotIn : Tok::kIdentifier;
    out.push_back({tok, std::move(word)});
  }
  out.push_back({Tok::kEnd, ""});
  return out;
}

using Op = LabelRequirement::Op;

// Recursive descent over the token list. Where a value is expected, "in" and
// "notin" are ordinary words (`a=in` is legal).
class LabelParser {
 public:
  explicit LabelParser(std::string_view text) : tokens_(Lex(text)) {}

  Result<std::vector<LabelRequirement>> Parse() {
    std::vector<LabelRequirement> requirements;
    while (true) {
      Token t = Peek(kValue);
      if (t.tok == Tok::kEnd) return requirements;
      if (t.tok != Tok::kIdentifier && t.tok != Tok::kNot) {
        return Found(t, "!, identifier, or 'end of string'");
      }
      auto r = ParseRequirement();
      if (!r.ok()) return BadRequest("unable to parse requirement: " + r.status().message());
      requirements.push_back(std::move(r).value());
      Token sep = Next(kValue);
      if (sep.tok == Tok::kEnd) return requirements;
      if (sep.tok != Tok::kComma) return Found(sep, "',' or 'end of string'");
      Token after = Peek(kValue);
      if (after.tok != Tok::kIdentifier && after.tok != Tok::kNot) {
        return Found(after, "identifier after ','");
      }
    }
  }

 private:
  enum Context { kOperator, kValue };

  Token Peek(Context c) const {
    Token t = tokens_[pos_];
    if (c == kValue && (t.tok == Tok::kIn || t.tok == Tok::kNotIn)) t.tok = Tok::kIdentifier;
    return t;
  }
  Token Next(Context c) {
    Token t = Peek(c);
    if (pos_ + 1 < tokens_.size()) ++pos_;  // kEnd repeats forever
    return t;
  }
  static Status Found(const Token& t, std::string_view expected) {
    return BadRequest("found '" + t.text + "', expected: " + std::string(expected));
  }

  Result<LabelRequirement> ParseRequirement() {
    LabelRequirement r;
    Token t = Next(kValue);
    const bool negated = t.tok == Tok::kNot;
    if (negated) t = Next(kValue);
    if (t.tok != Tok::kIdentifier) return Found(t, "identifier");
    r.key = t.text;
    if (auto errors = QualifiedNameErrors(r.key); !errors.empty()) {
      return BadRequest(InvalidValue("key", r.key, errors));
    }
    Token la = Peek(kValue);
    if (la.tok == Tok::kEnd || la.tok == Tok::kComma) {
      r.op = negated ? Op::kDoesNotExist : Op::kExists;
      return r;
    }
    if (negated) return Found(la, "',' or 'end of string'");

    static const std::pair<Tok, Op> kOps[] = {{Tok::kIn, Op::kIn},
                                              {Tok::kNotIn, Op::kNotIn},
                                              {Tok::kEquals, Op::kEquals},
                                              {Tok::kDoubleEquals, Op::kDoubleEquals},
                                              {Tok::kNotEquals, Op::kNotEquals},
                                              {Tok::kGreater, Op::kGreaterThan},
                                              {Tok::kLess, Op::kLessThan}};
    Token op = Next(kOperator);
    const auto* found = std::find_if(std::begin(kOps), std::end(kOps),
                                     [&](const auto& p) { return p.first == op.tok; });
    if (found == std::end(kOps)) return Found(op, "in, notin, =, ==, !=, gt, lt");
    r.op = found->second;

    std::set<std::string> values;  // sorted and unique, like the apiserver's sets.String
    if (r.op == Op::kIn || r.op == Op::kNotIn) {
      BERTH_RETURN_IF_ERROR(ParseValueList(values));
    } else {
      BERTH_RETURN_IF_ERROR(ParseExactValue(values));
    }
    r.values.assign(values.begin(), values.end());
    for (size_t i = 0; i < r.values.size(); ++i) {
      const std::string& v = r.values[i];
      std::string field = "values[" + std::to_string(i) + "][" + v + "]";
      if (auto errors = LabelValueErrors(v); !errors.empty()) {
        return BadRequest(InvalidValue(field, v, errors));
      }
      if ((r.op == Op::kGreaterThan || r.op == Op::kLessThan) && !ParseInt64(v)) {
        return BadRequest(
            InvalidValue(field, v, {"for 'Gt', 'Lt' operators, the value must be an integer"}));
      }
    }
    return r;
  }

  // "(" then values separated by commas then ")"; an empty slot is the value "".
  Status ParseValueList(std::set<std::string>& values) {
    Token open = Next(kValue);
    if (open.tok != Tok::kOpen) return BadRequest("found '" + open.text + "' expected: '('");
    if (Peek(kValue).tok == Tok::kClose) {
      Next(kValue);
      values.insert("");  // "in ()" selects the empty value
      return Status::Ok();
    }
    bool slot_empty = true;
    while (true) {
      Token t = Next(kValue);
      if (t.tok == Tok::kIdentifier && slot_empty) {
        values.insert(t.text);
        slot_empty = false;
      } else if (t.tok == Tok::kComma || t.tok == Tok::kClose) {
        if (slot_empty) values.insert("");
        if (t.tok == Tok::kClose) return Status::Ok();
        slot_empty = true;
      } else {
        return Found(t, slot_empty ? "',', ')' or identifier" : "',' or ')'");
      }
    }
  }

  // One value, possibly empty (`a=` selects a="").
  Status ParseExactValue(std::set<std::string>& values) {
    Token t = Peek(kValue);
    if (t.tok == Tok::kEnd || t.tok == Tok::kComma) {
      values.insert("");
      return Status::Ok();
    }
    Next(kValue);
    if (t.tok != Tok::kIdentifier) return Found(t, "identifier");
    values.insert(t.text);
    return Status::Ok();
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

void SortByKey(std::vector<LabelRequirement>& requirements) {
  std::stable_sort(requirements.begin(), requirements.end(),
                   [](const auto& a, const auto& b) { return a.key < b.key; });
}

// ---------------------------------------------------------------------------
// metav1.LabelSelector validation: problems collected as metav1.StatusCauses.

class CauseList {
 public:
  void Invalid(std::string field, const Json& value, const std::string& detail,
               const char* reason = "FieldValueInvalid") {
    std::string shown = value.is_string()
                            ? value.get<std::string>()
                            : value.dump(-1, ' ', false, Json::error_handler_t::replace);
    Add(reason, std::move(field), "Invalid value: " + Quote(shown) + ": " + detail);
  }
  void Add(const char* reason, std::string field, std::string body) {
    causes_.push_back({reason, std::move(body), std::move(field)});
  }
  bool empty() const { return causes_.empty(); }

  // The apiserver's aggregate form: "f: msg" for one error, "[f: msg, ...]" for more.
  Status ToStatus() && {
    std::vector<std::string> parts;
    for (const auto& c : causes_) parts.push_back(c.field + ": " + c.message);
    std::string all = parts.size() == 1 ? parts[0] : "[" + Join(parts, ", ") + "]";
    return berth::Invalid("label selector is invalid: " + all).WithCauses(std::move(causes_));
  }

 private:
  std::vector<Cause> causes_;
};

void CheckKey(CauseList& causes, const std::string& field, const std::string& key) {
  if (auto errors = QualifiedNameErrors(key); !errors.empty()) {
    causes.Invalid(field, key, Join(errors, "; "));
  }
}

void CheckValue(CauseList& causes, const std::string& field, const std::string& value) {
  for (const auto& e : LabelValueErrors(value)) causes.Invalid(field, value, e);
}

// ---------------------------------------------------------------------------
// Field selectors (k8s.io/apimachinery/pkg/fields/selector.go).

std::string EscapeFieldValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == ',' || c == '=') out += '\\';
    out += c;
  }
  return out;
}

Result<std::string> UnescapeFieldValue(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == ',' || c == '=') {
      return BadRequest(std::string("invalid field selector: unescaped character in value: ") + c);
    }
    if (c == '\\') {
      if (i + 1 == v.size() || (v[i + 1] != '\\' && v[i + 1] != ',' && v[i + 1] != '=')) {
        return BadRequest("invalid field selector: invalid escape sequence: " +
                          std::string(v.substr(i, 2)));
      }
      c = v[++i];
    }
    out += c;
  }
  return out;
}

std::string TermString(const FieldSelector::Term& t) {
  return t.field + (t.equals ? "=" : "!=") + EscapeFieldValue(t.value);
}

}  // namespace

std::vector<std::string> QualifiedNameErrors(std::string_view key) {
  std::vector<std::string> errors;
  std::string_view name = key;
  if (size_t slash = key.find('/'); slash != std::string_view::npos) {
    if (key.find('/', slash + 1) != std::string_view::npos) {
      return {"a qualified name " + NameRegexError() +
              " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"};
    }
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) {
      errors.push_back("prefix part must be non-empty");
    } else if (prefix.size() > kMaxSubdomainLength) {
      errors.push_back("prefix part must be no more than 253 characters");
    } else if (!IsDns1123Subdomain(prefix)) {
      errors.push_back(RegexError(
          "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
          "characters, '-' or '.', and must start and end with an alphanumeric character",
          R"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)", {"example.com"}));
    }
  }
  if (name.empty()) {
    errors.push_back("name part must be non-empty");
  } else if (name.size() > kMaxLabelLength) {
    errors.push_back("name part must be no more than 63 characters");
  } else if (!IsLabelName(name)) {
    errors.push_back("name part " + NameRegexError());
  }
  return errors;
}

std::vector<std::string> LabelValueErrors(std::string_view value) {
  if (value.size() > kMaxLabelLength) return {"must be no more than 63 characters"};
  if (value.empty() || IsLabelName(value)) return {};
  return {RegexError(
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
      "or '.', and must start and end with an alphanumeric character",
      "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", {"MyValue", "my_value", "12345"})};
}

bool LabelRequirement::Matches(const Json& labels) const {
  const std::string* value = nullptr;
  if (labels.is_object()) {
    auto it = labels.find(key);
    if (it != labels.end() && it->is_string()) value = &it->get_ref<const std::string&>();
  }
  auto listed = [&] { return std::binary_search(values.begin(), values.end(), *value); };
  switch (op) {
    case kEquals:
    case kDoubleEquals:
    case kIn:
      return value && listed();
    case kNotEquals:
    case kNotIn:
      return !value || !listed();
    case kExists:
      return value != nullptr;
    case kDoesNotExist:
      return value == nullptr;
    case kGreaterThan:
    case kLessThan: {
      if (!value || values.size() != 1) return false;
      auto have = ParseInt64(*value);
      auto want = ParseInt64(values[0]);
      return have && want && (op == kGreaterThan ? *have > *want : *have < *want);
    }
  }
  return false;
}

std::string LabelRequirement::ToString() const {
  switch (op) {
    case kExists:
      return key;
    case kDoesNotExist:
      return "!" + key;
    case kIn:
    case kNotIn:
      return key + (op == kIn ? " in (" : " notin (") + Join(values, ",") + ")";
    default:
      break;
  }
  const char* symbol = op == kEquals         ? "="
                       : op == kDoubleEquals ? "=="
                       : op == kNotEquals    ? "!="
                       : op == kGreaterThan  ? ">"
                                             : "<";
  return key + symbol + (values.empty() ? "" : values[0]);
}

LabelSelector LabelSelector::Nothing() {
  LabelSelector s;
  s.nothing_ = true;
  return s;
}

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  BERTH_ASSIGN_OR_RETURN(auto requirements, LabelParser(text).Parse());
  SortByKey(requirements);
  LabelSelector s;
  s.requirements_ = std::move(requirements);
  return s;
}

Result<LabelSelector> LabelSelector::FromJson(const Json& selector, std::string_view field_path) {
  if (selector.is_null()) return Nothing();
  const std::string root(field_path);
  CauseList causes;
  if (!selector.is_object()) {
    causes.Invalid(root, selector, "must be an object", "FieldValueTypeInvalid");
    return std::move(causes).ToStatus();
  }
  LabelSelector s;
  const Json match_labels = selector.value("matchLabels", Json::object());
  const std::string labels_field = root + ".matchLabels";
  if (!match_labels.is_object()) {
    causes.Invalid(labels_field, match_labels, "must be an object", "FieldValueTypeInvalid");
  } else {
    for (const auto& [key, value] : match_labels.items()) {
      CheckKey(causes, labels_field, key);
      if (!value.is_string()) {
        causes.Invalid(labels_field, value, "must be a string", "FieldValueTypeInvalid");
        continue;
      }
      CheckValue(causes, labels_field, value.get<std::string>());
      s.requirements_.push_back({key, Op::kEquals, {value.get<std::string>()}});
    }
  }

  static const std::pair<std::string_view, Op> kOperators[] = {{"In", Op::kIn},
                                                               {"NotIn", Op::kNotIn},
                                                               {"Exists", Op::kExists},
                                                               {"DoesNotExist", Op::kDoesNotExist}};
  const Json expressions = selector.value("matchExpressions", Json::array());
  if (!expressions.is_array()) {
    causes.Invalid(root + ".matchExpressions", expressions, "must be a list",
                   "FieldValueTypeInvalid");
    return std::move(causes).ToStatus();
  }
  for (size_t i = 0; i < expressions.size(); ++i) {
    const Json& e = expressions[i];
    const std::string field = root + ".matchExpressions[" + std::to_string(i) + "]";
    if (!e.is_object()) {
      causes.Invalid(field, e, "must be an object", "FieldValueTypeInvalid");
      continue;
    }
    LabelRequirement r;
    const Json key = e.value("key", Json());
    if (!key.is_string()) {
      causes.Invalid(field + ".key", key, "must be a string", "FieldValueTypeInvalid");
    } else {
      r.key = key.get<std::string>();
      CheckKey(causes, field + ".key", r.key);
    }
    const Json op = e.value("operator", Json());
    const auto* known = std::find_if(std::begin(kOperators), std::end(kOperators),
                                     [&](const auto& o) { return op == o.first; });
    if (known == std::end(kOperators)) {
      causes.Invalid(field + ".operator", op, "not a valid selector operator");
      continue;
    }
    r.op = known->second;
    const Json values = e.value("values", Json::array());
    std::set<std::string> unique;
    if (!values.is_array()) {
      causes.Invalid(field + ".values", values, "must be a list", "FieldValueTypeInvalid");
      continue;
    }
    for (size_t j = 0; j < values.size(); ++j) {
      const std::string value_field = field + ".values[" + std::to_string(j) + "]";
      if (!values[j].is_string()) {
        causes.Invalid(value_field, values[j], "must be a string", "FieldValueTypeInvalid");
        continue;
      }
      CheckValue(causes, value_field, values[j].get<std::string>());
      unique.insert(values[j].get<std::string>());
    }
    const bool set_op = r.op == Op::kIn || r.op == Op::kNotIn;
    if (set_op && values.empty()) {
      causes.Add("FieldValueRequired", field + ".values",
                 "Required value: must be specified when `operator` is 'In' or 'NotIn'");
    } else if (!set_op && !values.empty()) {
      causes.Add("FieldValueForbidden", field + ".values",
                 "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    }
    r.values.assign(unique.begin(), unique.end());
    s.requirements_.push_back(std::move(r));
  }
  if (!causes.empty()) return std::move(causes).ToStatus();
  SortByKey(s.requirements_);
  return s;
}

bool LabelSelector::Matches(const Json& labels) const {
  return !nothing_ && std::all_of(requirements_.begin(), requirements_.end(),
                                  [&](const LabelRequirement& r) { return r.Matches(labels); });
}

std::string LabelSelector::ToString() const {
  std::vector<std::string> parts;
  for (const auto& r : requirements_) parts.push_back(r.ToString());
  return Join(parts, ",");
}

Result<FieldSelector> FieldSelector::Parse(std::string_view text) {
  // Split on commas that are not escaped; escapes stay for UnescapeFieldValue.
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == ',') {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(text.substr(start));

  FieldSelector s;
  for (std::string_view part : parts) {
    if (part.empty()) continue;
    // The field is never escaped, so the first operator splits the term; "!="
    // and "==" are tried before "=" so that no '=' is left on the value.
    size_t at = std::string_view::npos;
    std::string_view op;
    for (size_t i = 0; i < part.size() && at == std::string_view::npos; ++i) {
      for (std::string_view candidate : {"!=", "==", "="}) {
        if (part.substr(i).starts_with(candidate)) {
          at = i;
          op = candidate;
          break;
        }
      }
    }
    if (at == std::string_view::npos) {
      return BadRequest("invalid selector: '" + std::string(text) + "'; can't understand '" +
                        std::string(part) + "'");
    }
    BERTH_ASSIGN_OR_RETURN(std::string value, UnescapeFieldValue(part.substr(at + op.size())));
    s.terms_.push_back({std::string(part.substr(0, at)), op != "!=", std::move(value)});
  }
  std::stable_sort(s.terms_.begin(), s.terms_.end(),
                   [](const Term& a, const Term& b) { return TermString(a) < TermString(b); });
  return s;
}

bool FieldSelector::Matches(const Getter& get) const {
  return std::all_of(terms_.begin(), terms_.end(), [&](const Term& t) {
    return (get(t.field).value_or("") == t.value) == t.equals;
  });
}

std::vector<std::string> FieldSelector::Fields() const {
  std::vector<std::string> fields;
  for (const auto& t : terms_) {
    if (std::find(fields.begin(), fields.end(), t.field) == fields.end()) {
      fields.push_back(t.field);
    }
  }
  return fields;
}

Status FieldSelector::CheckFields(const std::function<bool(std::string_view)>& supported) const {
  for (const auto& f : Fields()) {
    if (!supported(f)) return BadRequest("field label not supported: " + f);
  }
  return Status::Ok();
}

std::optional<std::string> FieldSelector::RequiresExactMatch(std::string_view field) const {
  for (const auto& t : terms_) {
    if (t.equals && t.field == field) return t.value;
  }
  return std::nullopt;
}

std::string FieldSelector::ToString() const {
  std::vector<std::string> parts;
  for (const auto& t : terms_) parts.push_back(TermString(t));
  return Join(parts, ",");
}

}  // namespace berth
