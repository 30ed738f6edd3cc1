#include "monitor/scrape/relabel.h"

#include <openssl/evp.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "monitor/regex_template.h"

namespace berth::monitor::scrape {
namespace {

constexpr std::string_view kDefaultSeparator = ";";
constexpr std::string_view kDefaultRegex = "(.*)";
constexpr std::string_view kDefaultReplacement = "$1";

struct ActionName {
  RelabelAction action;
  std::string_view name;
};
constexpr ActionName kActions[] = {
    {RelabelAction::kReplace, "replace"},     {RelabelAction::kKeep, "keep"},
    {RelabelAction::kDrop, "drop"},           {RelabelAction::kKeepEqual, "keepequal"},
    {RelabelAction::kDropEqual, "dropequal"}, {RelabelAction::kHashMod, "hashmod"},
    {RelabelAction::kLabelMap, "labelmap"},   {RelabelAction::kLabelDrop, "labeldrop"},
    {RelabelAction::kLabelKeep, "labelkeep"}, {RelabelAction::kLowercase, "lowercase"},
    {RelabelAction::kUppercase, "uppercase"},
};

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80             ? 1
                 : (c & 0xE0) == 0xC0 ? 2
                 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4
                                      : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

// Label names may be any non-empty UTF-8 (the monitor accepts quoted UTF-8
// names from targets), so that is all a configured name must be.
bool ValidName(std::string_view s) { return !s.empty() && ValidUtf8(s); }

// A mutable, name-sorted label list: relabeling edits in place step after
// step and builds the immutable Labels once at the end.
class Builder {
 public:
  explicit Builder(const Labels& ls) : v_(ls.ToVector()) {}

  std::string_view Get(std::string_view name) const {
    auto it = Find(name);
    return it != v_.end() && it->name == name ? std::string_view(it->value) : std::string_view();
  }
  void Set(std::string_view name, std::string_view value) {
    if (value.empty()) return Del(name);
    auto it = Find(name);
    if (it != v_.end() && it->name == name) {
      it->value.assign(value);
    } else {
      v_.insert(it, Label{std::string(name), std::string(value)});
    }
  }
  void Del(std::string_view name) {
    auto it = Find(name);
    if (it != v_.end() && it->name == name) v_.erase(it);
  }
  std::vector<Label>& vec() { return v_; }
  Labels Build() && { return Labels(std::move(v_)); }

