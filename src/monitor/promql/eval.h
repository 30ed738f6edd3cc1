// Internal to promql/: the evaluator shared by engine.cpp (selectors,
// operators, aggregations) and functions.cpp (function calls).
//
// Every node is evaluated once over all steps of the query (like Prometheus's
// range evaluation): an instant-vector or scalar node yields series whose
// points sit on step times; a range-vector node yields the raw points plus how
// to cut each step's window out of them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/status.h"
#include "monitor/promql/ast.h"
#include "monitor/promql/engine.h"

namespace berth::monitor::promql::internal {

struct Series {
  Labels metric;
  std::vector<Point> points;
  // Prometheus 3's delayed name removal: the name stays readable (by
  // label_replace, `by (__name__)`) until the end of evaluation.
  bool drop_name = false;
};

struct Value {
  ValueType type = ValueType::kNone;
  std::vector<Series> series;  // kScalar: exactly one series without labels
  std::string str;
};

// One step's worth of an instant vector.
struct StepSample {
  const Series* src;  // labels and drop flag
  double v;
  const HistogramPtr* h;  // the point's histogram (null inside for floats)
  const FloatHistogram* H() const { return h ? h->get() : nullptr; }
};

// A range vector: raw points of every series, and each step's window
// (ref - range, ref] where ref = (fixed ? fixed_ref : ts) - offset.
struct RangeValue {
  std::vector<Series> series;
  int64_t range = 0;
  int64_t offset = 0;
  bool fixed = false;  // @ modifier
  int64_t fixed_ref = 0;
  bool is_subquery = false;
  bool histograms = false;                   // some point is a native histogram
  const VectorSelector* selector = nullptr;  // for absent_over_time, annotations
  // Prometheus 3's experimental modifiers: the series also hold the samples
  // just outside each window (within the lookback) that anchored windows
  // start from and smoothed windows interpolate with.
  bool anchored = false;
  bool smoothed = false;
  int64_t lookback = 0;
  int64_t Ref(int64_t ts) const { return (fixed ? fixed_ref : ts) - offset; }
};

// An instant vector of these series (most often what a SeriesCollector
// collected).
inline Value VectorValue(std::vector<Series> series) {
  Value v;
  v.type = ValueType::kVector;
  v.series = std::move(series);
  return v;
}

// Hands out per-step output samples into series keyed by labels.
class SeriesCollector {
 public:
  // `points` is how many steps a series may fill: new series reserve room
  // for that many points (up to a bound, as most steps may stay empty).
  explicit SeriesCollector(size_t points = 0) : reserve_(std::min<size_t>(points, 256)) {}
  // Appends (ts, v) to the series with these labels; Invalid when that series
  // already has a point at ts (two inputs produced the same label set).
  Status Add(const Labels& metric, bool drop_name, int64_t ts, double v);
  Status Add(Labels&& metric, bool drop_name, int64_t ts, double v);
  // The same with a native histogram (null for a float).
  Status Add(const Labels& metric, bool drop_name, int64_t ts, double v, HistogramPtr h);
  Status Add(Labels&& metric, bool drop_name, int64_t ts, double v, HistogramPtr h);
  std::vector<Series> Take() { return std::move(out_); }

 private:
  Series* Find(const Labels& metric, uint64_t h);
  // The series with these labels, created if new; null when it already has a
  // point at ts.
  template <class L>
  Series* Slot(L&& metric, bool drop_name, int64_t ts);
  size_t reserve_;
  std::vector<Series> out_;
  std::unordered_multimap<uint64_t, size_t> index_;
};

struct Annotations {
  std::vector<std::string> warnings;
  std::vector<std::string> infos;
  void Warn(std::string msg, PosRange pos, std::string_view query);
  void Info(std::string msg, PosRange pos, std::string_view query);
};

class Evaluator {
 public:
  struct Context {
    Querier* querier;
    const EngineOptions* opts;
    std::string_view query;                      // for annotation positions
    int64_t query_start, query_end, query_step;  // top-level, for @ start()/end(), step()
    Annotations* notes;
    int64_t* samples_in_use;
    std::chrono::steady_clock::time_point deadline;
    // Selectors read only for histogram_count/_sum/_avg: their histograms
    // carry count and sum alone, with reset hints detected sample by sample
    // (Prometheus's HistogramStatsIterator).
    const std::unordered_set<const VectorSelector*>* stats_only = nullptr;
  };

