// Process-wide metrics in the Prometheus text exposition format (0.0.4).
//
// Families are declared once (name, type, help); samples are addressed by a
// pre-rendered label string such as `verb="GET",code="200"`. Gauge callbacks are
// evaluated at render time so values like store size are never stale.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace berth::metrics {

enum class Type { kCounter, kGauge, kHistogram };

void Describe(const std::string& name, Type type, const std::string& help,
              std::vector<double> buckets = {});
void Add(const std::string& name, const std::string& labels, double delta = 1);
void Set(const std::string& name, const std::string& labels, double value);
void Observe(const std::string& name, const std::string& labels, double value);
void GaugeFunc(const std::string& name, const std::string& help, std::function<double()> fn);

// Renders every family. Output is deterministic (families and series sorted).
std::string Render();

// Escapes a label value for the exposition format.
std::string EscapeLabel(const std::string& v);

}  // namespace berth::metrics
