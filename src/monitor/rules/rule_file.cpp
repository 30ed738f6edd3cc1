#include "monitor/rules/rule_file.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "core/strings.h"
#include "monitor/labels.h"
#include "monitor/promql/parser.h"
#include "monitor/rules/template.h"

namespace berth::monitor::rules {
namespace {

// Rule files are read with Go's typing, where every scalar decodes into a
// string field from its text; so scalars stay strings here (an unquoted
// `severity: 1` is the label value "1").
Result<Json> YamlToJson(const YAML::Node& n, int depth) {
  if (depth > 64) return Invalid("rule file nesting too deep");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return Json(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() != "!" && (s == "~" || s == "null" || s == "Null" || s == "NULL"))
        return Json(nullptr);
      return Json(s);
    }
    case YAML::NodeType::Sequence: {
      Json a = Json::array();
      for (const auto& e : n) {
        auto v = YamlToJson(e, depth + 1);
        if (!v.ok()) return v;
        a.push_back(std::move(v).value());
      }
      return a;
    }
    case YAML::NodeType::Map: {
      Json o = Json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) return Invalid("rule file map keys must be scalars");
        auto v = YamlToJson(kv.second, depth + 1);
        if (!v.ok()) return v;
        o[kv.first.Scalar()] = std::move(v).value();
      }
      return o;
    }
  }
  return Json(nullptr);
}

// A scalar field's text (JSON numbers and booleans included).
std::optional<std::string> ScalarText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_float()) {
    std::string s = v.dump();
    return s;
  }
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return std::nullopt;
}

struct Decoder {
  std::vector<std::string> errs;

  void Err(std::string m) { errs.push_back(std::move(m)); }

  bool String(const Json& v, const std::string& where, const std::string& field, std::string* out) {
    if (v.is_null()) return true;
    auto s = ScalarText(v);
    if (!s) {
      Err(where + "field '" + field + "' must be a string");
      return false;
    }
    *out = *s;
    return true;
  }

  void Duration(const Json& v, const std::string& where, const std::string& field, int64_t* out) {
    std::string s;
    if (v.is_null() || !String(v, where, field, &s)) return;
    auto d = promql::ParseDuration(s);
    if (!d.ok()) {
      Err(where + "invalid field '" + field + "': " + d.status().message());
      return;
    }
    *out = *d;
  }

  void Map(const Json& v, const std::string& where, const std::string& field,
           std::map<std::string, std::string>* out) {
    if (v.is_null()) return;
    if (!v.is_object()) {
      Err(where + "field '" + field + "' must be a map of strings");
      return;
    }
    for (const auto& [k, e] : v.items()) {
      auto s = e.is_null() ? std::optional<std::string>("") : ScalarText(e);
      if (!s) {
        Err(where + "field '" + field + "' must be a map of strings");
        return;
      }
      (*out)[k] = *s;
    }
  }

  void Rule(const Json& r, const std::string& group, size_t idx, RuleDef* out) {
    std::string where = "group " + QuoteString(group) + ", rule " + std::to_string(idx + 1) + ": ";
    if (!r.is_object()) {
      Err(where + "a rule must be a map");
      return;
    }
    if (auto it = r.find("alert"); it != r.end()) String(*it, where, "alert", &out->alert);
    if (auto it = r.find("record"); it != r.end()) String(*it, where, "record", &out->record);
    // From here on, errors name the rule as promtool does.
    where = "group " + QuoteString(group) + ", rule " + std::to_string(idx + 1) + ", " +
            QuoteString(out->Name()) + ": ";
    for (const auto& [k, v] : r.items()) {
      if (k == "alert" || k == "record") continue;
      if (k == "expr") {
        String(v, where, "expr", &out->expr);
      } else if (k == "for") {
        Duration(v, where, "for", &out->for_ms);
      } else if (k == "keep_firing_for") {
        Duration(v, where, "keep_firing_for", &out->keep_firing_for_ms);
      } else if (k == "labels") {
        Map(v, where, "labels", &out->labels);
      } else if (k == "annotations") {
        Map(v, where, "annotations", &out->annotations);
      } else {
        Err(where + "field " + k + " not found in type rulefmt.Rule");
      }
    }
  }