 private:
  std::vector<Label>::iterator Find(std::string_view name) {
    return std::lower_bound(v_.begin(), v_.end(), name,
                            [](const Label& l, std::string_view n) { return l.name < n; });
  }
  std::vector<Label>::const_iterator Find(std::string_view name) const {
    return std::lower_bound(v_.begin(), v_.end(), name,
                            [](const Label& l, std::string_view n) { return l.name < n; });
  }
  std::vector<Label> v_;
};

// Simple case mapping for ASCII, Latin-1, Latin Extended-A, Greek and
// Cyrillic; other code points (and invalid UTF-8) pass through unchanged.
uint32_t LowerRune(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if ((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
    return c % 2 == 0 ? c + 1 : c;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c % 2 == 1 ? c + 1 : c;
  if (c == 0x178) return 0xFF;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

uint32_t UpperRune(uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c < 0x80) return c;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c == 0xFF) return 0x178;
  if ((c >= 0x101 && c <= 0x12F) || (c >= 0x133 && c <= 0x137) || (c >= 0x14B && c <= 0x177))
    return c % 2 == 1 ? c - 1 : c;
  if ((c >= 0x13A && c <= 0x148) || (c >= 0x17A && c <= 0x17E)) return c % 2 == 0 ? c - 1 : c;
  if (c >= 0x3B1 && c <= 0x3C9) return c == 0x3C2 ? 0x3A3 : c - 32;
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 37;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 63;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

std::string MapCase(std::string_view s, uint32_t (*map)(uint32_t)) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(map(c)));
      ++i;
      continue;
    }
    // Only two-byte sequences have mappings here; everything else is copied.
    if ((c & 0xE0) == 0xC0 && i + 1 < s.size() &&
        (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
      uint32_t cp = ((c & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
      uint32_t m = map(cp);
      out.push_back(static_cast<char>(0xC0 | (m >> 6)));
      out.push_back(static_cast<char>(0x80 | (m & 0x3F)));
      i += 2;
      continue;
    }
    out.push_back(s[i]);
    ++i;
  }
  return out;
}

uint64_t HashMod(std::string_view s, uint64_t modulus) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_md5(), nullptr);
  uint64_t v = 0;
  for (int i = 8; i < 16; ++i) v = (v << 8) | md[i];
  return v % modulus;
}

Status Fail(const std::string& what) { return Invalid("relabel config: " + what); }

// "relabel config: x" becomes "relabel config 2: x" when the config is one of
// a list.
Status Indexed(size_t i, const Status& st) {
  std::string msg = st.message();
  constexpr std::string_view kPrefix = "relabel config: ";
  if (msg.starts_with(kPrefix)) msg = msg.substr(kPrefix.size());
  return Invalid("relabel config " + std::to_string(i) + ": " + msg);
}

Status Apply(const RelabelConfig& c, const RE2& re, Builder* b, bool* dropped, std::string* joined,
             std::string* scratch) {
  joined->clear();
  for (size_t i = 0; i < c.source_labels.size(); ++i) {
    if (i > 0) joined->append(c.separator);
    joined->append(b->Get(c.source_labels[i]));
  }
  const std::string& val = *joined;
  switch (c.action) {
    case RelabelAction::kReplace: {
      int n = re.NumberOfCapturingGroups() + 1;
      std::vector<re2::StringPiece> groups(static_cast<size_t>(n));
      if (!re.Match(val, 0, val.size(), RE2::UNANCHORED, groups.data(), n)) break;
      std::string target;
      ExpandTemplate(c.target_label, re, groups.data(), n, &target);
      if (!ValidName(target)) break;
      ExpandTemplate(c.replacement, re, groups.data(), n, scratch);
      b->Set(target, *scratch);
      break;
    }
    case RelabelAction::kKeep:
      if (!RE2::PartialMatch(val, re)) *dropped = true;
      break;
    case RelabelAction::kDrop:
      if (RE2::PartialMatch(val, re)) *dropped = true;
      break;
    case RelabelAction::kKeepEqual:
      if (val != b->Get(c.target_label)) *dropped = true;
      break;
    case RelabelAction::kDropEqual:
      if (val == b->Get(c.target_label)) *dropped = true;
      break;
    case RelabelAction::kHashMod:
      b->Set(c.target_label, std::to_string(HashMod(val, c.modulus)));
      break;
    case RelabelAction::kLabelMap: {
      // Map from a snapshot: names added by this step are not themselves
      // candidates, and the originals stay.
      std::vector<Label> snapshot = b->vec();
      int n = re.NumberOfCapturingGroups() + 1;
      std::vector<re2::StringPiece> groups(static_cast<size_t>(n));
      for (const auto& l : snapshot) {
        if (!re.Match(l.name, 0, l.name.size(), RE2::UNANCHORED, groups.data(), n)) continue;
        ExpandTemplate(c.replacement, re, groups.data(), n, scratch);
        if (ValidName(*scratch)) b->Set(*scratch, l.value);
      }
      break;
    }
    case RelabelAction::kLabelDrop:
      std::erase_if(b->vec(), [&](const Label& l) { return RE2::PartialMatch(l.name, re); });
      break;
    case RelabelAction::kLabelKeep:
      std::erase_if(b->vec(), [&](const Label& l) { return !RE2::PartialMatch(l.name, re); });
      break;
    case RelabelAction::kLowercase:
      b->Set(c.target_label, MapCase(val, LowerRune));
      break;
    case RelabelAction::kUppercase:
      b->Set(c.target_label, MapCase(val, UpperRune));
      break;
  }
  return Status::Ok();
}

// --- config parsing ---

// YAML arrives as a tree whose scalars are all strings to us: every field is
// a string but modulus, which ParseRelabelConfig(Json) also takes as text.
Json YamlToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: {
      Json a = Json::array();
      for (const auto& e : n) a.push_back(YamlToJson(e));
      return a;
    }
    case YAML::NodeType::Map: {
      Json o = Json::object();
      for (const auto& kv : n) o[kv.first.Scalar()] = YamlToJson(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar:
      return n.Scalar();
    default:
      return nullptr;
  }
}

Result<std::string> StringField(const Json& v, std::string_view field) {
  if (!v.is_string()) return Fail(std::string(field) + " must be a string");
  return v.get<std::string>();
}

}  // namespace

