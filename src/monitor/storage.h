// The storage contract between writers (scraping, remote write, rules) and
// readers (PromQL, the HTTP API). Times are milliseconds since the Unix epoch.
#pragma once

#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "monitor/histogram.h"
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

// A native histogram sample. The histogram is shared and never modified
// once stored; copy it to change it.
struct HistogramSample {
  int64_t t;
  HistogramPtr h;
};

// A series may switch between floats and native histograms over time; no
// timestamp appears in both vectors. A staleness marker is always a float
// sample, also in a histogram series.
struct SeriesSamples {
  Labels labels;
  std::vector<Sample> samples;              // floats, ascending by time
  std::vector<HistogramSample> histograms;  // ascending by time
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

  // An opaque handle to a stored series, for writers that append to the
  // same series again and again (a scrape target's series cache): Append
  // with a handle skips finding the series by its labels. Empty at first;
  // the storage fills it in and may replace it (when the series it named
  // was removed meanwhile). Not tied to one Appender.
  using SeriesRef = std::shared_ptr<void>;
  // Append(labels, t, v) using and updating *ref. `labels` must be the
  // series' labels whether or not *ref is set.
  virtual Status AppendCached(SeriesRef* ref, const Labels& labels, int64_t t, double v) {
    (void)ref;
    return Append(labels, t, v);
  }
  // A native histogram sample; the same ordering rules as floats apply
  // across both kinds (one timestamp holds one sample of either kind).
  virtual Status AppendHistogram(const Labels& labels, int64_t t, const FloatHistogram& h) = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;

  // A hint: about n samples will be appended (saves regrowing buffers).
  virtual void Reserve(size_t n) { (void)n; }

  // Whether Commit waits for the write-ahead log to reach the disk
  // (fdatasync; the default), or only for it to be written to the log file:
  // the batch then survives the process being killed but not the machine
  // losing power until the log's next sync (within the storage's
  // housekeeping interval). For writers nobody waits on, such as scrapes.
  void set_sync(bool sync) { sync_ = sync; }

 protected:
  bool sync_ = true;
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual std::unique_ptr<Querier> NewQuerier() = 0;
  virtual std::unique_ptr<Appender> NewAppender() = 0;
};

}  // namespace berth::monitor