  void Group(const Json& g, size_t idx, RuleGroupDef* out) {
    if (!g.is_object()) {
      Err("group " + std::to_string(idx + 1) + ": a group must be a map");
      return;
    }
    if (auto it = g.find("name"); it != g.end())
      String(*it, "group " + std::to_string(idx + 1) + ": ", "name", &out->name);
    std::string where = "group " + QuoteString(out->name) + ": ";
    for (const auto& [k, v] : g.items()) {
      if (k == "name") continue;
      if (k == "interval") {
        Duration(v, where, "interval", &out->interval_ms);
      } else if (k == "query_offset") {
        int64_t d = -1;
        Duration(v, where, "query_offset", &d);
        out->query_offset_ms = d;
      } else if (k == "limit") {
        std::string s;
        if (!String(v, where, "limit", &s) || v.is_null()) continue;
        char* end = nullptr;
        long long n = std::strtoll(s.c_str(), &end, 10);
        if (s.empty() || !end || *end != '\0' || n < 0)
          Err(where + "invalid field 'limit': " + QuoteString(s) +
              " is not a non-negative integer");
        else
          out->limit = n;
      } else if (k == "labels") {
        Map(v, where, "labels", &out->labels);
      } else if (k == "rules") {
        if (v.is_null()) continue;
        if (!v.is_array()) {
          Err(where + "field 'rules' must be a list");
          continue;
        }
        out->rules.resize(v.size());
        for (size_t i = 0; i < v.size(); ++i) Rule(v[i], out->name, i, &out->rules[i]);
      } else if (k == "partial_response_strategy") {
        // Thanos's field, present in some PrometheusRule objects: ignored.
      } else {
        Err(where + "field " + k + " not found in type rulefmt.RuleGroup");
      }
    }
  }
};

std::vector<std::string> ValidateGroups(const std::vector<RuleGroupDef>& groups) {
  std::vector<std::string> errs;
  std::set<std::string> seen;
  for (const auto& g : groups) {
    if (g.name.empty()) errs.push_back("Groupname must not be empty");
    if (!seen.insert(g.name).second)
      errs.push_back("groupname: " + QuoteString(g.name) + " is repeated in the same file");
    for (const auto& [k, v] : g.labels) {
      if (!IsValidLabelName(k) || k == kMetricName)
        errs.push_back("group " + QuoteString(g.name) + ": invalid label name: " + k);
      if (!IsValidUtf8(v))
        errs.push_back("group " + QuoteString(g.name) + ": invalid label value: " + v);
    }
    for (size_t i = 0; i < g.rules.size(); ++i) {
      const RuleDef& r = g.rules[i];
      std::string where = "group " + QuoteString(g.name) + ", rule " + std::to_string(i + 1) +
                          ", " + QuoteString(r.Name()) + ": ";
      auto err = [&](const std::string& m) { errs.push_back(where + m); };
      if (!r.record.empty() && !r.alert.empty())
        err("only one of 'record' and 'alert' must be set");
      if (r.record.empty() && r.alert.empty()) err("one of 'record' or 'alert' must be set");
      if (r.expr.empty()) {
        err("field 'expr' must be set in rule");
      } else if (auto e = promql::Parse(r.expr); !e.ok()) {
        err("could not parse expression: " + e.status().message());
      }
      if (!r.record.empty()) {
        if (!r.annotations.empty()) err("invalid field 'annotations' in recording rule");
        if (r.for_ms != 0) err("invalid field 'for' in recording rule");
        if (r.keep_firing_for_ms != 0) err("invalid field 'keep_firing_for' in recording rule");
        if (!IsValidMetricName(r.record)) err("invalid recording rule name: " + r.record);
      }
      for (const auto& [k, v] : r.labels) {
        if (!IsValidLabelName(k) || k == kMetricName) err("invalid label name: " + k);
        if (!IsValidUtf8(v)) err("invalid label value: " + v);
      }
      for (const auto& [k, v] : r.annotations)
        if (!IsValidLabelName(k)) err("invalid annotation name: " + k);
      if (!r.alert.empty()) {
        for (const auto& [k, v] : r.labels)
          if (auto t = Template::Parse(v, "__alert_" + r.alert); !t.ok())
            err("label " + QuoteString(k) + ": " + t.status().message());
        for (const auto& [k, v] : r.annotations)
          if (auto t = Template::Parse(v, "__alert_" + r.alert); !t.ok())
            err("annotation " + QuoteString(k) + ": " + t.status().message());
      }
    }
  }
  return errs;
}

