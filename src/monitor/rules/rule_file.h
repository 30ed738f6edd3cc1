// Prometheus rule files: groups of recording and alerting rules, read from a
// YAML document (a rule file) or from JSON (a PrometheusRule's spec, which
// has the same shape), and validated the way `promtool check rules` does.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace YAML {
class Node;
}

namespace berth::monitor::rules {

struct RuleDef {
  std::string record;  // exactly one of record / alert is set
  std::string alert;
  std::string expr;
  int64_t for_ms = 0;
  int64_t keep_firing_for_ms = 0;
  std::map<std::string, std::string> labels;       // templates for alerts
  std::map<std::string, std::string> annotations;  // alerts only

  bool IsAlert() const { return !alert.empty(); }
  const std::string& Name() const { return IsAlert() ? alert : record; }
  // The rule as a canonical text: equal texts mean the same rule.
  std::string Text() const;
};

struct RuleGroupDef {
  std::string name;
  int64_t interval_ms = 0;                    // 0: the manager's default
  int64_t query_offset_ms = -1;               // -1: the manager's default
  int64_t limit = 0;                          // 0: no limit on alerts/series per rule
  std::map<std::string, std::string> labels;  // added to every rule (rule labels win)
  std::vector<RuleDef> rules;

  std::string Text() const;
};

// The `groups` of a rule file. Every problem is reported, one per line of
// the Invalid status's message (and one Cause each), in promtool's words:
//   group "g", rule 2, "x": could not parse expression: 1:5: parse error: ...
Result<std::vector<RuleGroupDef>> ParseRuleGroups(const YAML::Node& root);
// The same from JSON: {"groups": [...]} (a PrometheusRule's spec).
Result<std::vector<RuleGroupDef>> ParseRuleGroupsJson(const Json& root);
// YAML or JSON text.
Result<std::vector<RuleGroupDef>> ParseRuleFile(std::string_view text);

// Checks groups built in code (what the parsers run after decoding).
Status ValidateRuleGroups(const std::vector<RuleGroupDef>& groups);

}  // namespace berth::monitor::rules