  Evaluator(const Context& ctx, int64_t start, int64_t end, int64_t interval)
      : ctx_(ctx), start_(start), end_(end), interval_(interval) {}

  Result<Value> Eval(const Expr& e);
  Result<RangeValue> EvalRange(const Expr& e);  // a MatrixSelector or SubqueryExpr

  size_t NumSteps() const { return static_cast<size_t>((end_ - start_) / interval_) + 1; }
  int64_t StepTime(size_t i) const { return start_ + static_cast<int64_t>(i) * interval_; }
  int64_t start() const { return start_; }
  int64_t end() const { return end_; }
  int64_t interval() const { return interval_; }
  const Context& ctx() const { return ctx_; }

  // Resolves a duration (constant or experimental expression).
  Result<int64_t> ResolveDuration(const Duration& d) const;
  // The @ time of a selector or subquery, or nullopt.
  std::optional<int64_t> AtTime(AtModifier at, int64_t at_ms) const;

  // Charges samples against the query's limit.
  Status Charge(int64_t n);
  Status CheckDeadline() const;

  // Calls fn(step index, ts, samples) with each step's samples of `v`.
  template <class Fn>
  Status ForEachStep(const Value& v, Fn&& fn) const;

  // A scalar value at one step (NaN when it has no point there).
  static double ScalarAt(const Value& v, size_t step, const Evaluator& ev);

  Result<Value> EvalVectorSelector(const VectorSelector& vs, bool timestamps);

 private:
  Result<Value> EvalCall(const Call& c);  // functions.cpp
  Result<Value> EvalAggregate(const AggregateExpr& a);
  Result<Value> EvalBinary(const BinaryExpr& b);
  Result<Value> EvalUnary(const UnaryExpr& u);
  Result<RangeValue> EvalMatrixSelector(const MatrixSelector& ms);
  Series SmoothedHistogramSeries(const VectorSelector& vs, SeriesSamples& ss,
                                 std::optional<int64_t> at, int64_t offset);
  Result<RangeValue> EvalSubquery(const SubqueryExpr& sq);
  Value ScalarValue(double v) const;

  Context ctx_;
  int64_t start_, end_, interval_;
};

template <class Fn>
Status Evaluator::ForEachStep(const Value& v, Fn&& fn) const {
  std::vector<size_t> cursor(v.series.size(), 0);
  std::vector<StepSample> step;
  size_t n = NumSteps();
  for (size_t i = 0; i < n; ++i) {
    int64_t ts = StepTime(i);
    step.clear();
    for (size_t s = 0; s < v.series.size(); ++s) {
      const auto& pts = v.series[s].points;
      size_t& c = cursor[s];
      while (c < pts.size() && pts[c].t < ts) ++c;
      if (c < pts.size() && pts[c].t == ts) step.push_back({&v.series[s], pts[c].v, &pts[c].h});
    }
    if (Status st = fn(i, ts, step); !st.ok()) return st;
  }
  return Status::Ok();
}

// The selectors of `e` that only histogram_count/_sum/_avg read (see
// Context::stats_only).
void FindStatsOnlySelectors(const Expr& e, std::unordered_set<const VectorSelector*>* out);

// The histogram at t between (t1, h1) and (t2, h2) (smoothed selectors and
// ranges); nothing when exponential and custom buckets meet.
std::optional<FloatHistogram> InterpolateHistograms(const FloatHistogram& h1, int64_t t1,
                                                    const FloatHistogram& h2, int64_t t2, int64_t t,
                                                    bool counter, Annotations* notes, PosRange pos,
                                                    std::string_view query);

// Shared numeric helpers (functions.cpp), also used by aggregations.
double Quantile(double q, std::vector<double> values);

// Annotation texts shared by operators, aggregations and functions.
std::string MixedExpCustomWarning(std::string_view metric);
// Builds a histogram sample from a value computed in place.
inline HistogramPtr MakeHistogram(FloatHistogram h) {
  return std::make_shared<const FloatHistogram>(std::move(h));
}

}  // namespace berth::monitor::promql::internal