Status Report(const std::vector<std::string>& errs) {
  if (errs.empty()) return Status::Ok();
  std::string msg;
  std::vector<Cause> causes;
  for (const auto& e : errs) {
    if (!msg.empty()) msg += "\n";
    msg += e;
    causes.push_back({"FieldValueInvalid", e, "spec.groups"});
  }
  return Status(Code::kInvalid, msg).WithCauses(std::move(causes));
}

}  // namespace

std::string RuleDef::Text() const {
  Json j = {{"record", record},
            {"alert", alert},
            {"expr", expr},
            {"for", for_ms},
            {"keep_firing_for", keep_firing_for_ms},
            {"labels", labels},
            {"annotations", annotations}};
  return j.dump();
}

std::string RuleGroupDef::Text() const {
  Json rs = Json::array();
  for (const auto& r : rules) rs.push_back(r.Text());
  Json j = {{"name", name},   {"interval", interval_ms}, {"query_offset", query_offset_ms},
            {"limit", limit}, {"labels", labels},        {"rules", rs}};
  return j.dump();
}

Result<std::vector<RuleGroupDef>> ParseRuleGroupsJson(const Json& root) {
  Decoder d;
  std::vector<RuleGroupDef> groups;
  if (root.is_null()) return groups;
  if (!root.is_object()) return Invalid("rule file must be a map with a 'groups' list");
  for (const auto& [k, v] : root.items()) {
    if (k != "groups") {
      d.Err("field " + k + " not found in type rulefmt.RuleGroups");
      continue;
    }
    if (v.is_null()) continue;
    if (!v.is_array()) {
      d.Err("field 'groups' must be a list");
      continue;
    }
    groups.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) d.Group(v[i], i, &groups[i]);
  }
  std::vector<std::string> errs = std::move(d.errs);
  for (auto& e : ValidateGroups(groups)) errs.push_back(std::move(e));
  BERTH_RETURN_IF_ERROR(Report(errs));
  return groups;
}

Result<std::vector<RuleGroupDef>> ParseRuleGroups(const YAML::Node& root) {
  Result<Json> j = Json(nullptr);
  try {
    j = YamlToJson(root, 0);
  } catch (const YAML::Exception& e) {
    return Invalid(std::string("invalid rule file: ") + e.what());
  }
  if (!j.ok()) return j.status();
  return ParseRuleGroupsJson(*j);
}

Result<std::vector<RuleGroupDef>> ParseRuleFile(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (i < text.size() && text[i] == '{') {
    auto j = ParseJson(text);
    if (j.ok()) return ParseRuleGroupsJson(*j);
  }
  YAML::Node n;
  try {
    n = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Invalid(std::string("invalid rule file: ") + e.what());
  }
  return ParseRuleGroups(n);
}

Status ValidateRuleGroups(const std::vector<RuleGroupDef>& groups) {
  return Report(ValidateGroups(groups));
}

}  // namespace berth::monitor::rules
