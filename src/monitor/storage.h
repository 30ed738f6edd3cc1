// The storage contract between writers (scraping, remote write, rules) and
// readers (PromQL, the HTTP API). Times are milliseconds since the Unix epoch.
#pragma once

#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "monitor/labels.h"

namespace berth::monitor {

// Prometheus's staleness marker: a NaN with this exact bit pattern, written
// when a series disappears from a scrape. Ordinary NaNs are distinct values.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
inline double StaleNaN() { return std::bit_cast<double>(kStaleNaNBits); }
inline bool IsStaleNaN(double v) { return std::bit_cast<uint64_t>(v) == kStaleNaNBits; }

struct Sample {
  int64_t t;
  double v;
};

struct SeriesSamples {
  Labels labels;
  std::vector<Sample> samples;  // ascending by time
};

// A read view over a time range. Implementations may be used by one thread.
class Querier {
 public:
  virtual ~Querier() = default;
  // Every series matching all matchers that has samples in [mint, maxt], with
  // those samples (staleness markers included). Sorted by labels.
  virtual Result<std::vector<SeriesSamples>> Select(int64_t mint, int64_t maxt,
                                                    const std::vector<Matcher>& matchers) = 0;
  // Label sets only (for /api/v1/series): no samples decoded.
  virtual Result<std::vector<Labels>> Series(int64_t mint, int64_t maxt,
                                             const std::vector<Matcher>& matchers) = 0;
  // Sorted, unique label names / values of series with samples in range that
  // match every matcher (all series when matchers is empty).
  virtual Result<std::vector<std::string>> LabelNames(int64_t mint, int64_t maxt,
                                                      const std::vector<Matcher>& matchers) = 0;
  virtual Result<std::vector<std::string>> LabelValues(const std::string& name, int64_t mint,
                                                       int64_t maxt,
                                                       const std::vector<Matcher>& matchers) = 0;
};

// A batch of writes. Nothing is visible or durable before Commit; Commit
// returning OK means the batch is in the write-ahead log.
class Appender {
 public:
  virtual ~Appender() = default;
  // Errors: out of order / out of bounds / duplicate timestamp with another
  // value (Invalid), malformed labels (BadRequest). A failed sample does not
  // spoil the batch; the caller decides whether to go on.
  virtual Status Append(const Labels& labels, int64_t t, double v) = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual std::unique_ptr<Querier> NewQuerier() = 0;
  virtual std::unique_ptr<Appender> NewAppender() = 0;
};

}  // namespace berth::monitor
