// Prometheus's native histograms: exponential buckets (schema -4..8, each
// bucket's upper bound is 2^(2^-schema) times its lower one) or custom
// buckets (schema -53, bounds in custom_values), a zero bucket, and bucket
// counts stored sparsely as spans of consecutive buckets.
//
// Berth keeps every native histogram as a FloatHistogram (absolute bucket
// counts as doubles), the form PromQL computes with; integer histograms from
// remote write or protobuf scrapes are converted on the way in.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace berth::monitor {

// A run of `length` consecutive buckets, starting `offset` buckets after the
// end of the previous span (after index 0 for the first span).
struct HistogramSpan {
  int32_t offset = 0;
  uint32_t length = 0;
  bool operator==(const HistogramSpan&) const = default;
};

enum class CounterResetHint : uint8_t {
  kUnknown = 0,  // maybe a reset; find out by comparing with the previous
  kCounterReset = 1,
  kNotCounterReset = 2,
  kGauge = 3,  // a gauge histogram: resets do not apply
};

inline constexpr int32_t kCustomBucketsSchema = -53;

struct FloatHistogram {
  CounterResetHint counter_reset_hint = CounterResetHint::kUnknown;
  int32_t schema = 0;
  double zero_threshold = 0;
  double zero_count = 0;
  double count = 0;
  double sum = 0;
  std::vector<HistogramSpan> positive_spans, negative_spans;
  std::vector<double> positive_buckets, negative_buckets;  // absolute counts
  std::vector<double> custom_values;                       // upper bounds, schema -53 only

  bool UsesCustomBuckets() const { return schema == kCustomBucketsSchema; }
  // Exact equality of every field (spans compared as written).
  bool operator==(const FloatHistogram&) const = default;
};

using HistogramPtr = std::shared_ptr<const FloatHistogram>;

// Kahan–Neumaier compensated summation step: returns sum + inc, accumulating
// the lost low-order part in c (PromQL's float sums and histogram sums share
// it, so that both round alike).
inline double KahanAdd(double inc, double sum, double& c) {
  double t = sum + inc;
  if (std::isinf(t)) {
    c = 0;
  } else if (std::fabs(sum) >= std::fabs(inc)) {
    c += (sum - t) + inc;
  } else {
    c += (inc - t) + sum;
  }
  return t;
}

// ---- histogram math (histogram.cpp), Prometheus's FloatHistogram semantics ----

// One bucket with its bounds. Exponential positive buckets are (lower, upper],
// negative ones [lower, upper), the zero bucket [-t, t]; custom buckets are
// (lower, upper] with the first reaching down to -Inf.
struct HistogramBucket {
  double lower = 0, upper = 0;
  bool lower_inclusive = false, upper_inclusive = true;
  double count = 0;
  int32_t index = 0;
};

// Every bucket from the lowest to the highest value: negative buckets, the zero
// bucket (when it has observations), positive buckets. Buckets inside spans
// are listed even when empty.
std::vector<HistogramBucket> AllBuckets(const FloatHistogram& h);

// The upper bound of exponential bucket `index` at `schema`.
double ExponentialBucketUpper(int32_t index, int32_t schema);

// What an addition or subtraction ran into.
struct HistogramOpInfo {
  bool incompatible = false;       // exponential with custom buckets: no result
  bool reset_collision = false;    // a counter-reset hint met a not-counter-reset hint
  bool custom_reconciled = false;  // custom bounds differed and were intersected
};

// h += o / h -= o, reconciling schemas (the lower resolution wins), zero
// thresholds (the wider wins) and custom bounds (their intersection). The
// result drops empty buckets.
HistogramOpInfo HistogramAdd(FloatHistogram& h, const FloatHistogram& o);
HistogramOpInfo HistogramSub(FloatHistogram& h, const FloatHistogram& o);
// Compensated (Kahan) summation: h += o with the lost low-order parts in
// `comp` (start with an empty histogram), then HistogramKahanFinish adds them.
HistogramOpInfo HistogramKahanAdd(FloatHistogram& h, FloatHistogram& comp, const FloatHistogram& o);
void HistogramKahanFinish(FloatHistogram& h, const FloatHistogram& comp);
// The mean of histograms added one by one: a compensated sum divided by the
// count, switching to an incremental mean once the sum would overflow (as
// Prometheus's avg and avg_over_time do).
class HistogramMean {
 public:
  HistogramOpInfo Add(const FloatHistogram& h);
  FloatHistogram Result() const;
  double count() const { return count_; }