Result<RelabelAction> ParseRelabelAction(std::string_view s) {
  std::string lower(s);
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  for (const auto& a : kActions)
    if (a.name == lower) return a.action;
  return Fail("unknown relabel action \"" + std::string(s) + "\"");
}

std::string_view RelabelActionName(RelabelAction a) {
  for (const auto& x : kActions)
    if (x.action == a) return x.name;
  return "replace";
}

Status RelabelConfig::Compile() {
  const std::string act(RelabelActionName(action));
  for (const auto& s : source_labels)
    if (!ValidName(s)) return Fail("\"" + s + "\" is not a valid source label name");
  switch (action) {
    case RelabelAction::kReplace:
    case RelabelAction::kHashMod:
    case RelabelAction::kLowercase:
    case RelabelAction::kUppercase:
    case RelabelAction::kKeepEqual:
    case RelabelAction::kDropEqual:
      if (target_label.empty())
        return Fail("relabel configuration for " + act + " action requires 'target_label' value");
      // Only replace expands $references in the target label.
      if (action != RelabelAction::kReplace && !ValidName(target_label))
        return Fail("\"" + target_label + "\" is invalid 'target_label' for " + act + " action");
      if (action == RelabelAction::kReplace && !ValidUtf8(target_label))
        return Fail("\"" + target_label + "\" is invalid 'target_label' for replace action");
      break;
    default:
      break;
  }
  if (action == RelabelAction::kHashMod && modulus == 0)
    return Fail("relabel configuration for hashmod requires non-zero modulus");
  if (action == RelabelAction::kKeepEqual || action == RelabelAction::kDropEqual) {
    if (regex != kDefaultRegex || modulus != 0 || separator != kDefaultSeparator ||
        replacement != kDefaultReplacement)
      return Fail(act +
                  " action requires only 'source_labels' and 'target_label', and no other "
                  "fields");
  }
  if (action == RelabelAction::kLabelDrop || action == RelabelAction::kLabelKeep) {
    if (!source_labels.empty() || !target_label.empty() || modulus != 0 ||
        separator != kDefaultSeparator || replacement != kDefaultReplacement)
      return Fail(act + " action requires only 'regex', and no other fields");
  }
  if (action == RelabelAction::kLabelMap && replacement.empty())
    return Fail("labelmap action requires a non-empty 'replacement'");
  RE2::Options opts;
  opts.set_dot_nl(true);
  opts.set_log_errors(false);
  // Compile the expression alone first: its error message is the user's, and
  // "a)(b" must not slip through by closing our anchoring group.
  if (RE2 alone(regex, opts); !alone.ok())
    return Fail("invalid regex \"" + regex + "\": " + alone.error());
  auto re = std::make_shared<RE2>("^(?:" + regex + ")$", opts);
  if (!re->ok()) return Fail("invalid regex \"" + regex + "\": " + re->error());
  re_ = std::move(re);
  return Status::Ok();
}

