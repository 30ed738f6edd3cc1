// libFuzzer target for what a scrape reads from targets: metric exposition in
// the text format and in OpenMetrics. Besides not crashing: every accepted
// sample has a metric name and labels without empty values, the streaming
// parser agrees with ParseExposition, and a sample printed back in the text
// format parses to the same label set.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "monitor/scrape/exposition.h"

namespace {

using berth::monitor::scrape::ExpositionParser;
using berth::monitor::scrape::ParseExposition;

void Check(bool ok) {
  if (!ok) std::abort();
}

// The sample in the text format, every name quoted so that any accepted name
// round-trips.
std::string Render(const berth::monitor::Labels& ls, double v);

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string Render(const berth::monitor::Labels& ls, double v) {
  using berth::monitor::EscapeLabelValue;
  std::string out = "{\"" + EscapeLabelValue(ls.Name()) + "\"";
  for (const auto& l : ls) {
    if (l.name == berth::monitor::kMetricName) continue;
    out += ",\"" + EscapeLabelValue(l.name) + "\"=\"" + EscapeLabelValue(l.value) + "\"";
  }
  return out + "} " + Number(v) + "\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (std::string_view ct :
       {"text/plain; version=0.0.4", "application/openmetrics-text; version=1.0.0"}) {
    auto parsed = ParseExposition(in, ct);

    // The streaming parser reaches the same verdict and sample count.
    ExpositionParser p(in, berth::monitor::scrape::FormatForContentType(ct));
    size_t samples = 0;
    bool ok = true;
    for (;;) {
      auto e = p.Next();
      if (!e.ok()) {
        ok = false;
        break;
      }
      if (*e == ExpositionParser::Entry::kEnd) break;
      if (*e == ExpositionParser::Entry::kSample) {
        ++samples;
        (void)p.exemplar();
        Check(!p.series().empty());
      } else {
        (void)p.metadata_name();
        (void)p.help();
        (void)p.unit();
      }
    }
    Check(ok == parsed.ok());
    if (!parsed.ok()) continue;
    Check(samples == parsed->samples.size());

    for (const auto& s : parsed->samples) {
      Check(!s.labels.Name().empty());
      for (const auto& l : s.labels) Check(!l.value.empty());
      Check(s.family < static_cast<int>(parsed->families.size()));
      auto again = ParseExposition(Render(s.labels, s.value), "text/plain");
      Check(again.ok() && again->samples.size() == 1 && again->samples[0].labels == s.labels);
    }
  }
  return 0;
}