 private:
  FloatHistogram sum_, comp_, mean_;
  double count_ = 0;
  bool incremental_ = false;
};
// Whether the count, sum, zero bucket or any bucket is infinite.
bool HistogramHasOverflow(const FloatHistogram& h);
// Keeps the observations below (upper) or above (!upper) rhs, the bucket
// holding rhs interpolated (PromQL's `</` and `>/`).
FloatHistogram HistogramTrim(const FloatHistogram& h, double rhs, bool upper);
// The reset hint Prometheus's TSDB hands out for a stored sample: gauges stay
// gauges; a sample right after another histogram of the same kind is
// kNotCounterReset, or kUnknown when it resets (starting a new chunk); the
// first of a run (prev null) is kUnknown; a sample hinted kCounterReset keeps it.
CounterResetHint StoredCounterResetHint(const FloatHistogram* prev, const FloatHistogram& cur);
// Scales counts, sum and every bucket (a negative factor makes a gauge;
// dividing by zero drops every bucket).
void HistogramMul(FloatHistogram& h, double factor);
void HistogramDiv(FloatHistogram& h, double divisor);
// Drops empty buckets and merges adjacent spans (Prometheus's Compact(0)).
void HistogramCompact(FloatHistogram& h);
// The histogram at a lower resolution (target <= h.schema; exponential only).
FloatHistogram HistogramReduceResolution(const FloatHistogram& h, int32_t target);
// Prometheus's Equals: the same schema, zero bucket, count, sum, bounds and
// non-empty buckets (the reset hint does not count).
bool HistogramEquals(const FloatHistogram& a, const FloatHistogram& b);
// Whether `cur` follows a counter reset after `prev`.
bool HistogramDetectReset(const FloatHistogram& cur, const FloatHistogram& prev);

// histogram_quantile / histogram_fraction on a native histogram. `nan_info`
// (when not null) is set to 1 when NaN observations made the result NaN, 2 when
// they skewed it higher (quantile) or were left out (fraction).
double HistogramQuantile(double q, const FloatHistogram& h, int* nan_info = nullptr);
double HistogramFraction(double lower, double upper, const FloatHistogram& h,
                         int* nan_info = nullptr);
// The estimated variance of the observations (histogram_stdvar), using each
// bucket's midpoint (geometric for exponential buckets).
double HistogramStdVar(const FloatHistogram& h);

// Prometheus's FloatHistogram.String(), e.g. "{count:20, sum:10, [-2,-1):2,
// [-0.001,0.001]:2, (0.5,1]:1}" (count_values labels histograms with it).
std::string HistogramGoString(const FloatHistogram& h);
// A float as Go's %g formats it (shortest digits; exponent below 1e-4 or
// from 1e6 on).
std::string FormatGoG(double v);
// The test-file notation, e.g. {{schema:0 count:3 sum:5 offset:1 buckets:[1 2]}}.
std::string HistogramString(const FloatHistogram& h);
// Float equality the way Prometheus's tests compare: equal, both NaN, or a
// relative difference below 1e-6; when either is 0 (or both are subnormal) the
// allowed absolute difference is 1e-6 times the smallest normal double, so
// values near zero must in effect match exactly.
bool FloatsAlmostEqual(double a, double b);
// Equality the way Prometheus's tests compare: both compacted, floats within a
// relative 1e-6; the reset hint only when `compare_hint`.
bool HistogramsAlmostEqual(const FloatHistogram& want, const FloatHistogram& got,
                           bool compare_hint);

}  // namespace berth::monitor