Result<RelabelConfig> ParseRelabelConfig(const Json& j) {
  if (!j.is_object()) return Fail("must be a mapping");
  RelabelConfig c;
  bool source_seen = false, target_seen = false;
  for (const auto& [k, v] : j.items()) {
    if (v.is_null()) continue;
    if (k == "source_labels" || k == "sourceLabels") {
      if (source_seen) return Fail("both source_labels and sourceLabels are set");
      source_seen = true;
      if (!v.is_array()) return Fail(k + " must be a list of strings");
      for (const auto& e : v) {
        if (!e.is_string()) return Fail(k + " must be a list of strings");
        c.source_labels.push_back(e.get<std::string>());
      }
    } else if (k == "target_label" || k == "targetLabel") {
      if (target_seen) return Fail("both target_label and targetLabel are set");
      target_seen = true;
      BERTH_ASSIGN_OR_RETURN(c.target_label, StringField(v, k));
    } else if (k == "separator") {
      BERTH_ASSIGN_OR_RETURN(c.separator, StringField(v, k));
    } else if (k == "regex") {
      BERTH_ASSIGN_OR_RETURN(c.regex, StringField(v, k));
    } else if (k == "replacement") {
      BERTH_ASSIGN_OR_RETURN(c.replacement, StringField(v, k));
    } else if (k == "action") {
      BERTH_ASSIGN_OR_RETURN(std::string a, StringField(v, k));
      BERTH_ASSIGN_OR_RETURN(c.action, ParseRelabelAction(a));
    } else if (k == "modulus") {
      if (v.is_number_unsigned()) {
        c.modulus = v.get<uint64_t>();
      } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
        c.modulus = static_cast<uint64_t>(v.get<int64_t>());
      } else if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        auto r = std::from_chars(s.data(), s.data() + s.size(), c.modulus);
        if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size())
          return Fail("modulus must be a non-negative integer, got \"" + s + "\"");
      } else {
        return Fail("modulus must be a non-negative integer");
      }
    } else {
      return Fail("unknown field \"" + k + "\"");
    }
  }
  BERTH_RETURN_IF_ERROR(c.Compile());
  return c;
}

Result<RelabelConfig> ParseRelabelConfig(const YAML::Node& node) {
  Json j;
  try {
    j = YamlToJson(node);
  } catch (const std::exception& e) {
    return Fail(std::string("bad YAML: ") + e.what());
  }
  return ParseRelabelConfig(j);
}

Result<std::vector<RelabelConfig>> ParseRelabelConfigs(const Json& j) {
  std::vector<RelabelConfig> out;
  if (j.is_null()) return out;
  if (!j.is_array()) return Fail("relabel configs must be a list");
  for (size_t i = 0; i < j.size(); ++i) {
    auto c = ParseRelabelConfig(j[i]);
    if (!c.ok()) return Indexed(i, c.status());
    out.push_back(std::move(c).value());
  }
  return out;
}

Result<std::vector<RelabelConfig>> ParseRelabelConfigs(const YAML::Node& node) {
  Json j;
  try {
    if (!node.IsDefined()) return std::vector<RelabelConfig>{};
    j = YamlToJson(node);
  } catch (const std::exception& e) {
    return Fail(std::string("bad YAML: ") + e.what());
  }
  return ParseRelabelConfigs(j);
}

Result<std::optional<Labels>> Relabel(const Labels& labels,
                                      const std::vector<RelabelConfig>& configs) {
  Builder b(labels);
  bool dropped = false;
  std::string joined, scratch;
  for (size_t i = 0; i < configs.size(); ++i) {
    const RelabelConfig& c = configs[i];
    const RE2* re = c.re();
    RelabelConfig local;
    if (re == nullptr) {
      local = c;
      Status st = local.Compile();
      if (!st.ok()) return Indexed(i, st);
      re = local.re();
    }
    BERTH_RETURN_IF_ERROR(Apply(c, *re, &b, &dropped, &joined, &scratch));
    if (dropped) return std::optional<Labels>();
  }
  return std::optional<Labels>(std::move(b).Build());
}

}  // namespace berth::monitor::scrape
