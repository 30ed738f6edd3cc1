// Relabeling with Prometheus's relabel_configs semantics, for targets
// (relabel_configs, ServiceMonitor relabelings) and scraped samples
// (metric_relabel_configs, metricRelabelings).
//
// A config is validated and its regular expression compiled once, by
// RelabelConfig::Compile or by the YAML/JSON parsers (which call it). Regular
// expressions are RE2, anchored at both ends, with "." matching newlines.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "monitor/labels.h"

namespace YAML {
class Node;
}
namespace re2 {
class RE2;
}

namespace berth::monitor::scrape {

enum class RelabelAction {
  kReplace,
  kKeep,
  kDrop,
  kKeepEqual,
  kDropEqual,
  kHashMod,
  kLabelMap,
  kLabelDrop,
  kLabelKeep,
  kLowercase,
  kUppercase,
};

// Case-insensitive, so both "labeldrop" and the Prometheus Operator's
// "LabelDrop" read. Unknown names are Invalid.
Result<RelabelAction> ParseRelabelAction(std::string_view s);
std::string_view RelabelActionName(RelabelAction a);  // lowercase

struct RelabelConfig {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::string regex = "(.*)";
  uint64_t modulus = 0;
  std::string target_label;
  std::string replacement = "$1";
  RelabelAction action = RelabelAction::kReplace;

  // Checks the fields against the action (e.g. replace needs target_label,
  // hashmod a non-zero modulus) and compiles `regex`. Invalid on error.
  Status Compile();
  bool compiled() const { return re_ != nullptr; }
  const re2::RE2* re() const { return re_.get(); }

 private:
  std::shared_ptr<const re2::RE2> re_;
};

// One config from a YAML mapping or JSON object. Both the Prometheus spelling
// (source_labels, target_label) and the Kubernetes one (sourceLabels,
// targetLabel) are accepted; unknown fields are errors so typos surface.
// Absent (or null) fields take Prometheus's defaults. The result is compiled.
Result<RelabelConfig> ParseRelabelConfig(const YAML::Node& node);
Result<RelabelConfig> ParseRelabelConfig(const Json& j);
// A sequence of them (null or absent reads as empty). Errors name the index.
Result<std::vector<RelabelConfig>> ParseRelabelConfigs(const YAML::Node& node);
Result<std::vector<RelabelConfig>> ParseRelabelConfigs(const Json& j);

// Applies the configs in order. nullopt when a keep/drop-style step drops the
// set. A config that is not compiled is compiled for this call (and an invalid
// one is an error); compile up front to pay for that once.
Result<std::optional<Labels>> Relabel(const Labels& labels,
                                      const std::vector<RelabelConfig>& configs);

}  // namespace berth::monitor::scrape
