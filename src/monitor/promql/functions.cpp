// PromQL function calls: instant-vector math, range-vector functions over each
// step's window (floats and native histograms), label functions,
// histogram_quantile over classic buckets and native histograms, the other
// histogram_* functions, sorting and the time functions.
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <unordered_map>

#include "core/strings.h"
#include "monitor/histogram.h"
#include "monitor/promql/eval.h"
#include "monitor/regex_template.h"

namespace berth::monitor::promql::internal {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

using Window = std::span<const Point>;

// Go's math.Max / math.Min: NaN when either side is NaN.
double GoMax(double a, double b) { return std::isnan(a) || std::isnan(b) ? kNaN : std::max(a, b); }
double GoMin(double a, double b) { return std::isnan(a) || std::isnan(b) ? kNaN : std::min(a, b); }

// Functions of float values skip native histogram samples.
void DropHistograms(Value& v) {
  for (auto& s : v.series) std::erase_if(s.points, [](const Point& p) { return p.h != nullptr; });
  std::erase_if(v.series, [](const Series& s) { return s.points.empty(); });
}

const Expr& Unwrap(const Expr& e) {
  const Expr* p = &e;
  while (p->kind == NodeKind::kParen) p = static_cast<const ParenExpr*>(p)->expr.get();
  return *p;
}

// ---- range-vector functions ---------------------------------------------------

// Prometheus's extrapolated rate: the increase between the first and last
// sample of the window, extended towards the window's edges when the samples
// stop short of them (by at most half an average interval, and never below
// zero for counters).
std::optional<double> ExtrapolatedRate(Window w, int64_t range_start, int64_t range_end,
                                       int64_t range, bool counter, bool rate) {
  if (w.size() < 2) return std::nullopt;
  const Point& first = w.front();
  const Point& last = w.back();
  double result = last.v - first.v;
  if (counter) {
    for (size_t i = 1; i < w.size(); ++i)
      if (w[i].v < w[i - 1].v) result += w[i - 1].v;
  }
  double to_start = static_cast<double>(first.t - range_start) / 1000.0;
  double to_end = static_cast<double>(range_end - last.t) / 1000.0;
  double sampled = static_cast<double>(last.t - first.t) / 1000.0;
  double avg = sampled / static_cast<double>(w.size() - 1);
  double threshold = avg * 1.1;
  double interval = sampled;
  if (to_start >= threshold) to_start = avg / 2;
  if (counter && result > 0 && first.v >= 0) {
    double to_zero = sampled * (first.v / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  interval += to_start;
  if (to_end >= threshold) to_end = avg / 2;
  interval += to_end;
  double factor = interval / sampled;
  if (rate) factor /= static_cast<double>(range) / 1000.0;
  return result * factor;
}

// ---- range functions over native histograms ---------------------------------------

struct HistNotes {
  Annotations* notes;
  std::string_view metric;
  PosRange pos;
  std::string_view query;
  void Warn(const std::string& m) const { notes->Warn(m, pos, query); }
  void Info(const std::string& m) const { notes->Info(m, pos, query); }
  void NotCounter() const {
    Warn("this native histogram metric is not a counter: " + QuoteString(metric));
  }
  void NotGauge() const {
    Warn("this native histogram metric is not a gauge: " + QuoteString(metric));
  }
  void MixedExpCustom() const { Warn(MixedExpCustomWarning(metric)); }
  // The notes of an addition or subtraction (`op`); false, with the warning,
  // when its histograms could not be combined.
  bool Combined(const HistogramOpInfo& info, const char* op) const {
    if (info.incompatible) {
      MixedExpCustom();
      return false;
    }
    if (info.custom_reconciled)
      Info(std::string("mismatched custom buckets were reconciled during ") + op);
    return true;
  }
  void MixedFloats() const {
    Warn("encountered a mix of histograms and floats for metric name " + QuoteString(metric));
  }
};

// Prometheus's histogramRate: last minus first over a window of histograms,
// with every counter reset's pre-reset histogram added back. Nothing when the
// histograms cannot be combined (exponential with custom buckets).
std::optional<FloatHistogram> HistogramRate(Window w, bool counter, const HistNotes& hn) {
  FloatHistogram empty;
  const FloatHistogram* prev = w.front().h.get();
  const FloatHistogram& last = *w.back().h;
  bool custom = prev->UsesCustomBuckets();
  if (counter && (prev->counter_reset_hint == CounterResetHint::kGauge ||
                  last.counter_reset_hint == CounterResetHint::kGauge))
    hn.NotCounter();
  // A reset right after the first histogram makes its layout irrelevant.
  if (counter && w.size() > 1 && HistogramDetectReset(*w[1].h, *prev)) {
    empty.schema = w[1].h->schema;
    empty.custom_values = w[1].h->custom_values;
    prev = &empty;
    custom = w[1].h->UsesCustomBuckets();
  }
  if (last.UsesCustomBuckets() != custom) {
    hn.MixedExpCustom();
    return std::nullopt;
  }
  int32_t min_schema = std::min(last.schema, prev->schema);
  for (size_t i = 1; i + 1 < w.size(); ++i) {
    if (!counter) continue;
    const FloatHistogram& cur = *w[i].h;
    if (cur.counter_reset_hint == CounterResetHint::kGauge) hn.NotCounter();
    min_schema = std::min(min_schema, cur.schema);
    if (cur.UsesCustomBuckets() != custom) {
      hn.MixedExpCustom();
      return std::nullopt;
    }
  }
  FloatHistogram h = HistogramReduceResolution(last, min_schema);
  if (!hn.Combined(HistogramSub(h, *prev), "subtraction")) return std::nullopt;
  if (counter) {
    for (size_t i = 1; i < w.size(); ++i) {
      const FloatHistogram& cur = *w[i].h;
      if (HistogramDetectReset(cur, *prev)) {
        if (!hn.Combined(HistogramAdd(h, *prev), "addition")) return std::nullopt;
      }
      prev = &cur;
    }
  } else if (w.front().h->counter_reset_hint != CounterResetHint::kGauge ||
             last.counter_reset_hint != CounterResetHint::kGauge) {
    hn.NotGauge();
  }
  h.counter_reset_hint = CounterResetHint::kGauge;
  HistogramCompact(h);
  return h;
}

// rate / increase / delta over a window of histograms, extrapolated like the
// float version (the zero point from the observation count).
std::optional<FloatHistogram> ExtrapolatedHistogramRate(Window w, int64_t range_start,
                                                        int64_t range_end, int64_t range,
                                                        bool counter, bool rate,
                                                        const HistNotes& hn) {
  if (w.size() < 2) return std::nullopt;
  auto h = HistogramRate(w, counter, hn);
  if (!h) return std::nullopt;
  double to_start = static_cast<double>(w.front().t - range_start) / 1000.0;
  double to_end = static_cast<double>(range_end - w.back().t) / 1000.0;
  double sampled = static_cast<double>(w.back().t - w.front().t) / 1000.0;
  double avg = sampled / static_cast<double>(w.size() - 1);
  double threshold = avg * 1.1;
  if (to_start >= threshold) to_start = avg / 2;
  if (counter && h->count > 0 && w.front().h->count >= 0) {
    double to_zero = sampled * (w.front().h->count / h->count);
    if (to_zero < to_start) to_start = to_zero;
  }
  if (to_end >= threshold) to_end = avg / 2;
  double factor = (sampled + to_start + to_end) / sampled;
  if (rate) factor /= static_cast<double>(range) / 1000.0;
  HistogramMul(*h, factor);
  return h;
}

}  // namespace

// The histogram at t on the line from (t1, h1) to (t2, h2); a counter reset
// between them makes it h2 scaled, as if counting from zero.
std::optional<FloatHistogram> InterpolateHistograms(const FloatHistogram& h1, int64_t t1,
                                                    const FloatHistogram& h2, int64_t t2, int64_t t,
                                                    bool counter, Annotations* notes, PosRange pos,
                                                    std::string_view query) {
  if (t == t1) return h1;
  if (t == t2) return h2;
  double fraction = static_cast<double>(t - t1) / static_cast<double>(t2 - t1);
  FloatHistogram r = h2;
  if (counter && HistogramDetectReset(h2, h1)) {
    HistogramMul(r, fraction);
    return r;
  }
  HistogramOpInfo i1 = HistogramSub(r, h1);
  if (i1.incompatible) return std::nullopt;
  if (i1.custom_reconciled)
    notes->Info("mismatched custom buckets were reconciled during subtraction", pos, query);
  HistogramMul(r, fraction);
  HistogramOpInfo i2 = HistogramAdd(r, h1);
  if (i2.incompatible) return std::nullopt;
  if (i2.custom_reconciled)
    notes->Info("mismatched custom buckets were reconciled during addition", pos, query);
  return r;
}

namespace {

// rate / increase / delta over an anchored or smoothed window of histograms
// (Prometheus's extendedHistogramRate): the window holds the samples around
// [start, end] as well; the boundaries take the anchor sample or, smoothed,
// values interpolated to the exact boundary.
std::optional<FloatHistogram> ExtendedHistogramRate(Window h, int64_t range_start,
                                                    int64_t range_end, int64_t range, bool smoothed,
                                                    bool counter, bool rate, const HistNotes& hn) {
  if (h.empty()) return std::nullopt;
  auto search = [&](size_t n, auto pred) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (pred(mid)) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  };
  size_t last = h.size() - 1;
  size_t first_raw = search(last, [&](size_t i) { return h[i].t > range_start; });
  size_t first = first_raw > 0 ? first_raw - 1 : 0;
  if (smoothed) last = search(last, [&](size_t i) { return h[i].t >= range_end; });
  if (h[last].t <= range_start) return std::nullopt;
  if (smoothed && h[first].t > range_end) return std::nullopt;
  const bool custom = h[0].h->UsesCustomBuckets();
  for (size_t i = first; i <= last; ++i) {
    if (h[i].h->UsesCustomBuckets() != custom) {
      hn.MixedExpCustom();
      return std::nullopt;
    }
    if (counter && h[i].h->counter_reset_hint == CounterResetHint::kGauge) hn.NotCounter();
  }
  std::optional<FloatHistogram> left, right;
  if (smoothed && h[first].t < range_start) {
    left = InterpolateHistograms(*h[first].h, h[first].t, *h[first + 1].h, h[first + 1].t,
                                 range_start, counter, hn.notes, hn.pos, hn.query);
  } else {
    left = *h[first].h;
  }
  if (!left) {
    hn.MixedExpCustom();
    return std::nullopt;
  }
  if (smoothed && last > 0 && h[last].t > range_end) {
    right = InterpolateHistograms(*h[last - 1].h, h[last - 1].t, *h[last].h, h[last].t, range_end,
                                  counter, hn.notes, hn.pos, hn.query);
  } else {
    right = *h[last].h;
  }
  if (!right) {
    hn.MixedExpCustom();
    return std::nullopt;
  }
  if (!counter && (left->counter_reset_hint != CounterResetHint::kGauge ||
                   right->counter_reset_hint != CounterResetHint::kGauge))
    hn.NotGauge();
  FloatHistogram result = *right;
  if (!hn.Combined(HistogramSub(result, *left), "subtraction")) return std::nullopt;
  if (counter) {
    // Add back what each reset lost. The boundary samples are covered by
    // left and right (a reset the left interpolation spanned included).
    size_t c_first = first + 1;
    const FloatHistogram* prev = &*left;
    if (smoothed && h[first].t < range_start &&
        HistogramDetectReset(*h[first + 1].h, *h[first].h)) {
      prev = h[first + 1].h.get();
      c_first += 1;
    }
    std::optional<FloatHistogram> correction;
    auto add = [&](const FloatHistogram& x) {
      if (!correction) {
        correction = x;
        return true;
      }
      return hn.Combined(HistogramAdd(*correction, x), "addition");
    };
    if (c_first <= last) {
      for (size_t i = c_first; i < last; ++i) {
        if (HistogramDetectReset(*h[i].h, *prev) && !add(*prev)) return std::nullopt;
        prev = h[i].h.get();
      }
      if (HistogramDetectReset(*right, *prev) && !add(*prev)) return std::nullopt;
    }
    if (correction) {
      if (!hn.Combined(HistogramAdd(result, *correction), "addition")) return std::nullopt;
    }
  }
  if (rate) HistogramDiv(result, static_cast<double>(range) / 1000.0);
  result.counter_reset_hint = CounterResetHint::kGauge;
  HistogramCompact(result);
  return result;
}

// irate / idelta over the last two samples of a window.
std::optional<Point> InstantValue(Window w, bool rate, const HistNotes& hn) {
  if (w.size() < 2) return std::nullopt;
  const Point& last = w[w.size() - 1];
  const Point& prev = w[w.size() - 2];
  if (!last.h && !prev.h) {
    double r = rate && last.v < prev.v ? last.v : last.v - prev.v;
    if (rate) {
      double dt = static_cast<double>(last.t - prev.t) / 1000.0;
      if (dt == 0) return std::nullopt;
      r /= dt;
    }
    return Point{0, r};
  }
  if (!last.h || !prev.h) {
    hn.MixedFloats();
    return std::nullopt;
  }
  FloatHistogram h = *last.h;
  bool lg = last.h->counter_reset_hint == CounterResetHint::kGauge;
  bool pg = prev.h->counter_reset_hint == CounterResetHint::kGauge;
  if (rate && (lg || pg)) hn.NotCounter();
  if (!rate && (!lg || !pg)) hn.NotGauge();
  if (!rate || !HistogramDetectReset(*last.h, *prev.h)) {
    if (!hn.Combined(HistogramSub(h, *prev.h), "subtraction")) return std::nullopt;
  }
  h.counter_reset_hint = CounterResetHint::kGauge;
  HistogramCompact(h);
  if (rate) {
    double dt = static_cast<double>(last.t - prev.t) / 1000.0;
    if (dt == 0) return std::nullopt;
    HistogramDiv(h, dt);
  }
  return Point{0, 0, MakeHistogram(std::move(h))};
}

std::optional<double> InstantRate(Window w, bool rate) {
  if (w.size() < 2) return std::nullopt;
  const Point& last = w[w.size() - 1];
  const Point& prev = w[w.size() - 2];
  double result = rate && last.v < prev.v ? last.v : last.v - prev.v;
  if (!rate) return result;
  double dt = static_cast<double>(last.t - prev.t) / 1000.0;
  if (dt == 0) return std::nullopt;
  return result / dt;
}

// Least squares fit of the window against time (seconds from `intercept_t`).
std::pair<double, double> LinearRegression(Window w, int64_t intercept_t) {
  double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
  double init = w[0].v;
  bool const_y = true;
  for (size_t i = 0; i < w.size(); ++i) {
    if (const_y && i > 0 && w[i].v != init) const_y = false;
    n += 1;
    double x = static_cast<double>(w[i].t - intercept_t) / 1000.0;
    sx = KahanAdd(x, sx, cx);
    sy = KahanAdd(w[i].v, sy, cy);
    sxy = KahanAdd(x * w[i].v, sxy, cxy);
    sx2 = KahanAdd(x * x, sx2, cx2);
  }
  if (const_y) {
    if (std::isinf(init)) return {kNaN, kNaN};
    return {0, init};
  }
  sx += cx;
  sy += cy;
  sxy += cxy;
  sx2 += cx2;
  double cov = sxy - sx * sy / n;
  double var = sx2 - sx * sx / n;
  double slope = cov / var;
  double intercept = sy / n - slope * sx / n;
  return {slope, intercept};
}

double AvgOverTime(Window w) {
  double sum = w[0].v, count = 1, mean = 0, c = 0;
  bool incremental = false;
  for (size_t i = 1; i < w.size(); ++i) {
    count = static_cast<double>(i + 1);
    if (!incremental) {
      double nc = c;
      double ns = KahanAdd(w[i].v, sum, nc);
      if (!std::isinf(ns)) {
        sum = ns;
        c = nc;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    double q = (count - 1) / count;
    double nc = q * c;
    mean = KahanAdd(w[i].v / count, q * mean, nc);
    c = nc;
  }
  return incremental ? mean + c : sum / count + c / count;
}

double Variance(Window w) {
  double count = 0, mean = 0, cm = 0, aux = 0, ca = 0;
  for (const auto& p : w) {
    count += 1;
    double delta = p.v - (mean + cm);
    mean = KahanAdd(delta / count, mean, cm);
    aux = KahanAdd(delta * (p.v - (mean + cm)), aux, ca);
  }
  return (aux + ca) / count;
}

double DoubleExpSmoothing(Window w, double sf, double tf) {
  double s0 = 0, s1 = w[0].v, b = w[1].v - w[0].v;
  for (size_t i = 1; i < w.size(); ++i) {
    double x = sf * w[i].v;
    if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;
    double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

std::vector<double> Values(Window w) {
  std::vector<double> v;
  v.reserve(w.size());
  for (const auto& p : w) v.push_back(p.v);
  return v;
}

bool EndsWith(std::string_view s, std::string_view suf) {
  return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
}

// `anchored` windows start from the last sample at or before the window's
// start (within the lookback) and are not extrapolated.
std::optional<double> AnchoredWindow(const std::string& name, const std::vector<Point>& pts,
                                     size_t lo, size_t hi, int64_t ref, const RangeValue& rv) {
  size_t first = lo;
  if (lo > 0 && pts[lo - 1].t > ref - rv.range - rv.lookback) first = lo - 1;
  Window w(pts.data() + first, hi - first);
  double r = 0;
  if (name == "changes" || name == "resets") {
    for (size_t k = 1; k < w.size(); ++k) {
      double a = w[k - 1].v, b = w[k].v;
      if (name == "changes" ? (a != b && !(std::isnan(a) && std::isnan(b))) : b < a) r += 1;
    }
    return r;
  }
  r = w.back().v - w.front().v;
  if (name != "delta")
    for (size_t k = 1; k < w.size(); ++k)
      if (w[k].v < w[k - 1].v) r += w[k - 1].v;
  if (name == "rate") r /= static_cast<double>(rv.range) / 1000.0;
  return r;
}

// `smoothed` windows take the values at the window's edges by linear
// interpolation between the samples around them (counters corrected for
// resets first); an edge with a sample on one side only takes its value. The
// samples just outside the window count, so a window with no sample of its
// own still has a value when data surrounds it; data only before or only
// after it gives none.
std::optional<double> SmoothedWindow(const std::string& name, const std::vector<Point>& pts,
                                     size_t lo, size_t hi, int64_t ref, const RangeValue& rv) {
  const int64_t start = ref - rv.range;
  bool prev = lo > 0 && pts[lo - 1].t > start - rv.lookback;
  bool next = hi < pts.size() && pts[hi].t < ref + rv.lookback;
  if (lo >= hi && !(prev && next)) return std::nullopt;
  size_t first = prev ? lo - 1 : lo, last = next ? hi + 1 : hi;
  std::vector<Point> v(pts.begin() + static_cast<std::ptrdiff_t>(first),
                       pts.begin() + static_cast<std::ptrdiff_t>(last));
  if (name != "delta") {
    double correction = 0;
    for (size_t k = 1; k < v.size(); ++k) {
      double raw = pts[first + k].v, before = pts[first + k - 1].v;
      if (raw < before) correction += before;
      v[k].v = raw + correction;
    }
  }
  auto value_at = [&v](int64_t t) {
    size_t b = 0;
    while (b < v.size() && v[b].t <= t) ++b;
    if (b == 0) return v[0].v;
    const Point& a = v[b - 1];
    if (b == v.size() || a.t == t) return a.v;
    return a.v + (v[b].v - a.v) * static_cast<double>(t - a.t) / static_cast<double>(v[b].t - a.t);
  };
  double r = value_at(ref) - value_at(start);
  if (name == "rate") r /= static_cast<double>(rv.range) / 1000.0;
  return r;
}

// ---- classic histogram_quantile -------------------------------------------------

struct Bucket {
  double upper;
  double count;
};

// The buckets by bound, those with the same bound (e.g. "1" and "1.0") added
// up; empty when there is no +Inf bucket (the histogram is unusable).
std::vector<Bucket> SortedBuckets(std::vector<Bucket>& b) {
  std::sort(b.begin(), b.end(), [](const Bucket& x, const Bucket& y) { return x.upper < y.upper; });
  std::vector<Bucket> c;
  if (b.empty() || !std::isinf(b.back().upper) || b.back().upper < 0) return c;
  for (const auto& x : b) {
    if (!c.empty() && c.back().upper == x.upper) {
      c.back().count += x.count;
    } else {
      c.push_back(x);
    }
  }
  return c;
}

// Returns the quantile and whether the counts had to be made monotonic.
double BucketQuantile(double q, std::vector<Bucket>& b, bool* forced) {
  *forced = false;
  if (std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  std::vector<Bucket> c = SortedBuckets(b);
  if (c.empty()) return kNaN;
  // Cumulative counts must not decrease; differences within float noise are
  // smoothed silently, real decreases are flattened and reported.
  double prev = c[0].count;
  for (size_t i = 1; i < c.size(); ++i) {
    double cur = c[i].count;
    if (cur == prev) continue;
    if (std::fabs(cur - prev) <= 1e-12 * std::max(std::fabs(cur), std::fabs(prev))) {
      c[i].count = prev;
      continue;
    }
    if (cur < prev) {
      c[i].count = prev;
      *forced = true;
      continue;
    }
    prev = cur;
  }
  if (c.size() < 2) return kNaN;
  double observations = c.back().count;
  if (observations == 0) return kNaN;
  double rank = q * observations;
  size_t i = 0;
  while (i < c.size() - 1 && c[i].count < rank) ++i;
  if (i == c.size() - 1) return c[c.size() - 2].upper;
  if (i == 0 && c[0].upper <= 0) return c[0].upper;
  double start = 0, end = c[i].upper, count = c[i].count;
  if (i > 0) {
    start = c[i - 1].upper;
    count -= c[i - 1].count;
    rank -= c[i - 1].count;
  }
  return start + (end - start) * (rank / count);
}

// The share of observations in [lower, upper], interpolating linearly
// inside finite buckets; a bucket reaching to ±Inf counts only when the range
// covers it whole. The first bucket starts at 0 when its bound is positive.
double BucketFraction(double lower, double upper, std::vector<Bucket>& b) {
  std::vector<Bucket> c = SortedBuckets(b);
  if (c.empty()) return kNaN;
  double total = c.back().count;
  if (total == 0 || std::isnan(lower) || std::isnan(upper)) return kNaN;
  if (lower >= upper) return 0;
  double in = 0, prev_count = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    double lo = i == 0 ? (c[0].upper > 0 ? 0 : -kInf) : c[i - 1].upper;
    double hi = c[i].upper;
    double n = c[i].count - prev_count;
    prev_count = c[i].count;
    if (std::isinf(lo)) {  // (-Inf, hi]: only a range open below takes it
      if (std::isinf(lower) && lower < 0) in += n;
      continue;
    }
    if (std::isinf(hi)) {  // (lo, +Inf]: only a range open above takes it
      if (std::isinf(upper) && upper > 0) in += n;
      continue;
    }
    if (hi <= lo) continue;
    double overlap = std::min(hi, upper) - std::max(lo, lower);
    if (overlap > 0) in += n * overlap / (hi - lo);
  }
  return in / total;
}

std::optional<double> ParseFloat(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string_view t = s;
  if (t[0] == '+') t.remove_prefix(1);
  std::string low;
  for (char ch : t) low.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  if (low == "inf" || low == "infinity") return s[0] == '-' ? -kInf : kInf;
  if (low == "-inf" || low == "-infinity") return -kInf;
  if (low == "nan") return kNaN;
  double v = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (r.ec != std::errc() || r.ptr != t.data() + t.size()) return std::nullopt;
  return v;
}

// ---- natural sort (sort_by_label) -----------------------------------------------

bool NaturalLess(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool da = std::isdigit(static_cast<unsigned char>(a[i]));
    bool db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      std::string_view na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      while (na.size() > 1 && na[0] == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb[0] == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

// Labels for absent()/absent_over_time(): the equality matchers of the
// argument's selector, unless a name is matched more than once.
Labels AbsentLabels(const Expr& arg) {
  const Expr& e = Unwrap(arg);
  const VectorSelector* vs = nullptr;
  if (e.kind == NodeKind::kVectorSelector) vs = static_cast<const VectorSelector*>(&e);
  if (e.kind == NodeKind::kMatrixSelector)
    vs = static_cast<const VectorSelector*>(
        static_cast<const MatrixSelector&>(e).vector_selector.get());
  if (vs == nullptr) return {};
  std::vector<Label> out;
  std::vector<std::string> seen, dropped;
  for (const auto& m : vs->matchers) {
    if (m.name() == kMetricName) continue;
    bool dup = std::find(seen.begin(), seen.end(), m.name()) != seen.end();
    if (m.op() == Matcher::Op::kEq && !dup) {
      out.push_back({m.name(), m.value()});
    } else {
      dropped.push_back(m.name());
    }
    seen.push_back(m.name());
  }
  return Labels(std::move(out)).Drop(dropped);
}

double TimeFunction(const std::string& name, double secs) {
  if (std::isnan(secs) || std::isinf(secs)) return kNaN;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  if (name == "minute") return tm.tm_min;
  if (name == "hour") return tm.tm_hour;
  if (name == "day_of_week") return tm.tm_wday;
  if (name == "day_of_month") return tm.tm_mday;
  if (name == "day_of_year") return tm.tm_yday + 1;
  if (name == "month") return tm.tm_mon + 1;
  if (name == "year") return tm.tm_year + 1900;
  if (name == "days_in_month") {
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = tm.tm_year + 1900;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return tm.tm_mon == 1 && leap ? 29 : kDays[tm.tm_mon];
  }
  return kNaN;
}

using MathFn = double (*)(double);
const std::unordered_map<std::string, MathFn>& MathFunctions() {
  static const std::unordered_map<std::string, MathFn> m = {
      {"abs", [](double v) { return std::fabs(v); }},
      {"ceil", [](double v) { return std::ceil(v); }},
      {"floor", [](double v) { return std::floor(v); }},
      {"exp", [](double v) { return std::exp(v); }},
      {"sqrt", [](double v) { return std::sqrt(v); }},
      {"ln", [](double v) { return std::log(v); }},
      {"log2", [](double v) { return std::log2(v); }},
      {"log10", [](double v) { return std::log10(v); }},
      {"sgn", [](double v) { return v > 0   ? 1.0
                                    : v < 0 ? -1.0
                                            : v; }},
      {"acos", [](double v) { return std::acos(v); }},
      {"acosh", [](double v) { return std::acosh(v); }},
      {"asin", [](double v) { return std::asin(v); }},
      {"asinh", [](double v) { return std::asinh(v); }},
      {"atan", [](double v) { return std::atan(v); }},
      {"atanh", [](double v) { return std::atanh(v); }},
      {"cos", [](double v) { return std::cos(v); }},
      {"cosh", [](double v) { return std::cosh(v); }},
      {"sin", [](double v) { return std::sin(v); }},
      {"sinh", [](double v) { return std::sinh(v); }},
      {"tan", [](double v) { return std::tan(v); }},
      {"tanh", [](double v) { return std::tanh(v); }},
      {"deg", [](double v) { return v * 180 / M_PI; }},
      {"rad", [](double v) { return v * M_PI / 180; }},
  };
  return m;
}

// ---- info() ---------------------------------------------------------------------

// Where on the time axis an expression reads its samples: step time t maps to
// (at ? at : t) - offset. info() looks its info series up at that time, so an
// @ or offset on the base data also pins or shifts the enrichment.
struct TimeShift {
  std::optional<int64_t> at;
  int64_t offset = 0;
  int64_t Apply(int64_t t) const { return (at ? *at : t) - offset; }
};

// `inner` applied to the times `outer` produces: an inner @ discards whatever
// the outer layers did, otherwise the offsets add up.
TimeShift Compose(const TimeShift& outer, const TimeShift& inner) {
  if (inner.at) return inner;
  return {outer.at, outer.offset + inner.offset};
}

// The shift of the first selector (or subquery) in depth-first order, as a
// single reference time per step has to come from one place; nullopt when
// the expression reads no data.
Result<std::optional<TimeShift>> FirstSelectorShift(const Expr& e, const Evaluator& ev) {
  using Found = std::optional<TimeShift>;
  switch (e.kind) {
    case NodeKind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      auto off = ev.ResolveDuration(vs.offset);
      if (!off.ok()) return off.status();
      return Found(TimeShift{ev.AtTime(vs.at, vs.at_ms), *off});
    }
    case NodeKind::kMatrixSelector:
      return FirstSelectorShift(*static_cast<const MatrixSelector&>(e).vector_selector, ev);
    case NodeKind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      auto off = ev.ResolveDuration(sq.offset);
      if (!off.ok()) return off.status();
      TimeShift own{ev.AtTime(sq.at, sq.at_ms), *off};
      auto inner = FirstSelectorShift(*sq.expr, ev);
      if (!inner.ok()) return inner;
      return Found(Compose(own, inner->value_or(TimeShift{})));
    }
    case NodeKind::kParen:
      return FirstSelectorShift(*static_cast<const ParenExpr&>(e).expr, ev);
    case NodeKind::kUnary:
      return FirstSelectorShift(*static_cast<const UnaryExpr&>(e).expr, ev);
    case NodeKind::kCall:
      for (const auto& a : static_cast<const Call&>(e).args) {
        auto r = FirstSelectorShift(*a, ev);
        if (!r.ok() || r->has_value()) return r;
      }
      return Found();
    case NodeKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      for (const Expr* x : {a.expr.get(), a.param.get()}) {
        if (x == nullptr) continue;
        auto r = FirstSelectorShift(*x, ev);
        if (!r.ok() || r->has_value()) return r;
      }
      return Found();
    }
    case NodeKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      auto r = FirstSelectorShift(*b.lhs, ev);
      if (!r.ok() || r->has_value()) return r;
      return FirstSelectorShift(*b.rhs, ev);
    }
    case NodeKind::kNumber:
    case NodeKind::kString:
      return Found();
  }
  return Found();
}

// info(v [, selector]): adds to each series of v the data labels of the info
// series that share its identifying labels (instance, job), per step.
Result<Value> EvalInfo(Evaluator& ev, const Call& c) {
  static const std::vector<std::string> kIdentifying = {"instance", "job"};
  const std::string name_label(kMetricName);

  auto base = ev.Eval(*c.args[0]);
  if (!base.ok()) return base;

  std::vector<Matcher> name_ms, data_ms;
  if (c.args.size() > 1) {
    for (const Matcher& m : static_cast<const VectorSelector&>(Unwrap(*c.args[1])).matchers)
      (m.name() == kMetricName ? name_ms : data_ms).push_back(m);
  }
  // Which metrics count as info metrics. Without a positive name matcher, the
  // negative ones alone would select nearly every series in the store, so
  // they narrow the conventional *_info metrics instead.
  std::vector<Matcher> info_names;
  bool positive = std::any_of(name_ms.begin(), name_ms.end(), [](const Matcher& m) {
    return m.op() == Matcher::Op::kEq || m.op() == Matcher::Op::kRe;
  });
  if (name_ms.empty()) {
    auto m = Matcher::Make(Matcher::Op::kEq, name_label, "target_info");
    if (!m.ok()) return m.status();
    info_names.push_back(std::move(*m));
  } else {
    if (!positive) {
      auto m = Matcher::Make(Matcher::Op::kRe, name_label, ".+_info");
      if (!m.ok()) return m.status();
      info_names.push_back(std::move(*m));
    }
    info_names.insert(info_names.end(), name_ms.begin(), name_ms.end());
  }
  auto is_info = [&](std::string_view metric_name) {
    return std::all_of(info_names.begin(), info_names.end(),
                       [&](const Matcher& m) { return m.Matches(metric_name); });
  };

  const std::vector<Series>& in = base->series;
  // Info series pass through as they are: enriching one with its own labels
  // (or its siblings') is never what the query means.
  std::vector<bool> ignored(in.size());
  std::vector<std::vector<std::string>> id_values(kIdentifying.size());
  for (size_t s = 0; s < in.size(); ++s) {
    ignored[s] = is_info(in[s].metric.Name());
    if (ignored[s]) continue;
    for (size_t k = 0; k < kIdentifying.size(); ++k) {
      std::string_view v = in[s].metric.Get(kIdentifying[k]);
      if (!v.empty()) id_values[k].emplace_back(v);
    }
  }
  for (auto& vals : id_values) {
    std::sort(vals.begin(), vals.end());
    vals.erase(std::unique(vals.begin(), vals.end()), vals.end());
  }

  auto shift_r = FirstSelectorShift(*c.args[0], ev);
  if (!shift_r.ok()) return shift_r.status();
  const TimeShift shift = shift_r->value_or(TimeShift{});
  const size_t n = ev.NumSteps();
  const int64_t lookback = ev.ctx().opts->lookback_ms;

  // The candidate info series: every identifying label seen on the base data
  // must be present with one of the seen values, which is all a join can use.
  std::vector<SeriesSamples> infos;
  bool any_id =
      std::any_of(id_values.begin(), id_values.end(), [](const auto& v) { return !v.empty(); });
  if (any_id) {
    int64_t lo = shift.Apply(ev.StepTime(0)), hi = lo;
    for (size_t i = 1; i < n; ++i) {
      lo = std::min(lo, shift.Apply(ev.StepTime(i)));
      hi = std::max(hi, shift.Apply(ev.StepTime(i)));
    }
    std::vector<Matcher> sel = info_names;
    sel.insert(sel.end(), data_ms.begin(), data_ms.end());
    auto got = ev.ctx().querier->Select(lo - lookback + 1, hi, sel);
    if (!got.ok()) return got.status();
    int64_t loaded = 0;
    for (auto& ss : *got) {
      bool keep = true;
      for (size_t k = 0; k < kIdentifying.size() && keep; ++k) {
        if (id_values[k].empty()) continue;
        std::string v(ss.labels.Get(kIdentifying[k]));
        keep = std::binary_search(id_values[k].begin(), id_values[k].end(), v);
      }
      if (!keep) continue;
      if (!ss.histograms.empty())
        return Invalid("info series " + ss.labels.String() +
                       " has native histogram samples; info metrics must be floats");
      if (ss.samples.empty()) continue;
      loaded += static_cast<int64_t>(ss.samples.size());
      infos.push_back(std::move(ss));
    }
    if (Status st = ev.Charge(loaded); !st.ok()) return st;
    *ev.ctx().samples_in_use -= loaded;
  }

  // Group the info series by their identifying labels: a base series joins
  // exactly the group with the same instance/job values (absent ones included).
  std::map<Labels, size_t> group_of_key;
  std::vector<std::vector<size_t>> groups;
  for (size_t j = 0; j < infos.size(); ++j) {
    auto [it, added] = group_of_key.emplace(infos[j].labels.Keep(kIdentifying), groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(j);
  }
  std::vector<std::optional<size_t>> base_group(in.size());
  for (size_t s = 0; s < in.size(); ++s) {
    if (ignored[s]) continue;
    if (auto it = group_of_key.find(in[s].metric.Keep(kIdentifying)); it != group_of_key.end())
      base_group[s] = it->second;
  }

  // Only labels named by the data-label matchers are wanted, when there are any.
  std::vector<std::string> wanted;
  for (const Matcher& m : data_ms) wanted.push_back(m.name());
  const bool drop_unmatched = std::any_of(data_ms.begin(), data_ms.end(),
                                          [](const Matcher& m) { return !m.MatchesEmpty(); });

  // The sample each info series contributes at one reference time: its latest
  // within the lookback, unless that is a staleness marker.
  auto sample_time = [&](const SeriesSamples& ss, int64_t ref) -> std::optional<int64_t> {
    auto it = std::upper_bound(ss.samples.begin(), ss.samples.end(), ref,
                               [](int64_t t, const Sample& x) { return t < x.t; });
    if (it == ss.samples.begin()) return std::nullopt;
    --it;
    if (it->t <= ref - lookback || IsStaleNaN(it->v)) return std::nullopt;
    return it->t;
  };

  const Series* first = in.data();
  std::vector<std::vector<size_t>> winners(groups.size());
  std::vector<int64_t> times;  // sample time of each winner
  std::vector<Label> extra;
  SeriesCollector col(ev.NumSteps());
  Status st = ev.ForEachStep(*base, [&](size_t, int64_t ts, const std::vector<StepSample>& ss) {
    const int64_t ref = shift.Apply(ts);
    // Per group and info metric name, the series with the newest sample wins:
    // a churned info series (e.g. a new version label) replaces the old one.
    for (size_t g = 0; g < groups.size(); ++g) {
      winners[g].clear();
      times.clear();
      for (size_t j : groups[g]) {
        auto t = sample_time(infos[j], ref);
        if (!t) continue;
        size_t w = 0;
        while (w < winners[g].size() &&
               infos[winners[g][w]].labels.Name() != infos[j].labels.Name())
          ++w;
        if (w == winners[g].size()) {
          winners[g].push_back(j);
          times.push_back(*t);
        } else if (*t > times[w]) {
          winners[g][w] = j;
          times[w] = *t;
        } else if (*t == times[w]) {
          return Invalid("found duplicate series for info metric: existing " +
                         infos[winners[g][w]].labels.String() + " @ " + std::to_string(times[w]) +
                         ", new " + infos[j].labels.String() + " @ " + std::to_string(*t));
        }
      }
    }
    for (const auto& x : ss) {
      const size_t si = static_cast<size_t>(x.src - first);
      const Labels& metric = x.src->metric;
      if (ignored[si]) {
        if (Status e = col.Add(metric, x.src->drop_name, ts, x.v, *x.h); !e.ok()) return e;
        continue;
      }
      extra.clear();
      bool matched = false;
      if (base_group[si]) {
        for (size_t j : winners[*base_group[si]]) {
          matched = true;
          for (LabelView l : infos[j].labels) {
            if (l.name == kMetricName) continue;
            if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), l.name) == wanted.end())
              continue;
            auto have = std::find_if(extra.begin(), extra.end(),
                                     [&](const Label& e) { return e.name == l.name; });
            if (have != extra.end()) {
              if (have->value != l.value)
                return Invalid("conflicting label: " + std::string(l.name));
              continue;
            }
            // The base series' own labels take precedence.
            if (metric.Has(l.name)) continue;
            extra.push_back(l);
          }
        }
      }
      // Without an info series, a matcher that needs a value cannot be met.
      if (!matched && drop_unmatched) continue;
      if (extra.empty()) {
        if (Status e = col.Add(metric, x.src->drop_name, ts, x.v, *x.h); !e.ok()) return e;
        continue;
      }
      std::vector<Label> all = metric.ToVector();
      all.insert(all.end(), extra.begin(), extra.end());
      if (Status e = col.Add(Labels(std::move(all)), x.src->drop_name, ts, x.v, *x.h); !e.ok())
        return e;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return VectorValue(col.Take());
}

enum class RangeFn {
  kOther,
  kAvgOverTime,
  kChanges,
  kCountOverTime,
  kDelta,
  kDeriv,
  kDoubleExponentialSmoothing,
  kFirstOverTime,
  kIdelta,
  kIncrease,
  kIrate,
  kLastOverTime,
  kMadOverTime,
  kMaxOverTime,
  kMinOverTime,
  kPredictLinear,
  kPresentOverTime,
  kQuantileOverTime,
  kRate,
  kResets,
  kStddevOverTime,
  kStdvarOverTime,
  kSumOverTime,
  kTsOfFirstOverTime,
  kTsOfLastOverTime,
  kTsOfMaxOverTime,
  kTsOfMinOverTime,
};

// The range functions the per-step loop tells apart, looked up once per call
// rather than compared by name at every step.
RangeFn RangeFnOf(std::string_view name) {
  static const std::unordered_map<std::string_view, RangeFn> kFns = {
      {"avg_over_time", RangeFn::kAvgOverTime},
      {"changes", RangeFn::kChanges},
      {"count_over_time", RangeFn::kCountOverTime},
      {"delta", RangeFn::kDelta},
      {"deriv", RangeFn::kDeriv},
      {"double_exponential_smoothing", RangeFn::kDoubleExponentialSmoothing},
      {"first_over_time", RangeFn::kFirstOverTime},
      {"idelta", RangeFn::kIdelta},
      {"increase", RangeFn::kIncrease},
      {"irate", RangeFn::kIrate},
      {"last_over_time", RangeFn::kLastOverTime},
      {"mad_over_time", RangeFn::kMadOverTime},
      {"max_over_time", RangeFn::kMaxOverTime},
      {"min_over_time", RangeFn::kMinOverTime},
      {"predict_linear", RangeFn::kPredictLinear},
      {"present_over_time", RangeFn::kPresentOverTime},
      {"quantile_over_time", RangeFn::kQuantileOverTime},
      {"rate", RangeFn::kRate},
      {"resets", RangeFn::kResets},
      {"stddev_over_time", RangeFn::kStddevOverTime},
      {"stdvar_over_time", RangeFn::kStdvarOverTime},
      {"sum_over_time", RangeFn::kSumOverTime},
      {"ts_of_first_over_time", RangeFn::kTsOfFirstOverTime},
      {"ts_of_last_over_time", RangeFn::kTsOfLastOverTime},
      {"ts_of_max_over_time", RangeFn::kTsOfMaxOverTime},
      {"ts_of_min_over_time", RangeFn::kTsOfMinOverTime},
  };
  auto it = kFns.find(name);
  return it == kFns.end() ? RangeFn::kOther : it->second;
}

// The functions that compute with float samples only (histograms in their
// windows are ignored, with an info annotation).
bool FloatOnly(const std::string& name) {
  static const char* const kNames[] = {"min_over_time",
                                       "max_over_time",
                                       "stddev_over_time",
                                       "stdvar_over_time",
                                       "quantile_over_time",
                                       "mad_over_time",
                                       "deriv",
                                       "predict_linear",
                                       "double_exponential_smoothing",
                                       "ts_of_min_over_time",
                                       "ts_of_max_over_time"};
  for (const char* n : kNames)
    if (name == n) return true;
  return false;
}

// A range function over a window holding native histograms (nf floats
// besides): the result, or nothing (FloatOnly functions then go on with the
// floats).
std::optional<Point> HistogramWindow(const std::string& name, Window w, size_t nf, int64_t ref,
                                     const RangeValue& rv, const HistNotes& hn) {
  auto f = [](double v) { return std::optional<Point>(Point{0, v}); };
  if (name == "rate" || name == "increase" || name == "delta") {
    if (nf > 0) {
      hn.MixedFloats();
      return std::nullopt;
    }
    if (rv.anchored || rv.smoothed) return std::nullopt;
    auto h = ExtrapolatedHistogramRate(w, ref - rv.range, ref, rv.range, name != "delta",
                                       name == "rate", hn);
    if (!h) return std::nullopt;
    return Point{0, 0, MakeHistogram(std::move(*h))};
  }
  if (name == "irate" || name == "idelta") return InstantValue(w, name == "irate", hn);
  if (name == "sum_over_time" || name == "avg_over_time") {
    if (nf > 0) {
      hn.MixedFloats();
      return std::nullopt;
    }
    // A reset hint and a not-reset hint anywhere in the window conflict.
    bool reset_seen = false, not_reset_seen = false, reconciled = false;
    for (const Point& p : w) {
      reset_seen |= p.h->counter_reset_hint == CounterResetHint::kCounterReset;
      not_reset_seen |= p.h->counter_reset_hint == CounterResetHint::kNotCounterReset;
    }
    FloatHistogram result;
    if (name == "sum_over_time") {
      FloatHistogram comp;
      result = *w[0].h;
      for (size_t k = 1; k < w.size(); ++k) {
        HistogramOpInfo info = HistogramKahanAdd(result, comp, *w[k].h);
        if (info.incompatible) {
          hn.MixedExpCustom();
          return std::nullopt;
        }
        reconciled |= info.custom_reconciled;
      }
      HistogramKahanFinish(result, comp);
    } else {
      HistogramMean mean;
      for (const Point& p : w) {
        HistogramOpInfo info = mean.Add(*p.h);
        if (info.incompatible) {
          hn.MixedExpCustom();
          return std::nullopt;
        }
        reconciled |= info.custom_reconciled;
      }
      result = mean.Result();
    }
    if (reset_seen && not_reset_seen)
      hn.Warn("conflicting counter resets during histogram aggregation");
    if (reconciled) hn.Info("mismatched custom buckets were reconciled during aggregation");
    HistogramCompact(result);
    return Point{0, 0, MakeHistogram(std::move(result))};
  }
  if (name == "count_over_time") return f(static_cast<double>(w.size()));
  if (name == "present_over_time") return f(1);
  if (name == "last_over_time") return w.back();
  if (name == "first_over_time") return w.front();
  if (name == "ts_of_last_over_time") return f(static_cast<double>(w.back().t) / 1000.0);
  if (name == "ts_of_first_over_time") return f(static_cast<double>(w.front().t) / 1000.0);
  if (name == "changes" || name == "resets") {
    double cnt = 0;
    for (size_t k = 1; k < w.size(); ++k) {
      const Point& a = w[k - 1];
      const Point& b = w[k];
      if (!a.h && !b.h) {
        if (name == "changes" ? (a.v != b.v && !(std::isnan(a.v) && std::isnan(b.v))) : b.v < a.v)
          cnt += 1;
      } else if (!a.h || !b.h) {
        cnt += 1;
      } else if (name == "changes" ? !HistogramEquals(*a.h, *b.h)
                                   : HistogramDetectReset(*b.h, *a.h)) {
        cnt += 1;
      }
    }
    return f(cnt);
  }
  return std::nullopt;
}

}  // namespace

Result<Value> Evaluator::EvalCall(const Call& c) {
  const std::string& name = c.func->name;
  const size_t n = NumSteps();
  auto scalar_series = [&](auto fn) {
    Value v;
    v.type = ValueType::kScalar;
    v.series.resize(1);
    for (size_t i = 0; i < n; ++i) v.series[0].points.push_back({StepTime(i), fn(i)});
    return v;
  };

  if (name == "time")
    return scalar_series([&](size_t i) { return static_cast<double>(StepTime(i)) / 1000.0; });
  if (name == "pi") return scalar_series([](size_t) { return M_PI; });
  // Prometheus 3's experimental query-shape functions, in seconds.
  if (name == "step")
    return scalar_series([&](size_t) { return static_cast<double>(ctx_.query_step) / 1000.0; });
  if (name == "range")
    return scalar_series(
        [&](size_t) { return static_cast<double>(ctx_.query_end - ctx_.query_start) / 1000.0; });
  if (name == "start")
    return scalar_series([&](size_t) { return static_cast<double>(ctx_.query_start) / 1000.0; });
  if (name == "end")
    return scalar_series([&](size_t) { return static_cast<double>(ctx_.query_end) / 1000.0; });
  if (name == "min_of" || name == "max_of") {
    auto a = Eval(*c.args[0]);
    if (!a.ok()) return a;
    auto b = Eval(*c.args[1]);
    if (!b.ok()) return b;
    bool mn = name == "min_of";
    return scalar_series([&](size_t i) {
      double x = ScalarAt(*a, i, *this), y = ScalarAt(*b, i, *this);
      if (std::isnan(x) || std::isnan(y)) return kNaN;
      return mn ? std::min(x, y) : std::max(x, y);
    });
  }

  if (name == "timestamp") {
    const Expr& arg = Unwrap(*c.args[0]);
    Result<Value> v = arg.kind == NodeKind::kVectorSelector
                          ? EvalVectorSelector(static_cast<const VectorSelector&>(arg), true)
                          : Eval(arg);
    if (!v.ok()) return v;
    for (auto& s : v->series) {
      s.drop_name = true;
      if (arg.kind != NodeKind::kVectorSelector)
        for (auto& p : s.points) {
          p.v = static_cast<double>(p.t) / 1000.0;
          p.h = nullptr;
        }
    }
    return v;
  }

  if (name == "vector") {
    auto v = Eval(*c.args[0]);
    if (!v.ok()) return v;
    v->type = ValueType::kVector;
    return v;
  }

  if (name == "scalar") {
    auto v = Eval(*c.args[0]);
    if (!v.ok()) return v;
    std::vector<double> out(n, kNaN);
    Status st = ForEachStep(*v, [&](size_t i, int64_t, const std::vector<StepSample>& ss) {
      // The one float of the vector (histograms do not count); NaN for none
      // or several.
      int floats = 0;
      for (const auto& x : ss)
        if (x.H() == nullptr && ++floats == 1) out[i] = x.v;
      if (floats != 1) out[i] = kNaN;
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return scalar_series([&](size_t i) { return out[i]; });
  }

  static const char* kTimeFns[] = {"minute",      "hour",  "day_of_week", "day_of_month",
                                   "day_of_year", "month", "year",        "days_in_month"};
  if (std::find(std::begin(kTimeFns), std::end(kTimeFns), name) != std::end(kTimeFns)) {
    if (c.args.empty()) {
      Value v;
      v.type = ValueType::kVector;
      v.series.resize(1);
      for (size_t i = 0; i < n; ++i)
        v.series[0].points.push_back(
            {StepTime(i), TimeFunction(name, static_cast<double>(StepTime(i)) / 1000.0)});
      return v;
    }
    auto v = Eval(*c.args[0]);
    if (!v.ok()) return v;
    DropHistograms(*v);
    for (auto& s : v->series) {
      s.drop_name = true;
      for (auto& p : s.points) p.v = TimeFunction(name, p.v);
    }
    return v;
  }

  if (auto it = MathFunctions().find(name); it != MathFunctions().end()) {
    auto v = Eval(*c.args[0]);
    if (!v.ok()) return v;
    DropHistograms(*v);
    for (auto& s : v->series) {
      s.drop_name = true;
      for (auto& p : s.points) p.v = it->second(p.v);
    }
    return v;
  }

  if (name == "round" || name == "clamp" || name == "clamp_min" || name == "clamp_max") {
    auto v = Eval(*c.args[0]);
    if (!v.ok()) return v;
    std::vector<Value> params;
    for (size_t i = 1; i < c.args.size(); ++i) {
      auto p = Eval(*c.args[i]);
      if (!p.ok()) return p;
      params.push_back(std::move(*p));
    }
    SeriesCollector col(NumSteps());
    Status st = ForEachStep(*v, [&](size_t i, int64_t ts, const std::vector<StepSample>& ss) {
      double a = params.size() > 0 ? ScalarAt(params[0], i, *this) : 1;
      double b = params.size() > 1 ? ScalarAt(params[1], i, *this) : 0;
      if (name == "clamp" && b < a) return Status::Ok();
      for (const auto& x : ss) {
        if (x.H() != nullptr) continue;
        double r = x.v;
        if (name == "round") {
          double inv = 1.0 / a;
          r = std::floor(x.v * inv + 0.5) / inv;
        } else if (name == "clamp") {
          r = GoMax(a, GoMin(b, x.v));
        } else if (name == "clamp_min") {
          r = GoMax(a, x.v);
        } else {
          r = GoMin(a, x.v);
        }
        if (std::isnan(x.v)) r = kNaN;
        if (Status e = col.Add(x.src->metric, true, ts, r); !e.ok()) return e;
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return VectorValue(col.Take());
  }

  if (name == "info") return EvalInfo(*this, c);

  if (name == "absent") {
    auto v = Eval(*c.args[0]);
    if (!v.ok()) return v;
    Labels ls = AbsentLabels(*c.args[0]);
    Series out{ls, {}, false};
    Status st = ForEachStep(*v, [&](size_t, int64_t ts, const std::vector<StepSample>& ss) {
      if (ss.empty()) out.points.push_back({ts, 1});
      return Status::Ok();
    });
    if (!st.ok()) return st;
    Value r;
    r.type = ValueType::kVector;
    if (!out.points.empty()) r.series.push_back(std::move(out));
    return r;
  }

  if (name == "label_replace" || name == "label_join") {
    auto v = Eval(*c.args[0]);
    if (!v.ok()) return v;
    std::vector<std::string> strs;
    for (size_t i = 1; i < c.args.size(); ++i) {
      auto s = Eval(*c.args[i]);
      if (!s.ok()) return s;
      strs.push_back(s->str);
    }
    const std::string& dst = strs[0];
    std::vector<Labels> relabeled;
    relabeled.reserve(v->series.size());
    if (name == "label_replace") {
      RE2::Options o;
      o.set_dot_nl(true);
      o.set_log_errors(false);
      RE2 re("^(?:" + strs[3] + ")$", o);
      if (!re.ok()) return Invalid("invalid regular expression in label_replace(): " + strs[3]);
      if (dst.empty() || !IsValidUtf8(dst))
        return Invalid("invalid destination label name in label_replace(): " + dst);
      std::string res;
      for (const auto& s : v->series) {
        if (MatchAndExpand(re, s.metric.Get(strs[2]), strs[1], &res)) {
          relabeled.push_back(s.metric.With(dst, res));
        } else {
          relabeled.push_back(s.metric);
        }
      }
    } else {
      if (dst.empty() || !IsValidUtf8(dst))
        return Invalid("invalid destination label name in label_join(): " + dst);
      for (size_t k = 2; k < strs.size(); ++k)
        if (strs[k].empty() || !IsValidUtf8(strs[k]))
          return Invalid("invalid source label name in label_join(): " + strs[k]);
      for (const auto& s : v->series) {
        std::string joined;
        for (size_t k = 2; k < strs.size(); ++k) {
          if (k > 2) joined += strs[1];
          joined += s.metric.Get(strs[k]);
        }
        relabeled.push_back(s.metric.With(dst, joined));
      }
    }
    const Series* base = v->series.data();
    SeriesCollector col(NumSteps());
    Status st = ForEachStep(*v, [&](size_t, int64_t ts, const std::vector<StepSample>& ss) {
      for (const auto& x : ss) {
        size_t si = static_cast<size_t>(x.src - base);
        bool drop = x.src->drop_name && dst != kMetricName;
        if (Status e = col.Add(relabeled[si], drop, ts, x.v, *x.h); !e.ok()) return e;
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return VectorValue(col.Take());
  }

  if (name == "sort" || name == "sort_desc" || name == "sort_by_label" ||
      name == "sort_by_label_desc") {
    auto v = Eval(*c.args[0]);
    if (!v.ok()) return v;
    if (ctx_.query_step > 0) {
      ctx_.notes->Warn(
          "sort is ineffective for range queries since results are always ordered by labels", c.pos,
          ctx_.query);
      return v;
    }
    if (n != 1) return v;  // order means nothing across the steps of a subquery
    // sort and sort_desc order floats; native histograms have no place there.
    if (name == "sort" || name == "sort_desc")
      std::erase_if(v->series, [](const Series& s) { return !s.points.empty() && s.points[0].h; });
    std::vector<std::string> by;
    for (size_t i = 1; i < c.args.size(); ++i) {
      auto s = Eval(*c.args[i]);
      if (!s.ok()) return s;
      by.push_back(s->str);
    }
    auto val = [](const Series& s) { return s.points.empty() ? kNaN : s.points[0].v; };
    if (name == "sort" || name == "sort_desc") {
      bool desc = name == "sort_desc";
      std::stable_sort(v->series.begin(), v->series.end(), [&](const Series& a, const Series& b) {
        double x = val(a), y = val(b);
        if (std::isnan(x)) return false;
        if (std::isnan(y)) return true;
        return desc ? x > y : x < y;
      });
    } else {
      bool desc = name == "sort_by_label_desc";
      std::stable_sort(v->series.begin(), v->series.end(), [&](const Series& a, const Series& b) {
        for (const auto& l : by) {
          std::string_view x = a.metric.Get(l), y = b.metric.Get(l);
          if (x == y) continue;
          return desc ? NaturalLess(y, x) : NaturalLess(x, y);
        }
        int cmp = Labels::Compare(a.metric, b.metric);
        return desc ? cmp > 0 : cmp < 0;
      });
    }
    return v;
  }

  if (name == "histogram_quantile" || name == "histogram_fraction" ||
      name == "histogram_quantiles") {
    const bool fraction = name == "histogram_fraction";
    const bool multi = name == "histogram_quantiles";
    // The quantiles (one, or several for histogram_quantiles), the upper
    // bound of histogram_fraction, and the bucket vector.
    std::vector<Value> qs;
    std::vector<const Expr*> q_exprs;
    std::string qlabel;
    if (multi) {
      auto l = Eval(*c.args[1]);
      if (!l.ok()) return l;
      qlabel = l->str;
      for (size_t i = 2; i < c.args.size(); ++i) q_exprs.push_back(c.args[i].get());
    } else {
      q_exprs.push_back(c.args[0].get());
    }
    for (const Expr* qe : q_exprs) {
      auto q = Eval(*qe);
      if (!q.ok()) return q;
      qs.push_back(std::move(*q));
    }
    Value upper_arg;
    if (fraction) {
      auto u = Eval(*c.args[1]);
      if (!u.ok()) return u;
      upper_arg = std::move(*u);
    }
    const Expr& vec_arg = *c.args[multi ? 0 : fraction ? 2 : 1];
    auto v = Eval(vec_arg);
    if (!v.ok()) return v;
    // Per input series: its bucket bound and its group (labels without le).
    const size_t ns = v->series.size();
    std::vector<std::optional<double>> upper(ns);
    std::vector<Labels> group(ns);
    std::vector<uint64_t> key(ns);
    for (size_t i = 0; i < ns; ++i) {
      const Labels& m = v->series[i].metric;
      upper[i] = ParseFloat(m.Get("le"));
      // Histograms of different names stay apart; their results then clash
      // if nothing else tells them apart.
      key[i] = m.Without("le").Hash();
      group[i] = m.Without("le").WithoutName();
      if (multi && group[i].Has(qlabel))
        return Invalid("label " + QuoteString(qlabel) +
                       " of histogram_quantiles() is already in the input labels");
    }
    const Series* base = v->series.data();
    SeriesCollector col(NumSteps());
    Status st = ForEachStep(*v, [&](size_t step, int64_t ts, const std::vector<StepSample>& ss) {
      double hi = fraction ? ScalarAt(upper_arg, step, *this) : 0;
      std::vector<double> qvals;
      for (size_t k = 0; k < qs.size(); ++k) {
        double q = ScalarAt(qs[k], step, *this);
        qvals.push_back(q);
        if (!fraction && (std::isnan(q) || q < 0 || q > 1))
          ctx_.notes->Warn("quantile value should be between 0 and 1, got " + FormatFloat(q),
                           q_exprs[k]->pos, ctx_.query);
      }
      std::unordered_map<uint64_t, std::pair<size_t, std::vector<Bucket>>> groups;
      std::vector<uint64_t> order;
      std::vector<std::pair<size_t, const FloatHistogram*>> natives;
      for (const auto& x : ss) {
        size_t si = static_cast<size_t>(x.src - base);
        if (x.H() != nullptr) {
          natives.push_back({si, x.H()});
          continue;
        }
        if (!upper[si]) {
          ctx_.notes->Warn("bucket label \"le\" is missing or has a malformed value of " +
                               QuoteString(x.src->metric.Get("le")) + " for metric name " +
                               QuoteString(x.src->metric.Name()),
                           vec_arg.pos, ctx_.query);
          continue;
        }
        auto [it, fresh] = groups.try_emplace(key[si]);
        if (fresh) {
          it->second.first = si;
          order.push_back(key[si]);
        }
        it->second.second.push_back({*upper[si], x.v});
      }
      // Native histograms, unless classic buckets of the same series (name and
      // labels) are there too: then neither is used.
      for (const auto& [si, h] : natives) {
        const Labels& m = v->series[si].metric;
        if (auto it = groups.find(m.Hash()); it != groups.end() && !it->second.second.empty()) {
          ctx_.notes->Warn(
              "vector contains a mix of classic and native histograms for metric name " +
                  QuoteString(m.Name()),
              vec_arg.pos, ctx_.query);
          groups.erase(it);
          continue;
        }
        for (size_t k = 0; k < qvals.size(); ++k) {
          double q = qvals[k];
          int nan_info = 0;
          double r = fraction ? HistogramFraction(q, hi, *h, &nan_info)
                              : HistogramQuantile(q, *h, &nan_info);
          if (nan_info == 1)
            ctx_.notes->Info(
                "input to histogram_quantile has NaN observations, result is NaN for metric name " +
                    QuoteString(m.Name()),
                vec_arg.pos, ctx_.query);
          if (nan_info == 2)
            ctx_.notes->Info(
                std::string(fraction ? "input to histogram_fraction has NaN observations, which "
                                       "are excluded from all fractions"
                                     : "input to histogram_quantile has NaN observations, result "
                                       "is skewed higher") +
                    " for metric name " + QuoteString(m.Name()),
                vec_arg.pos, ctx_.query);
          Labels out_labels = m;
          if (multi) {
            std::string qs_text = FormatFloat(q);
            if (std::isfinite(q) && qs_text.find('.') == std::string::npos) qs_text += ".0";
            out_labels = m.With(qlabel, qs_text);
          }
          if (Status e = col.Add(std::move(out_labels), true, ts, r); !e.ok()) return e;
        }
      }
      for (uint64_t k : order) {
        if (!groups.count(k)) continue;
        auto& [si, buckets] = groups[k];
        bool forced = false;
        for (size_t k = 0; k < qvals.size(); ++k) {
          double q = qvals[k];
          std::vector<Bucket> bk = buckets;
          double r = fraction ? BucketFraction(q, hi, bk) : BucketQuantile(q, bk, &forced);
          if (!multi) {
            if (Status e = col.Add(group[si], false, ts, r); !e.ok()) return e;
            continue;
          }
          std::string qs_text = FormatFloat(q);
          if (std::isfinite(q) && qs_text.find('.') == std::string::npos) qs_text += ".0";
          if (Status e = col.Add(group[si].With(qlabel, qs_text), false, ts, r); !e.ok()) return e;
        }
        if (forced)
          ctx_.notes->Info(
              "input to histogram_quantile needed to be fixed for monotonicity (see "
              "https://prometheus.io/docs/prometheus/latest/querying/functions/"
              "#histogram_quantile) "
              "for metric name " +
                  QuoteString(v->series[si].metric.Name()),
              vec_arg.pos, ctx_.query);
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return VectorValue(col.Take());
  }

  if (name == "histogram_count" || name == "histogram_sum" || name == "histogram_avg" ||
      name == "histogram_stddev" || name == "histogram_stdvar") {
    // Properties of native histograms; float samples have none.
    auto v = Eval(*c.args[0]);
    if (!v.ok()) return v;
    Value out;
    out.type = ValueType::kVector;
    for (auto& s : v->series) {
      Series o{std::move(s.metric), {}, true};
      for (const Point& p : s.points) {
        if (!p.h) continue;
        const FloatHistogram& h = *p.h;
        double r;
        if (name == "histogram_count") {
          r = h.count;
        } else if (name == "histogram_sum") {
          r = h.sum;
        } else if (name == "histogram_avg") {
          r = h.sum / h.count;
        } else if (name == "histogram_stdvar") {
          r = HistogramStdVar(h);
        } else {
          r = std::sqrt(HistogramStdVar(h));
        }
        o.points.push_back({p.t, r});
      }
      if (!o.points.empty()) out.series.push_back(std::move(o));
    }
    return out;
  }

  if (name.rfind("histogram_", 0) == 0) {
    for (const auto& a : c.args) {
      if (a->Type() == ValueType::kMatrix) continue;
      auto v = Eval(*a);
      if (!v.ok()) return v;
    }
    Value out;
    out.type = ValueType::kVector;
    return out;
  }

  // ---- functions over a range vector ----
  int matrix_arg = -1;
  for (size_t i = 0; i < c.args.size(); ++i)
    if (c.args[i]->Type() == ValueType::kMatrix) matrix_arg = static_cast<int>(i);
  if (matrix_arg < 0) return Invalid("function " + name + " is not supported");

  auto rv = EvalRange(*c.args[static_cast<size_t>(matrix_arg)]);
  if (!rv.ok()) return rv.status();
  std::vector<Value> scalars;  // the other (scalar) arguments, step by step
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (static_cast<int>(i) == matrix_arg) continue;
    auto p = Eval(*c.args[i]);
    if (!p.ok()) return p;
    scalars.push_back(std::move(*p));
  }
  auto arg = [&](size_t k, size_t step) { return ScalarAt(scalars[k], step, *this); };

  if (name == "double_exponential_smoothing") {
    for (size_t i = 0; i < n; ++i) {
      double sf = arg(0, i), tf = arg(1, i);
      if (!(sf > 0 && sf < 1))
        return Invalid("invalid smoothing factor. Expected: 0 < sf < 1, got: " + FormatFloat(sf));
      if (!(tf > 0 && tf < 1))
        return Invalid("invalid trend factor. Expected: 0 < tf < 1, got: " + FormatFloat(tf));
    }
  }

  if (name == "absent_over_time") {
    Labels ls = AbsentLabels(*c.args[0]);
    Series out{ls, {}, false};
    for (size_t i = 0; i < n; ++i) {
      int64_t ref = rv->Ref(StepTime(i));
      bool any = false;
      for (const auto& s : rv->series) {
        auto lo = std::upper_bound(s.points.begin(), s.points.end(), ref - rv->range,
                                   [](int64_t t, const Point& p) { return t < p.t; });
        if (lo != s.points.end() && lo->t <= ref) {
          any = true;
          break;
        }
      }
      if (!any) out.points.push_back({StepTime(i), 1});
    }
    Value r;
    r.type = ValueType::kVector;
    if (!out.points.empty()) r.series.push_back(std::move(out));
    return r;
  }

  if (rv->anchored && name != "changes" && name != "delta" && name != "increase" &&
      name != "rate" && name != "resets")
    return Invalid(
        "anchored modifier can only be used with: changes, delta, increase, rate, resets - not "
        "with " +
        name);
  if (rv->smoothed && name != "delta" && name != "increase" && name != "rate")
    return Invalid("smoothed modifier can only be used with: delta, increase, rate - not with " +
                   name);

  const bool keep_name = name == "last_over_time" || name == "first_over_time";
  if ((name == "rate" || name == "increase") && rv->selector != nullptr) {
    for (const auto& s : rv->series) {
      std::string_view mn = s.metric.Name();
      if (!mn.empty() && !EndsWith(mn, "_total") && !EndsWith(mn, "_sum") &&
          !EndsWith(mn, "_count") && !EndsWith(mn, "_bucket"))
        ctx_.notes->Info(
            "metric might not be a counter, name does not end in "
            "_total/_sum/_count/_bucket: " +
                QuoteString(mn),
            c.args[static_cast<size_t>(matrix_arg)]->pos, ctx_.query);
    }
  }
  if (name == "quantile_over_time") {
    for (size_t i = 0; i < n && !rv->series.empty(); ++i) {
      double q = arg(0, i);
      if (std::isnan(q) || q < 0 || q > 1) {
        ctx_.notes->Warn("quantile value should be between 0 and 1, got " + FormatFloat(q),
                         c.args[0]->pos, ctx_.query);
        break;
      }
    }
  }

  Value out;
  out.type = ValueType::kVector;
  const PosRange matrix_pos = c.args[static_cast<size_t>(matrix_arg)]->pos;
  const RangeFn fn = RangeFnOf(name);
  std::vector<Point> floats;
  for (const auto& s : rv->series) {
    Series o{s.metric, {}, s.drop_name || !keep_name};
    o.points.reserve(std::min<size_t>(n, 256));
    const bool any_hist = rv->histograms && std::any_of(s.points.begin(), s.points.end(),
                                                        [](const Point& p) { return p.h; });
    const auto& pts = s.points;
    size_t lo = 0, hi = 0;
    for (size_t i = 0; i < n; ++i) {
      int64_t ts = StepTime(i);
      int64_t ref = rv->Ref(ts);
      if (rv->fixed) lo = hi = 0;
      while (hi < pts.size() && pts[hi].t <= ref) ++hi;
      while (lo < hi && pts[lo].t <= ref - rv->range) ++lo;
      if (any_hist && (rv->anchored || rv->smoothed)) {
        // The window with the samples around it that anchored and smoothed
        // ranges read: (start - lookback, end], and up to end + lookback
        // when smoothed.
        size_t a = lo, b = hi;
        while (a > 0 && pts[a - 1].t > ref - rv->range - rv->lookback) --a;
        if (rv->smoothed)
          while (b < pts.size() && pts[b].t < ref + rv->lookback) ++b;
        Window e(pts.data() + a, b - a);
        size_t nh = 0;
        for (const Point& p : e) nh += p.h != nullptr;
        if (nh > 0) {
          const HistNotes hn{ctx_.notes, s.metric.Name(), matrix_pos, ctx_.query};
          if (name == "changes" || name == "resets") {
            // The anchor (the last sample at or before the start) and the window.
            size_t first = lo;
            if (lo > 0 && pts[lo - 1].t > ref - rv->range - rv->lookback) first = lo - 1;
            if (first < hi) {
              auto r =
                  HistogramWindow(name, Window(pts.data() + first, hi - first), 0, ref, *rv, hn);
              if (r) o.points.push_back({ts, r->v});
            }
            continue;
          }
          if (nh < e.size()) {
            hn.MixedFloats();
            continue;
          }
          auto h = ExtendedHistogramRate(e, ref - rv->range, ref, rv->range, rv->smoothed,
                                         name != "delta", name == "rate", hn);
          if (h) o.points.push_back({ts, 0, MakeHistogram(std::move(*h))});
          continue;
        }
      }
      if (rv->smoothed) {
        if (auto r = SmoothedWindow(name, pts, lo, hi, ref, *rv)) o.points.push_back({ts, *r});
        continue;
      }
      if (lo >= hi) continue;
      Window w(pts.data() + lo, hi - lo);
      if (any_hist) {
        size_t nh = 0;
        for (const Point& p : w) nh += p.h != nullptr;
        if (nh > 0) {
          const HistNotes hn{ctx_.notes, s.metric.Name(), matrix_pos, ctx_.query};
          const size_t nf = w.size() - nh;
          std::optional<Point> hr = HistogramWindow(name, w, nf, ref, *rv, hn);
          if (hr) {
            hr->t = ts;
            o.points.push_back(std::move(*hr));
            continue;
          }
          if (!FloatOnly(name)) continue;
          // The float-only functions look at the floats alone.
          if (nf == 0) continue;
          hn.Info(
              "ignored histograms in a range containing both floats and histograms for "
              "metric name " +
              QuoteString(s.metric.Name()));
          floats.clear();
          for (const Point& p : w)
            if (!p.h) floats.push_back(p);
          w = Window(floats.data(), floats.size());
        }
      }
      std::optional<double> r;
      if (rv->anchored) {
        r = AnchoredWindow(name, pts, lo, hi, ref, *rv);
      } else if (fn == RangeFn::kRate || fn == RangeFn::kIncrease || fn == RangeFn::kDelta) {
        r = ExtrapolatedRate(w, ref - rv->range, ref, rv->range, fn != RangeFn::kDelta,
                             fn == RangeFn::kRate);
      } else if (fn == RangeFn::kIrate) {
        r = InstantRate(w, true);
      } else if (fn == RangeFn::kIdelta) {
        r = InstantRate(w, false);
      } else if (fn == RangeFn::kChanges || fn == RangeFn::kResets) {
        double cnt = 0;
        for (size_t k = 1; k < w.size(); ++k) {
          double a = w[k - 1].v, b = w[k].v;
          if (fn == RangeFn::kChanges ? (a != b && !(std::isnan(a) && std::isnan(b))) : b < a)
            cnt += 1;
        }
        r = cnt;
      } else if (fn == RangeFn::kDeriv) {
        if (w.size() >= 2) r = LinearRegression(w, w[0].t).first;
      } else if (fn == RangeFn::kPredictLinear) {
        if (w.size() >= 2) {
          auto [slope, intercept] = LinearRegression(w, ts);
          r = slope * arg(0, i) + intercept;
        }
      } else if (fn == RangeFn::kSumOverTime) {
        double sum = 0, comp = 0;
        for (const auto& p : w) sum = KahanAdd(p.v, sum, comp);
        r = sum + comp;
      } else if (fn == RangeFn::kAvgOverTime) {
        r = AvgOverTime(w);
      } else if (fn == RangeFn::kCountOverTime) {
        r = static_cast<double>(w.size());
      } else if (fn == RangeFn::kMinOverTime || fn == RangeFn::kMaxOverTime) {
        bool mx = fn == RangeFn::kMaxOverTime;
        double m = w[0].v;
        for (const auto& p : w)
          if ((mx ? p.v > m : p.v < m) || std::isnan(m)) m = p.v;
        r = m;
      } else if (fn == RangeFn::kLastOverTime) {
        r = w.back().v;
      } else if (fn == RangeFn::kFirstOverTime) {
        r = w.front().v;
      } else if (fn == RangeFn::kPresentOverTime) {
        r = 1;
      } else if (fn == RangeFn::kStddevOverTime) {
        r = std::sqrt(Variance(w));
      } else if (fn == RangeFn::kStdvarOverTime) {
        r = Variance(w);
      } else if (fn == RangeFn::kQuantileOverTime) {
        r = Quantile(arg(0, i), Values(w));
      } else if (fn == RangeFn::kMadOverTime) {
        std::vector<double> vals = Values(w);
        if (std::any_of(vals.begin(), vals.end(), [](double x) { return std::isnan(x); })) {
          o.points.push_back({ts, kNaN});
          continue;
        }
        double med = Quantile(0.5, vals);
        for (auto& x : vals) x = std::fabs(x - med);
        r = Quantile(0.5, std::move(vals));
      } else if (fn == RangeFn::kDoubleExponentialSmoothing) {
        if (w.size() >= 2) r = DoubleExpSmoothing(w, arg(0, i), arg(1, i));
      } else if (fn == RangeFn::kTsOfMinOverTime || fn == RangeFn::kTsOfMaxOverTime) {
        bool mx = fn == RangeFn::kTsOfMaxOverTime;
        double m = w[0].v;
        int64_t at = w[0].t;
        for (const auto& p : w)
          if ((mx ? p.v >= m : p.v <= m) || std::isnan(m)) {
            m = p.v;
            at = p.t;
          }
        r = static_cast<double>(at) / 1000.0;
      } else if (fn == RangeFn::kTsOfLastOverTime) {
        r = static_cast<double>(w.back().t) / 1000.0;
      } else if (fn == RangeFn::kTsOfFirstOverTime) {
        r = static_cast<double>(w.front().t) / 1000.0;
      } else {
        return Invalid("function " + name + " is not supported");
      }
      if (r) o.points.push_back({ts, *r});
    }
    if (!o.points.empty()) out.series.push_back(std::move(o));
  }
  return out;
}

}  // namespace berth::monitor::promql::internal
