// The series of the monitoring benchmark, shared by the scrape targets
// (metrics_targets) and the data set loaded into both TSDBs (monitor_load),
// so that every value is a pure function of (target, series, second).
//
// One target exposes 1,000 series, a web service's usual mix:
//   bench_requests_total{handler,method,code}      200 counters
//   bench_errors_total{handler,kind}               300 counters
//   bench_bytes_total{handler,direction}            50 counters
//   bench_request_duration_seconds (histogram)     350 = 25 handlers x (12 buckets + sum + count)
//   bench_queue_length{queue}                       50 gauges
//   bench_temperature_celsius{sensor}               50 gauges
// Counters grow by a per-series rate with jitter (monotonic: a*k + h%a);
// histogram buckets are fixed fractions of the count, so they stay
// cumulative and monotonic; gauges are pseudo-random.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace bench::monseries {

inline constexpr int kSeriesPerTarget = 1000;
inline constexpr int kHandlers = 25;

inline uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
inline uint64_t Hash(uint64_t a, uint64_t b, uint64_t c = 0) { return Mix(Mix(Mix(a) ^ b) ^ c); }

struct Series {
  enum Kind { kCounter, kBucket, kHistSum, kHistCount, kQueue, kTemperature } kind;
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // without target labels
  std::string family;                                       // for # TYPE
  const char* type;                                         // counter, histogram, gauge
  int hist = -1;                                            // histogram series: the handler
  double fraction = 1;  // bucket: share of the count at or below le
};

// The 1,000 series of every target, in exposition order (families together).
inline const std::vector<Series>& Layout() {
  static const std::vector<Series> layout = [] {
    std::vector<Series> v;
    auto h = [](int i) { return "h" + std::to_string(i); };
    for (int i = 0; i < kHandlers; ++i)
      for (const char* m : {"GET", "POST"})
        for (const char* c : {"200", "404", "500", "503"})
          v.push_back({Series::kCounter,
                       "bench_requests_total",
                       {{"handler", h(i)}, {"method", m}, {"code", c}},
                       "bench_requests_total",
                       "counter"});
    for (int i = 0; i < kHandlers; ++i)
      for (int k = 0; k < 12; ++k)
        v.push_back({Series::kCounter,
                     "bench_errors_total",
                     {{"handler", h(i)}, {"kind", "k" + std::to_string(k)}},
                     "bench_errors_total",
                     "counter"});
    for (int i = 0; i < kHandlers; ++i)
      for (const char* d : {"in", "out"})
        v.push_back({Series::kCounter,
                     "bench_bytes_total",
                     {{"handler", h(i)}, {"direction", d}},
                     "bench_bytes_total",
                     "counter"});
    static const char* les[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                "0.5",   "1",    "2.5",   "5",    "10",  "+Inf"};
    for (int i = 0; i < kHandlers; ++i) {
      // A per-handler latency profile: the share below each bound rises
      // along a curve whose midpoint moves with the handler.
      double mid = 3 + (i % 5);
      for (int b = 0; b < 12; ++b) {
        double f = b == 11 ? 1.0 : 1.0 / (1.0 + std::exp(-(b - mid) * 1.3));
        v.push_back({Series::kBucket,
                     "bench_request_duration_seconds_bucket",
                     {{"handler", h(i)}, {"le", les[b]}},
                     "bench_request_duration_seconds",
                     "histogram",
                     i,
                     f});
      }
      v.push_back({Series::kHistSum,
                   "bench_request_duration_seconds_sum",
                   {{"handler", h(i)}},
                   "bench_request_duration_seconds",
                   "histogram",
                   i});
      v.push_back({Series::kHistCount,
                   "bench_request_duration_seconds_count",
                   {{"handler", h(i)}},
                   "bench_request_duration_seconds",
                   "histogram",
                   i});
    }
    for (int i = 0; i < 50; ++i)
      v.push_back({Series::kQueue,
                   "bench_queue_length",
                   {{"queue", "q" + std::to_string(i)}},
                   "bench_queue_length",
                   "gauge"});
    for (int i = 0; i < 50; ++i)
      v.push_back({Series::kTemperature,
                   "bench_temperature_celsius",
                   {{"sensor", "s" + std::to_string(i)}},
                   "bench_temperature_celsius",
                   "gauge"});
    return v;
  }();
  return layout;
}

// A monotonic counter: a*k + jitter in [0, a), k seconds since `base`.
inline double CounterAt(uint64_t key, int64_t k) {
  int64_t a = 1 + static_cast<int64_t>(Mix(key) % 20);
  return static_cast<double>(a * k + static_cast<int64_t>(Hash(key, static_cast<uint64_t>(k)) % a));
}

// The value of series `s` of target `target` at second `t` (unix seconds),
// counters counting since `base` (a second <= t).
inline double ValueAt(int target, int s, int64_t t, int64_t base) {
  const Series& se = Layout()[s];
  uint64_t key = Hash(static_cast<uint64_t>(target), static_cast<uint64_t>(s));
  int64_t k = t - base;
  switch (se.kind) {
    case Series::kCounter:
      return CounterAt(key, k);
    case Series::kBucket:
    case Series::kHistCount:
    case Series::kHistSum: {
      double count =
          CounterAt(Hash(static_cast<uint64_t>(target), 7777, static_cast<uint64_t>(se.hist)), k);
      if (se.kind == Series::kHistCount) return count;
      if (se.kind == Series::kHistSum)
        return static_cast<double>(static_cast<int64_t>(count * 137)) / 1000.0;
      return static_cast<double>(static_cast<int64_t>(count * se.fraction));
    }
    case Series::kQueue:
      return static_cast<double>(Hash(key, static_cast<uint64_t>(t)) % 50);
    case Series::kTemperature:
      return 20.0 + static_cast<double>(Hash(key, static_cast<uint64_t>(t)) % 200) / 10.0;
  }
  return 0;
}

// Shortest text that parses back to the same double (so that text and
// remote write deliver bit-identical values).
inline void AppendDouble(std::string* out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// `name{a="b",...` without the closing brace (target labels may follow).
inline void AppendSeriesOpen(std::string* out, const Series& se) {
  out->append(se.name);
  out->push_back('{');
  bool first = true;
  for (const auto& [n, v] : se.labels) {
    if (!first) out->push_back(',');
    first = false;
    out->append(n);
    out->append("=\"");
    out->append(v);
    out->push_back('"');
  }
}

// The text exposition of one target at second t (what a scrape returns).
inline void RenderTarget(std::string* out, int target, int64_t t, int64_t base) {
  const auto& layout = Layout();
  const std::string* family = nullptr;
  for (int s = 0; s < static_cast<int>(layout.size()); ++s) {
    const Series& se = layout[s];
    if (!family || *family != se.family) {
      family = &se.family;
      out->append("# TYPE ").append(se.family).append(" ").append(se.type).append("\n");
    }
    AppendSeriesOpen(out, se);
    out->append("} ");
    AppendDouble(out, ValueAt(target, s, t, base));
    out->push_back('\n');
  }
}

}  // namespace bench::monseries
