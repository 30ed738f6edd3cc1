// An alert as the rule evaluator hands it to alert routing (rules/ →
// alerting/), in Alertmanager's model: identity is the label set; an alert
// with ends_at in the past is resolved.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "monitor/labels.h"

namespace berth::monitor {

struct Alert {
  Labels labels;       // alertname, the rule's labels, the series' labels
  Labels annotations;  // templated summary, description, ...
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;  // 0: unknown (firing); past: resolved
  std::string generator_url;
};

// Where firing and resolved alerts go. Send() must not block for long: the
// rule evaluator calls it after every evaluation of an alerting rule.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void Send(std::vector<Alert> alerts) = 0;
};

}  // namespace berth::monitor
