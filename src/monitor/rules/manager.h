// Evaluation of recording and alerting rules, as Prometheus's rule manager
// does it.
//
// Groups come from sources (a rule file, one PrometheusRule object) and are
// evaluated every interval, each group in its own phase within the interval,
// its rules in order and each rule's output committed before the next rule
// runs (so later rules see it). Recording rules write their result under the
// record name; series they stop producing get staleness markers. Alerting
// rules keep per-alert state (inactive → pending → firing, `for`,
// `keep_firing_for`), write ALERTS and ALERTS_FOR_STATE, and hand firing and
// resolved alerts to an AlertSink: new ones at once, unchanged firing ones
// again every resend delay, resolved ones with ends_at set.
//
// Replacing a source's groups keeps the state of rules that survive: an
// unchanged group is kept as it is; in a changed group, a rule with the same
// name and labels as an old one takes over its alerts and series.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "monitor/alert.h"
#include "monitor/labels.h"
#include "monitor/promql/engine.h"
#include "monitor/rules/rule_file.h"
#include "monitor/storage.h"

namespace berth::monitor::rules {

struct RuleManagerOptions {
  int64_t default_interval_ms = 60'000;  // groups without `interval`
  int64_t default_query_offset_ms = 0;   // groups without `query_offset`
  Labels external_labels;                // $externalLabels; added to sent alerts that lack them
  std::string external_url;              // $externalURL; prefix of generator_url
  int64_t resend_delay_ms = 60'000;
  // How long a resolved alert stays (and keeps being re-sent as resolved).
  int64_t resolved_retention_ms = 15 * 60'000;
  // Restoring alerts' `for` state after a restart (Prometheus's
  // --rules.alert.for-outage-tolerance and --rules.alert.for-grace-period):
  // on an alerting rule's first evaluation, an alert that is pending takes
  // its start from the newest ALERTS_FOR_STATE sample written within the
  // tolerance, shifted by the time nothing was evaluated; an alert that had
  // less than the grace period left waits the grace period. Rules whose
  // `for` is shorter than the grace period start afresh.
  int64_t for_outage_tolerance_ms = 3'600'000;
  int64_t for_grace_period_ms = 600'000;
  // The wall clock in ms: the evaluation thread's schedule, and the time of
  // staleness markers for removed groups. Tests substitute their own.
  std::function<int64_t()> clock;
};

class RuleManager {
 public:
  RuleManager(Storage* storage, const promql::Engine* engine, AlertSink* sink,
              RuleManagerOptions opts = {});
  ~RuleManager();
  RuleManager(const RuleManager&) = delete;
  RuleManager& operator=(const RuleManager&) = delete;

  // Replaces every group of `source` (the rule file path, or namespace/name
  // of a PrometheusRule). The groups are validated first; on an Invalid
  // status nothing changes. Groups no longer present stop, and their series
  // get staleness markers.
  Status SetGroups(const std::string& source, const std::vector<RuleGroupDef>& groups);
  void RemoveSource(const std::string& source);
  std::vector<std::string> Sources() const;

  // One thread ("berth-rules") evaluates due groups; Stop joins it.
  void Start();
  void Stop();

  // Evaluates one group now, as of time t_ms (tests; the thread uses it too).
  // NotFound for an unknown group; evaluation problems are the rules'
  // health/lastError, not this status.
  Status EvaluateGroupAt(const std::string& source, const std::string& group, int64_t t_ms);

  // The `data` of /api/v1/rules and /api/v1/alerts.
  Json RulesJson() const;
  Json AlertsJson() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Prometheus's generator URL path for an expression: /graph?g0.expr=...&g0.tab=1.
std::string TableLinkForExpression(std::string_view expr);

}  // namespace berth::monitor::rules
