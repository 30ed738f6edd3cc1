// libFuzzer target for what a scrape reads from targets: metric exposition in
// the text format and in OpenMetrics. Besides not crashing: every accepted
// sample has a metric name and labels without empty values, the streaming
// parser agrees with ParseExposition, hints (ExpectSeries) change nothing the
// parser reports, and a sample printed back in the text format parses to the
// same label set.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

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

// What a streaming parse reports, sample by sample, ending with the error if
// any. With `hints`, sample k is parsed with hints[k + shift] expected, as a
// scrape does with its cache (shift 0), or with the wrong one (shift 1).
std::vector<std::string> Stream(std::string_view in, berth::monitor::scrape::ExpositionFormat f,
                                const std::vector<std::string>* hints, size_t shift) {
  std::vector<std::string> out;
  ExpositionParser p(in, f);
  for (;;) {
    size_t k = out.size() + shift;
    if (hints != nullptr) p.ExpectSeries(k < hints->size() ? (*hints)[k] : std::string_view());
    auto e = p.Next();
    if (!e.ok()) {
      out.push_back("error: " + e.status().message());
      return out;
    }
    if (*e == ExpositionParser::Entry::kEnd) return out;
    if (*e != ExpositionParser::Entry::kSample) continue;
    out.push_back(std::string(p.series()) + "\x01" + p.labels().String() + "\x01" +
                  p.metric_name() + "\x01" + Number(p.value()) + "\x01" +
                  std::to_string(p.timestamp().value_or(-1)));
  }
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

    // Hints from this body's own series, right or one off, change nothing.
    auto format = berth::monitor::scrape::FormatForContentType(ct);
    std::vector<std::string> plain = Stream(in, format, nullptr, 0);
    std::vector<std::string> hints;
    for (const std::string& s : plain)
      if (!s.starts_with("error: ")) hints.push_back(s.substr(0, s.find('\x01')));
    Check(Stream(in, format, &hints, 0) == plain);
    Check(Stream(in, format, &hints, 1) == plain);
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
