#include "monitor/promql/engine.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "core/strings.h"
#include "monitor/histogram.h"
#include "monitor/promql/eval.h"
#include "monitor/promql/parser.h"

namespace berth::monitor::promql {

std::string FormatFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

namespace internal {

// ---- small shared helpers ---------------------------------------------------

double Quantile(double q, std::vector<double> values) {
  if (values.empty() || std::isnan(q)) return std::nan("");
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  // NaNs sort first, like Prometheus's value heap.
  std::sort(values.begin(), values.end(), [](double a, double b) {
    if (std::isnan(a)) return !std::isnan(b);
    return a < b;
  });
  double n = static_cast<double>(values.size());
  double rank = q * (n - 1);
  double lower = std::max(0.0, std::floor(rank));
  double upper = std::min(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  return values[static_cast<size_t>(lower)] * (1 - weight) +
         values[static_cast<size_t>(upper)] * weight;
}

std::string MixedExpCustomWarning(std::string_view metric) {
  return "vector contains a mix of histograms with exponential and custom buckets schemas for "
         "metric name " +
         QuoteString(metric);
}

namespace {

std::string PositionOf(PosRange pos, std::string_view query) {
  int line = 1, col = 1;
  for (int i = 0; i < pos.start; ++i) {
    if (i < static_cast<int>(query.size()) && query[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return " (" + std::to_string(line) + ":" + std::to_string(col) + ")";
}

}  // namespace

void Annotations::Warn(std::string msg, PosRange pos, std::string_view query) {
  std::string s = "PromQL warning: " + msg + PositionOf(pos, query);
  if (std::find(warnings.begin(), warnings.end(), s) == warnings.end()) warnings.push_back(s);
}

void Annotations::Info(std::string msg, PosRange pos, std::string_view query) {
  std::string s = "PromQL info: " + msg + PositionOf(pos, query);
  if (std::find(infos.begin(), infos.end(), s) == infos.end()) infos.push_back(s);
}

// ---- histogram statistics decoding -----------------------------------------------

namespace {

void StatsWalk(const Expr& e, std::vector<const Expr*>& path,
               std::unordered_set<const VectorSelector*>* out) {
  if (e.kind == NodeKind::kVectorSelector) {
    bool stats = false;
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      const Expr& p = **it;
      if (p.kind == NodeKind::kSubquery) {
        stats = false;
        break;
      }
      if (p.kind == NodeKind::kCall) {
        const std::string& n = static_cast<const Call&>(p).func->name;
        if (n == "histogram_count" || n == "histogram_sum" || n == "histogram_avg") {
          stats = true;
        } else if (n == "histogram_quantile" || n == "histogram_quantiles" ||
                   n == "histogram_fraction") {
          stats = false;
          break;
        }
      }
      if (p.kind == NodeKind::kBinary) {
        BinOp op = static_cast<const BinaryExpr&>(p).op;
        if (op == BinOp::kTrimUpper || op == BinOp::kTrimLower) {
          stats = false;
          break;
        }
      }
    }
    if (stats) out->insert(static_cast<const VectorSelector*>(&e));
    return;
  }
  path.push_back(&e);
  auto walk = [&](const ExprPtr& x) {
    if (x) StatsWalk(*x, path, out);
  };
  switch (e.kind) {
    case NodeKind::kMatrixSelector:
      walk(static_cast<const MatrixSelector&>(e).vector_selector);
      break;
    case NodeKind::kSubquery:
      walk(static_cast<const SubqueryExpr&>(e).expr);
      break;
    case NodeKind::kCall:
      for (const auto& a : static_cast<const Call&>(e).args) walk(a);
      break;
    case NodeKind::kAggregate:
      walk(static_cast<const AggregateExpr&>(e).expr);
      walk(static_cast<const AggregateExpr&>(e).param);
      break;
    case NodeKind::kBinary:
      walk(static_cast<const BinaryExpr&>(e).lhs);
      walk(static_cast<const BinaryExpr&>(e).rhs);
      break;
    case NodeKind::kUnary:
      walk(static_cast<const UnaryExpr&>(e).expr);
      break;
    case NodeKind::kParen:
      walk(static_cast<const ParenExpr&>(e).expr);
      break;
    default:
      break;
  }
  path.pop_back();
}

// Count and sum only, and reset hints found by comparing each histogram with
// the one before it (in the selected range), as Prometheus's
// HistogramStatsIterator hands them out.
void ToStatsOnly(std::vector<HistogramSample>& hs) {
  const FloatHistogram* last = nullptr;
  std::vector<HistogramPtr> originals;
  originals.reserve(hs.size());
  for (auto& x : hs) {
    originals.push_back(x.h);
    const FloatHistogram& cur = *x.h;
    CounterResetHint hint = cur.counter_reset_hint;
    if (hint == CounterResetHint::kUnknown && last != nullptr)
      hint = HistogramDetectReset(cur, *last) ? CounterResetHint::kCounterReset
                                              : CounterResetHint::kNotCounterReset;
    FloatHistogram s;
    s.schema = cur.schema;
    s.count = cur.count;
    s.sum = cur.sum;
    s.counter_reset_hint = hint;
    if (cur.UsesCustomBuckets()) s.custom_values = cur.custom_values;
    x.h = MakeHistogram(std::move(s));
    last = originals.back().get();
  }
}

}  // namespace

void FindStatsOnlySelectors(const Expr& e, std::unordered_set<const VectorSelector*>* out) {
  std::vector<const Expr*> path;
  StatsWalk(e, path, out);
}

// ---- SeriesCollector --------------------------------------------------------

Series* SeriesCollector::Find(const Labels& metric, uint64_t h) {
  auto [lo, hi] = index_.equal_range(h);
  for (auto it = lo; it != hi; ++it)
    if (out_[it->second].metric == metric) return &out_[it->second];
  return nullptr;
}

template <class L>
Series* SeriesCollector::Slot(L&& metric, bool drop_name, int64_t ts) {
  uint64_t h = metric.Hash();
  Series* s = Find(metric, h);
  if (s == nullptr) {
    index_.emplace(h, out_.size());
    out_.push_back(Series{std::forward<L>(metric), {}, drop_name});
    s = &out_.back();
    s->points.reserve(reserve_);
  }
  if (!s->points.empty() && s->points.back().t == ts) return nullptr;
  return s;
}

namespace {
Status DuplicateLabelset() {
  return Invalid("vector cannot contain metrics with the same labelset");
}
}  // namespace

Status SeriesCollector::Add(const Labels& metric, bool drop_name, int64_t ts, double v) {
  Series* s = Slot(metric, drop_name, ts);
  if (s == nullptr) return DuplicateLabelset();
  s->points.push_back({ts, v});
  return Status::Ok();
}
Status SeriesCollector::Add(Labels&& metric, bool drop_name, int64_t ts, double v) {
  Series* s = Slot(std::move(metric), drop_name, ts);
  if (s == nullptr) return DuplicateLabelset();
  s->points.push_back({ts, v});
  return Status::Ok();
}

Status SeriesCollector::Add(const Labels& metric, bool drop_name, int64_t ts, double v,
                            HistogramPtr hist) {
  Series* s = Slot(metric, drop_name, ts);
  if (s == nullptr) return DuplicateLabelset();
  s->points.push_back({ts, v, std::move(hist)});
  return Status::Ok();
}

Status SeriesCollector::Add(Labels&& metric, bool drop_name, int64_t ts, double v,
                            HistogramPtr hist) {
  Series* s = Slot(std::move(metric), drop_name, ts);
  if (s == nullptr) return DuplicateLabelset();
  s->points.push_back({ts, v, std::move(hist)});
  return Status::Ok();
}

// ---- Evaluator: plumbing ----------------------------------------------------

Status Evaluator::Charge(int64_t n) {
  *ctx_.samples_in_use += n;
  if (*ctx_.samples_in_use > ctx_.opts->max_samples)
    return Invalid("query processing would load too many samples into memory in query execution");
  return Status::Ok();
}

Status Evaluator::CheckDeadline() const {
  if (std::chrono::steady_clock::now() > ctx_.deadline)
    return Status(Code::kTimeout, "query timed out in expression evaluation");
  return Status::Ok();
}

std::optional<int64_t> Evaluator::AtTime(AtModifier at, int64_t at_ms) const {
  switch (at) {
    case AtModifier::kNone:
      return std::nullopt;
    case AtModifier::kTimestamp:
      return at_ms;
    case AtModifier::kStart:
      return ctx_.query_start;
    case AtModifier::kEnd:
      return ctx_.query_end;
  }
  return std::nullopt;
}

namespace {

// Duration expressions are scalar arithmetic in seconds over constants,
// step(), range(), min() and max().
Result<double> DurationSeconds(const Expr& e, const Evaluator& ev) {
  switch (e.kind) {
    case NodeKind::kNumber:
      return static_cast<const NumberLiteral&>(e).val;
    case NodeKind::kParen:
      return DurationSeconds(*static_cast<const ParenExpr&>(e).expr, ev);
    case NodeKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      auto v = DurationSeconds(*u.expr, ev);
      if (!v.ok()) return v;
      return u.negate ? -*v : *v;
    }
    case NodeKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      auto l = DurationSeconds(*b.lhs, ev);
      if (!l.ok()) return l;
      auto r = DurationSeconds(*b.rhs, ev);
      if (!r.ok()) return r;
      switch (b.op) {
        case BinOp::kAdd:
          return *l + *r;
        case BinOp::kSub:
          return *l - *r;
        case BinOp::kMul:
          return *l * *r;
        case BinOp::kDiv:
          if (*r == 0) return Invalid("division by zero");
          return *l / *r;
        case BinOp::kMod:
          if (*r == 0) return Invalid("modulo by zero");
          return std::fmod(*l, *r);
        case BinOp::kPow:
          return std::pow(*l, *r);
        default:
          return Invalid("unexpected operator in duration expression");
      }
    }
    case NodeKind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      const std::string& n = c.func->name;
      if (n == "step") return static_cast<double>(ev.ctx().query_step) / 1000.0;
      if (n == "range")
        return static_cast<double>(ev.ctx().query_end - ev.ctx().query_start) / 1000.0;
      if (n == "start") return static_cast<double>(ev.ctx().query_start) / 1000.0;
      if (n == "end") return static_cast<double>(ev.ctx().query_end) / 1000.0;
      if ((n == "min" || n == "max" || n == "min_of" || n == "max_of") && c.args.size() == 2) {
        auto a = DurationSeconds(*c.args[0], ev);
        if (!a.ok()) return a;
        auto b = DurationSeconds(*c.args[1], ev);
        if (!b.ok()) return b;
        return n.rfind("min", 0) == 0 ? std::min(*a, *b) : std::max(*a, *b);
      }
      return Invalid("unexpected function " + n + " in duration expression");
    }
    case NodeKind::kAggregate: {
      // min(a, b) / max(a, b) may come back from the parser as aggregations.
      const auto& a = static_cast<const AggregateExpr&>(e);
      if ((a.op == AggOp::kMin || a.op == AggOp::kMax) && a.param) {
        auto x = DurationSeconds(*a.param, ev);
        if (!x.ok()) return x;
        auto y = DurationSeconds(*a.expr, ev);
        if (!y.ok()) return y;
        return a.op == AggOp::kMin ? std::min(*x, *y) : std::max(*x, *y);
      }
      return Invalid("unexpected aggregation in duration expression");
    }
    default:
      return Invalid("unexpected expression in duration expression");
  }
}

}  // namespace

Result<int64_t> Evaluator::ResolveDuration(const Duration& d) const {
  if (!d.expr) return d.ms;
  auto s = DurationSeconds(*d.expr, *this);
  if (!s.ok()) return s.status();
  double ms = std::round(*s * 1000.0);
  if (!std::isfinite(ms) || std::fabs(ms) > 9.2e18) return Invalid("duration out of range");
  return static_cast<int64_t>(ms);
}

Value Evaluator::ScalarValue(double v) const {
  Value out;
  out.type = ValueType::kScalar;
  out.series.resize(1);
  size_t n = NumSteps();
  out.series[0].points.reserve(n);
  for (size_t i = 0; i < n; ++i) out.series[0].points.push_back({StepTime(i), v});
  return out;
}

double Evaluator::ScalarAt(const Value& v, size_t step, const Evaluator& ev) {
  if (v.series.empty()) return std::nan("");
  const auto& pts = v.series[0].points;
  int64_t ts = ev.StepTime(step);
  if (step < pts.size() && pts[step].t == ts) return pts[step].v;
  auto it = std::lower_bound(pts.begin(), pts.end(), ts,
                             [](const Point& p, int64_t t) { return p.t < t; });
  if (it != pts.end() && it->t == ts) return it->v;
  return std::nan("");
}

// ---- dispatch ---------------------------------------------------------------

Result<Value> Evaluator::Eval(const Expr& e) {
  if (Status st = CheckDeadline(); !st.ok()) return st;
  switch (e.kind) {
    case NodeKind::kNumber:
      return ScalarValue(static_cast<const NumberLiteral&>(e).val);
    case NodeKind::kString: {
      Value v;
      v.type = ValueType::kString;
      v.str = static_cast<const StringLiteral&>(e).val;
      return v;
    }
    case NodeKind::kParen:
      return Eval(*static_cast<const ParenExpr&>(e).expr);
    case NodeKind::kUnary:
      return EvalUnary(static_cast<const UnaryExpr&>(e));
    case NodeKind::kVectorSelector:
      return EvalVectorSelector(static_cast<const VectorSelector&>(e), false);
    case NodeKind::kMatrixSelector:
    case NodeKind::kSubquery: {
      // A range vector as a query's result: the window at the (single) step.
      auto r = EvalRange(e);
      if (!r.ok()) return r.status();
      Value v;
      v.type = ValueType::kMatrix;
      int64_t ref = r->Ref(start_);
      for (auto& s : r->series) {
        Series out{std::move(s.metric), {}, s.drop_name};
        for (const auto& p : s.points)
          if (p.t > ref - r->range && p.t <= ref) out.points.push_back(p);
        if (!out.points.empty()) v.series.push_back(std::move(out));
      }
      return v;
    }
    case NodeKind::kCall:
      return EvalCall(static_cast<const Call&>(e));
    case NodeKind::kAggregate:
      return EvalAggregate(static_cast<const AggregateExpr&>(e));
    case NodeKind::kBinary:
      return EvalBinary(static_cast<const BinaryExpr&>(e));
  }
  return Internal("unknown expression node");
}

Result<RangeValue> Evaluator::EvalRange(const Expr& e) {
  switch (e.kind) {
    case NodeKind::kParen:
      return EvalRange(*static_cast<const ParenExpr&>(e).expr);
    case NodeKind::kMatrixSelector:
      return EvalMatrixSelector(static_cast<const MatrixSelector&>(e));
    case NodeKind::kSubquery:
      return EvalSubquery(static_cast<const SubqueryExpr&>(e));
    default:
      return Internal("expected a range vector");
  }
}

// ---- selectors --------------------------------------------------------------

Result<Value> Evaluator::EvalVectorSelector(const VectorSelector& vs, bool timestamps) {
  auto offset = ResolveDuration(vs.offset);
  if (!offset.ok()) return offset.status();
  std::optional<int64_t> at = AtTime(vs.at, vs.at_ms);
  int64_t lookback = ctx_.opts->lookback_ms;
  int64_t first_ref = (at ? *at : start_) - *offset;
  int64_t last_ref = (at ? *at : end_) - *offset;
  // `smoothed` interpolates between the samples around each step.
  const bool smooth = vs.smoothed && !timestamps;
  auto sel = ctx_.querier->Select(first_ref - lookback + 1, last_ref + (smooth ? lookback : 0),
                                  vs.matchers);
  if (!sel.ok()) return sel.status();

  Value out;
  out.type = ValueType::kVector;
  size_t n = NumSteps();
  int64_t loaded = 0;
  const bool stats = ctx_.stats_only && ctx_.stats_only->count(&vs);
  for (auto& ss : *sel) {
    if (stats) ToStatsOnly(ss.histograms);
    const auto& smp = ss.samples;
    const auto& hs = ss.histograms;
    if (smp.empty() && hs.empty()) continue;
    loaded += static_cast<int64_t>(smp.size() + hs.size());
    if (smooth && !hs.empty()) {
      if (Series s = SmoothedHistogramSeries(vs, ss, at, *offset); !s.points.empty())
        out.series.push_back(std::move(s));
      continue;
    }
    Series s{std::move(ss.labels), {}, false};
    s.points.reserve(std::min<size_t>(n, smp.size() + hs.size()));
    size_t j = 0;   // first float sample with t > ref
    size_t jh = 0;  // first histogram sample with t > ref
    for (size_t i = 0; i < n; ++i) {
      int64_t ref = (at ? *at : StepTime(i)) - *offset;
      if (at) j = jh = 0;
      while (j < smp.size() && smp[j].t <= ref) ++j;
      while (jh < hs.size() && hs[jh].t <= ref) ++jh;
      // The newest sample of either kind within the lookback (a staleness
      // marker, always a float, hides the series).
      if (jh > 0 && (j == 0 || hs[jh - 1].t > smp[j - 1].t)) {
        const HistogramSample& last = hs[jh - 1];
        if (last.t <= ref - lookback) continue;
        if (timestamps) {
          s.points.push_back({StepTime(i), static_cast<double>(last.t) / 1000.0});
        } else {
          s.points.push_back({StepTime(i), 0, last.h});
        }
        continue;
      }
      if (j == 0) continue;
      const Sample& last = smp[j - 1];
      if (last.t <= ref - lookback || IsStaleNaN(last.v)) continue;
      double v = timestamps ? static_cast<double>(last.t) / 1000.0 : last.v;
      if (smooth && last.t < ref && j < smp.size() && smp[j].t < ref + lookback &&
          !IsStaleNaN(smp[j].v)) {
        const Sample& next = smp[j];
        v = last.v + (next.v - last.v) * static_cast<double>(ref - last.t) /
                         static_cast<double>(next.t - last.t);
      }
      s.points.push_back({StepTime(i), v});
    }
    if (!s.points.empty()) out.series.push_back(std::move(s));
  }
  if (Status st = Charge(loaded); !st.ok()) return st;
  *ctx_.samples_in_use -= loaded;
  return out;
}

// A smoothed selector over a series holding native histograms: each step
// takes the value interpolated between the samples around it (the last one
// carried forward at the end); floats and histograms do not interpolate
// with each other.
Series Evaluator::SmoothedHistogramSeries(const VectorSelector& vs, SeriesSamples& ss,
                                          std::optional<int64_t> at, int64_t offset) {
  std::vector<Point> m;  // both kinds by time, staleness markers included
  m.reserve(ss.samples.size() + ss.histograms.size());
  size_t a = 0, b = 0;
  while (a < ss.samples.size() || b < ss.histograms.size()) {
    if (b >= ss.histograms.size() ||
        (a < ss.samples.size() && ss.samples[a].t < ss.histograms[b].t)) {
      m.push_back({ss.samples[a].t, ss.samples[a].v});
      ++a;
    } else {
      m.push_back({ss.histograms[b].t, 0, ss.histograms[b].h});
      ++b;
    }
  }
  const std::string name(ss.labels.Name());
  Series s{std::move(ss.labels), {}, false};
  const int64_t lookback = ctx_.opts->lookback_ms;
  auto stale = [](const Point& p) { return !p.h && IsStaleNaN(p.v); };
  size_t n = NumSteps();
  for (size_t i = 0; i < n; ++i) {
    int64_t ref = (at ? *at : StepTime(i)) - offset;
    size_t j = std::upper_bound(m.begin(), m.end(), ref,
                                [](int64_t t, const Point& p) { return t < p.t; }) -
               m.begin();
    if (j == 0) continue;
    const Point& prev = m[j - 1];
    if (prev.t <= ref - lookback || stale(prev)) continue;
    bool has_next = j < m.size() && m[j].t < ref + lookback && !stale(m[j]);
    if (prev.t == ref || !has_next) {
      Point p{StepTime(i), prev.v, prev.h};
      if (p.h && prev.t != ref && p.h->counter_reset_hint != CounterResetHint::kGauge &&
          p.h->counter_reset_hint != CounterResetHint::kUnknown) {
        // Carried forward: the hint described its neighbours, not this step.
        FloatHistogram h = *p.h;
        h.counter_reset_hint = CounterResetHint::kUnknown;
        p.h = MakeHistogram(std::move(h));
      }
      s.points.push_back(std::move(p));
      continue;
    }
    const Point& next = m[j];
    if (!prev.h != !next.h) {
      ctx_.notes->Warn(
          "encountered a mix of histograms and floats for metric name " + QuoteString(name), vs.pos,
          ctx_.query);
      continue;
    }
    if (!prev.h) {
      double v = prev.v + (next.v - prev.v) * static_cast<double>(ref - prev.t) /
                              static_cast<double>(next.t - prev.t);
      s.points.push_back({StepTime(i), v});
      continue;
    }
    bool counter = next.h->counter_reset_hint != CounterResetHint::kGauge;
    std::optional<FloatHistogram> h;
    if (prev.h->UsesCustomBuckets() == next.h->UsesCustomBuckets())
      h = InterpolateHistograms(*prev.h, prev.t, *next.h, next.t, ref, counter, ctx_.notes, vs.pos,
                                ctx_.query);
    if (!h) {
      ctx_.notes->Warn(MixedExpCustomWarning(name), vs.pos, ctx_.query);
      continue;
    }
    s.points.push_back({StepTime(i), 0, MakeHistogram(std::move(*h))});
  }
  return s;
}

Result<RangeValue> Evaluator::EvalMatrixSelector(const MatrixSelector& ms) {
  const auto& vs = static_cast<const VectorSelector&>(*ms.vector_selector);
  auto range = ResolveDuration(ms.range);
  if (!range.ok()) return range.status();
  auto offset = ResolveDuration(vs.offset);
  if (!offset.ok()) return offset.status();
  std::optional<int64_t> at = AtTime(vs.at, vs.at_ms);
  RangeValue rv;
  rv.range = *range;
  rv.offset = *offset;
  rv.fixed = at.has_value();
  rv.fixed_ref = at.value_or(0);
  rv.selector = &vs;
  rv.anchored = vs.anchored;
  rv.smoothed = vs.smoothed;
  rv.lookback = ctx_.opts->lookback_ms;
  int64_t first_ref = rv.Ref(start_), last_ref = rv.Ref(end_);
  int64_t before = rv.anchored || rv.smoothed ? rv.lookback : 0;
  int64_t after = rv.smoothed ? rv.lookback : 0;
  auto sel = ctx_.querier->Select(first_ref - rv.range - before + 1, last_ref + after, vs.matchers);
  if (!sel.ok()) return sel.status();
  int64_t loaded = 0;
  const bool stats = ctx_.stats_only && ctx_.stats_only->count(&vs);
  for (auto& ss : *sel) {
    if (stats) ToStatsOnly(ss.histograms);
    rv.histograms |= !ss.histograms.empty();
    Series s{std::move(ss.labels), {}, false};
    s.points.reserve(ss.samples.size() + ss.histograms.size());
    if (ss.histograms.empty()) {
      for (const auto& smp : ss.samples)
        if (!IsStaleNaN(smp.v)) s.points.push_back({smp.t, smp.v});
    } else {
      // Floats and histograms merged by time.
      size_t a = 0, b = 0;
      const auto& fs = ss.samples;
      const auto& hs = ss.histograms;
      while (a < fs.size() || b < hs.size()) {
        if (b >= hs.size() || (a < fs.size() && fs[a].t < hs[b].t)) {
          if (!IsStaleNaN(fs[a].v)) s.points.push_back({fs[a].t, fs[a].v});
          ++a;
        } else {
          s.points.push_back({hs[b].t, 0, hs[b].h});
          ++b;
        }
      }
    }
    loaded += static_cast<int64_t>(s.points.size());
    if (!s.points.empty()) rv.series.push_back(std::move(s));
  }
  if (Status st = Charge(loaded); !st.ok()) return st;
  *ctx_.samples_in_use -= loaded;
  return rv;
}

Result<RangeValue> Evaluator::EvalSubquery(const SubqueryExpr& sq) {
  auto range = ResolveDuration(sq.range);
  if (!range.ok()) return range.status();
  auto offset = ResolveDuration(sq.offset);
  if (!offset.ok()) return offset.status();
  auto step = ResolveDuration(sq.step);
  if (!step.ok()) return step.status();
  int64_t interval = *step > 0 ? *step : ctx_.opts->default_eval_interval_ms;
  if (interval <= 0) return Invalid("subquery step must be positive");
  std::optional<int64_t> at = AtTime(sq.at, sq.at_ms);

  RangeValue rv;
  rv.range = *range;
  rv.offset = *offset;
  rv.fixed = at.has_value();
  rv.fixed_ref = at.value_or(0);
  rv.is_subquery = true;

  int64_t inner_end = rv.Ref(end_);
  int64_t lo = rv.Ref(start_) - rv.range;
  // The first step-aligned time after lo (Go's truncating division).
  int64_t inner_start = interval * (lo / interval);
  if (inner_start <= lo) inner_start += interval;
  if (inner_start > inner_end) return rv;

  Evaluator inner(ctx_, inner_start, inner_end, interval);
  auto v = inner.Eval(*sq.expr);
  if (!v.ok()) return v.status();
  if (v->type == ValueType::kString) return Invalid("subquery over a string");
  rv.series = std::move(v->series);
  std::erase_if(rv.series, [](const Series& s) { return s.points.empty(); });
  // A subquery may skip the sample where a counter reset happened, or repeat
  // one: explicit reset hints no longer describe neighbouring points.
  for (auto& s : rv.series) {
    for (auto& p : s.points) {
      if (!p.h) continue;
      rv.histograms = true;
      CounterResetHint hint = p.h->counter_reset_hint;
      if (hint != CounterResetHint::kCounterReset && hint != CounterResetHint::kNotCounterReset)
        continue;
      FloatHistogram h = *p.h;
      h.counter_reset_hint = CounterResetHint::kUnknown;
      p.h = MakeHistogram(std::move(h));
    }
  }
  return rv;
}

// ---- unary and binary operators ---------------------------------------------

Result<Value> Evaluator::EvalUnary(const UnaryExpr& u) {
  auto v = Eval(*u.expr);
  if (!v.ok() || !u.negate) return v;
  for (auto& s : v->series) {
    for (auto& p : s.points) {
      p.v = -p.v;
      if (p.h) {
        FloatHistogram h = *p.h;
        HistogramMul(h, -1);
        p.h = MakeHistogram(std::move(h));
      }
    }
    if (v->type == ValueType::kVector) s.drop_name = true;
  }
  return v;
}

namespace {

// The value of `l op r` and whether a filtering comparison keeps it.
inline std::pair<double, bool> ElemBinop(BinOp op, double l, double r) {
  switch (op) {
    case BinOp::kAdd:
      return {l + r, true};
    case BinOp::kSub:
      return {l - r, true};
    case BinOp::kMul:
      return {l * r, true};
    case BinOp::kDiv:
      return {l / r, true};
    case BinOp::kMod:
      return {std::fmod(l, r), true};
    case BinOp::kPow:
      return {std::pow(l, r), true};
    case BinOp::kAtan2:
      return {std::atan2(l, r), true};
    case BinOp::kEql:
      return {l, l == r};
    case BinOp::kNeq:
      return {l, l != r};
    case BinOp::kGtr:
      return {l, l > r};
    case BinOp::kLss:
      return {l, l < r};
    case BinOp::kGte:
      return {l, l >= r};
    case BinOp::kLte:
      return {l, l <= r};
    default:
      return {0, false};
  }
}

bool IsTrim(BinOp op) { return op == BinOp::kTrimUpper || op == BinOp::kTrimLower; }

// Arithmetic changes what a series measures, so its name goes; comparisons
// and trims keep it.
bool DropsName(BinOp op, bool return_bool) {
  return (!IsComparison(op) && !IsTrim(op)) || return_bool;
}

// One element of a binary operation where either side may be a native
// histogram (Prometheus's vectorElemBinop): histograms add to and subtract
// from each other, scale by floats and compare for (in)equality; every other
// combination yields nothing and an info annotation.
struct Elem {
  double v = 0;
  HistogramPtr h;
  bool keep = false;
  bool error = false;  // no result at all, not even for `bool`
};

// `vv`: between two vectors, where (as in Prometheus) a conflicting reset
// hint drops the element; against a scalar it only warns.
Elem ElemBinopH(BinOp op, double l, const HistogramPtr& lh, double r, const HistogramPtr& rh,
                Annotations* notes, PosRange pos, std::string_view query, bool vv) {
  auto incompatible = [&](const char* lt, const char* rt) {
    notes->Info(std::string("incompatible sample types encountered for binary operator \"") +
                    BinOpName(op) + "\": " + lt + " " + BinOpName(op) + " " + rt,
                pos, query);
    Elem e;
    e.error = true;
    return e;
  };
  const bool trim = op == BinOp::kTrimUpper || op == BinOp::kTrimLower;
  if (!lh && !rh) return incompatible("float", "float");  // only trims get here
  if (lh && !rh && trim)
    return {0, MakeHistogram(HistogramTrim(*lh, r, op == BinOp::kTrimUpper)), true};
  if (!lh && rh) {
    if (op == BinOp::kMul) {
      FloatHistogram h = *rh;
      HistogramMul(h, l);
      HistogramCompact(h);
      return {0, MakeHistogram(std::move(h)), true};
    }
    return incompatible("float", "histogram");
  }
  if (lh && !rh) {
    if (op == BinOp::kMul || op == BinOp::kDiv) {
      FloatHistogram h = *lh;
      if (op == BinOp::kMul) {
        HistogramMul(h, r);
      } else {
        HistogramDiv(h, r);
      }
      HistogramCompact(h);
      return {0, MakeHistogram(std::move(h)), true};
    }
    return incompatible("histogram", "float");
  }
  switch (op) {
    case BinOp::kAdd:
    case BinOp::kSub: {
      FloatHistogram h = *lh;
      HistogramOpInfo info = op == BinOp::kAdd ? HistogramAdd(h, *rh) : HistogramSub(h, *rh);
      const char* what = op == BinOp::kAdd ? "addition" : "subtraction";
      if (info.incompatible) {
        notes->Warn(std::string("incompatible bucket layout encountered for binary operator ") +
                        BinOpName(op),
                    pos, query);
        Elem e;
        e.error = true;
        return e;
      }
      // A difference is a gauge, whatever its operands were.
      if (op == BinOp::kSub) h.counter_reset_hint = CounterResetHint::kGauge;
      if (info.reset_collision) {
        notes->Warn(std::string("conflicting counter resets during histogram ") + what, pos, query);
        if (vv) {
          Elem e;
          e.error = true;
          return e;
        }
      }
      if (info.custom_reconciled)
        notes->Info(std::string("mismatched custom buckets were reconciled during ") + what, pos,
                    query);
      HistogramCompact(h);
      return {0, MakeHistogram(std::move(h)), true};
    }
    case BinOp::kEql:
      return {0, lh, HistogramEquals(*lh, *rh)};
    case BinOp::kNeq:
      return {0, lh, !HistogramEquals(*lh, *rh)};
    default:
      return incompatible("histogram", "histogram");
  }
}

// The labels a series is matched by: the on(...) labels, or all but the
// ignoring(...) labels and the name.
uint64_t Signature(const Labels& l, const VectorMatching& m) { return l.HashFor(m.labels, !m.on); }

Labels MatchGroup(const Labels& l, const VectorMatching& m) {
  return m.on ? l.Keep(m.labels) : l.Drop(m.labels).WithoutName();
}

}  // namespace

Result<Value> Evaluator::EvalBinary(const BinaryExpr& b) {
  auto lv = Eval(*b.lhs);
  if (!lv.ok()) return lv;
  auto rv = Eval(*b.rhs);
  if (!rv.ok()) return rv;
  const bool lscalar = lv->type == ValueType::kScalar;
  const bool rscalar = rv->type == ValueType::kScalar;

  if (lscalar && rscalar) {
    Value out;
    out.type = ValueType::kScalar;
    out.series.resize(1);
    size_t n = NumSteps();
    for (size_t i = 0; i < n; ++i) {
      auto [v, keep] = ElemBinop(b.op, ScalarAt(*lv, i, *this), ScalarAt(*rv, i, *this));
      if (IsComparison(b.op)) v = keep ? 1 : 0;
      out.series[0].points.push_back({StepTime(i), v});
    }
    return out;
  }

  SeriesCollector col(NumSteps());
  Value out;
  out.type = ValueType::kVector;

  if (lscalar || rscalar) {
    const Value& vec = lscalar ? *rv : *lv;
    const Value& sc = lscalar ? *lv : *rv;
    const bool drop = DropsName(b.op, b.return_bool);
    Status st = ForEachStep(vec, [&](size_t i, int64_t ts, const std::vector<StepSample>& ss) {
      double s = ScalarAt(sc, i, *this);
      for (const auto& x : ss) {
        double l = lscalar ? s : x.v, r = lscalar ? x.v : s;
        if (x.H() || IsTrim(b.op)) {
          static const HistogramPtr kNone;
          const HistogramPtr& hp = x.h ? *x.h : kNone;
          Elem el = ElemBinopH(b.op, l, lscalar ? kNone : hp, r, lscalar ? hp : kNone, ctx_.notes,
                               b.pos, ctx_.query, false);
          if (el.error) continue;
          if (IsComparison(b.op) && lscalar) el.h = hp;
          if (b.return_bool) {
            el.h = nullptr;
            el.v = el.keep ? 1 : 0;
          } else if (!el.keep) {
            continue;
          }
          if (Status e = col.Add(x.src->metric, x.src->drop_name || drop, ts, el.v, el.h); !e.ok())
            return e;
          continue;
        }
        auto [v, keep] = ElemBinop(b.op, l, r);
        // A comparison keeps the vector's own value, whichever side it is on.
        if (IsComparison(b.op) && lscalar) v = r;
        if (b.return_bool) {
          v = keep ? 1 : 0;
        } else if (!keep) {
          continue;
        }
        if (Status e = col.Add(x.src->metric, x.src->drop_name || drop, ts, v); !e.ok()) return e;
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    out.series = col.Take();
    return out;
  }

  // Vector to vector, step by step.
  const VectorMatching kDefault;
  const VectorMatching& m = b.matching ? *b.matching : kDefault;
  const Value& L = *lv;
  const Value& R = *rv;
  std::vector<size_t> lc(L.series.size(), 0), rc(R.series.size(), 0);
  std::vector<uint64_t> lsig(L.series.size()), rsig(R.series.size());
  for (size_t i = 0; i < L.series.size(); ++i) lsig[i] = Signature(L.series[i].metric, m);
  for (size_t i = 0; i < R.series.size(); ++i) rsig[i] = Signature(R.series[i].metric, m);

  static const HistogramPtr kNoHistogram;
  struct Item {
    size_t idx;
    double v;
    const HistogramPtr* h = &kNoHistogram;
  };
  auto gather = [](const Value& v, std::vector<size_t>& cur, int64_t ts, std::vector<Item>& out) {
    out.clear();
    for (size_t s = 0; s < v.series.size(); ++s) {
      const auto& pts = v.series[s].points;
      while (cur[s] < pts.size() && pts[cur[s]].t < ts) ++cur[s];
      if (cur[s] < pts.size() && pts[cur[s]].t == ts)
        out.push_back({s, pts[cur[s]].v, &pts[cur[s]].h});
    }
  };

  std::vector<Item> li, ri;
  const bool drop = DropsName(b.op, b.return_bool);
  size_t n = NumSteps();
  for (size_t step = 0; step < n; ++step) {
    int64_t ts = StepTime(step);
    gather(L, lc, ts, li);
    gather(R, rc, ts, ri);
    if (li.empty() && ri.empty()) continue;

    if (IsSetOp(b.op)) {
      std::unordered_set<uint64_t> rs, ls;
      for (const auto& r : ri) rs.insert(rsig[r.idx]);
      for (const auto& l : li) {
        bool in = rs.count(lsig[l.idx]) > 0;
        if (b.op == BinOp::kOr) ls.insert(lsig[l.idx]);
        if (b.op == BinOp::kOr || (b.op == BinOp::kAnd) == in) {
          const Series& s = L.series[l.idx];
          if (Status e = col.Add(s.metric, s.drop_name, ts, l.v, *l.h); !e.ok()) return e;
        }
      }
      if (b.op == BinOp::kOr) {
        for (const auto& r : ri) {
          if (ls.count(rsig[r.idx])) continue;
          const Series& s = R.series[r.idx];
          if (Status e = col.Add(s.metric, s.drop_name, ts, r.v, *r.h); !e.ok()) return e;
        }
      }
      continue;
    }

    // After the swap, `many` is the side with possibly several series per
    // match group and `one` the side that must be unique.
    const bool swap = m.card == Cardinality::kOneToMany;
    const Value& many = swap ? R : L;
    const Value& one = swap ? L : R;
    const auto& many_items = swap ? ri : li;
    const auto& one_items = swap ? li : ri;
    const auto& many_sig = swap ? rsig : lsig;
    const auto& one_sig = swap ? lsig : rsig;

    std::unordered_map<uint64_t, size_t> ones;  // signature → index into one_items
    for (size_t k = 0; k < one_items.size(); ++k) {
      uint64_t sig = one_sig[one_items[k].idx];
      auto [it, fresh] = ones.emplace(sig, k);
      if (!fresh) {
        const Labels* a = &one.series[one_items[k].idx].metric;
        const Labels* d = &one.series[one_items[it->second].idx].metric;
        if (*d < *a) std::swap(a, d);
        return Invalid(
            "found duplicate series for the match group " + MatchGroup(*a, m).String() +
            " on the " + (swap ? "left" : "right") + " hand-side of the operation: [" +
            a->String() + ", " + d->String() +
            "];many-to-many matching not allowed: matching labels must be unique on one side");
      }
    }
    std::unordered_map<uint64_t, std::unordered_set<uint64_t>> matched;
    // The experimental fill modifiers stand in for a missing partner: the
    // left one for the (possibly swapped) many side, the right one for the
    // one side.
    const std::optional<double>& fill_many = b.fill_left;
    const std::optional<double>& fill_one = b.fill_right;
    auto emit = [&](const Series* ms, const Series* os, double mv, double ov,
                    const HistogramPtr& mh, const HistogramPtr& oh) -> Status {
      double fl = mv, fr = ov;
      const HistogramPtr* hl = &mh;
      const HistogramPtr* hr = &oh;
      if (swap) {
        std::swap(fl, fr);
        std::swap(hl, hr);
      }
      double v;
      bool keep;
      HistogramPtr rh;
      if (*hl || *hr || IsTrim(b.op)) {
        Elem el = ElemBinopH(b.op, fl, *hl, fr, *hr, ctx_.notes, b.pos, ctx_.query, true);
        if (el.error) return Status::Ok();
        v = el.v;
        keep = el.keep;
        rh = std::move(el.h);
      } else {
        std::tie(v, keep) = ElemBinop(b.op, fl, fr);
      }
      if (b.return_bool) {
        v = keep ? 1 : 0;
        rh = nullptr;
      } else if (!keep) {
        return Status::Ok();
      }
      Labels metric;
      bool drop_name = drop;
      if (ms == nullptr) {
        // Only the one side is there: the result carries its match group.
        metric = MatchGroup(os->metric, m);
      } else if (m.card == Cardinality::kOneToOne) {
        metric = m.on ? ms->metric.Keep(m.labels) : ms->metric.Drop(m.labels);
        drop_name = drop || ms->drop_name;
      } else {
        metric = ms->metric;
        for (const auto& name : m.include)
          metric = metric.With(name, os ? os->metric.Get(name) : "");
        drop_name = drop || ms->drop_name;
      }
      if (ms != nullptr && m.card != Cardinality::kOneToOne) {
        Labels key = drop_name ? metric.WithoutName() : metric;
        auto& seen = matched[many_sig[static_cast<size_t>(ms - many.series.data())]];
        if (!seen.insert(key.Hash()).second)
          return Invalid("multiple matches for labels: grouping labels must ensure unique matches");
      }
      return col.Add(std::move(metric), drop_name, ts, v, std::move(rh));
    };
    for (const auto& mi : many_items) {
      uint64_t sig = many_sig[mi.idx];
      const Series& ms = many.series[mi.idx];
      auto it = ones.find(sig);
      if (it == ones.end()) {
        if (fill_one)
          if (Status e = emit(&ms, nullptr, mi.v, *fill_one, *mi.h, kNoHistogram); !e.ok())
            return e;
        continue;
      }
      const Item& oi = one_items[it->second];
      // One-to-one matching must be unique whether or not a comparison
      // filters the pair out.
      auto [mit, fresh] = matched.try_emplace(sig);
      if (m.card == Cardinality::kOneToOne && !fresh)
        return Invalid(
            "multiple matches for labels: many-to-one matching must be explicit "
            "(group_left/group_right)");
      if (Status e = emit(&ms, &one.series[oi.idx], mi.v, oi.v, *mi.h, *oi.h); !e.ok()) return e;
    }
    if (fill_many) {
      for (const auto& oi : one_items) {
        if (matched.count(one_sig[oi.idx])) continue;
        if (Status e = emit(nullptr, &one.series[oi.idx], *fill_many, oi.v, kNoHistogram, *oi.h);
            !e.ok())
          return e;
      }
    }
  }
  out.series = col.Take();
  return out;
}

// ---- aggregations -----------------------------------------------------------

namespace {

struct Group {
  const Labels* labels = nullptr;  // the group's output labels
  bool drop_name = false;          // `by (__name__)` over a series whose name goes
  double value = 0, c = 0, mean = 0;
  double count = 0;
  bool incremental = false;
  std::vector<double> values;
  // (value, index of the sample in the step's samples) for topk, bottomk,
  // limitk and limit_ratio.
  std::vector<std::pair<double, size_t>> top;
  std::map<std::string, double> counts;  // count_values
  bool has_float = false, has_hist = false;
  // sum / avg over native histograms; allocated for the first one, so that
  // float aggregation does not pay for it.
  struct Histograms {
    std::optional<FloatHistogram> sum;
    FloatHistogram comp;  // Kahan compensation of sum
    HistogramMean mean;   // avg
    bool incompatible = false;
  };
  std::unique_ptr<Histograms> hist;
  Histograms& Hist() {
    if (!hist) hist = std::make_unique<Histograms>();
    return *hist;
  }
};

}  // namespace

Result<Value> Evaluator::EvalAggregate(const AggregateExpr& a) {
  auto in = Eval(*a.expr);
  if (!in.ok()) return in;
  Value param;
  std::string label;  // count_values
  if (a.param) {
    auto p = Eval(*a.param);
    if (!p.ok()) return p;
    param = std::move(*p);
    if (a.op == AggOp::kCountValues) {
      label = param.str;
      if (label.empty() || !IsValidUtf8(label))
        return Invalid("invalid label name " + QuoteString(label));
    }
  }

  if (a.op == AggOp::kCountValues) {
    // The value label is set on each series first and the grouping applies
    // to the result, so groups that end up alike merge (`by` keeps the value
    // label, `without` cannot remove it).
    std::vector<std::string> grouping = a.grouping;
    if (a.without) {
      std::erase(grouping, label);
    } else {
      grouping.push_back(label);
    }
    SeriesCollector col(NumSteps());
    Status st = ForEachStep(*in, [&](size_t, int64_t ts, const std::vector<StepSample>& ss) {
      std::map<Labels, double> counts;
      for (const auto& x : ss) {
        const FloatHistogram* xh = x.H();
        Labels m = x.src->metric.With(label, xh ? HistogramGoString(*xh) : FormatFloat(x.v));
        counts[a.without ? m.Drop(grouping).WithoutName() : m.Keep(grouping)] += 1;
      }
      for (auto& [ls, n] : counts)
        if (Status e = col.Add(ls, false, ts, n); !e.ok()) return e;
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return VectorValue(col.Take());
  }

  // Per input series: its group key and the group's output labels.
  std::vector<std::string> grouping = a.grouping;
  const size_t ns = in->series.size();
  std::vector<uint64_t> key(ns);
  std::vector<Labels> glabels(ns);
  for (size_t i = 0; i < ns; ++i) {
    const Labels& l = in->series[i].metric;
    key[i] = l.HashFor(grouping, a.without);
    glabels[i] = a.without ? l.Drop(grouping).WithoutName() : l.Keep(grouping);
  }

  const bool keeps_series = a.op == AggOp::kTopk || a.op == AggOp::kBottomk ||
                            a.op == AggOp::kLimitk || a.op == AggOp::kLimitRatio;
  SeriesCollector col(NumSteps());
  Value out;
  out.type = ValueType::kVector;
  const Series* base = in->series.data();
  std::vector<Group> groups;
  std::unordered_map<uint64_t, size_t> gidx;

  Status st = ForEachStep(*in, [&](size_t step, int64_t ts, const std::vector<StepSample>& ss) {
    groups.clear();
    gidx.clear();
    double p = a.param && a.op != AggOp::kCountValues ? ScalarAt(param, step, *this) : 0;
    int64_t k = 0;
    if (a.op == AggOp::kTopk || a.op == AggOp::kBottomk || a.op == AggOp::kLimitk) {
      if (std::isnan(p)) return Invalid("Parameter value is NaN");
      if (p >= 9.223372036854775807e18 || p < -9.223372036854775807e18)
        return Invalid("Scalar value " + FormatFloat(p) + " overflows int64");
      k = static_cast<int64_t>(p);
      if (k < 1) return Status::Ok();
    }
    if (a.op == AggOp::kLimitRatio) {
      if (std::isnan(p)) return Invalid("Ratio value is NaN");
      if (p < -1 || p > 1) {
        double capped = std::max(-1.0, std::min(1.0, p));
        ctx_.notes->Warn("ratio value should be between -1 and 1, got " + FormatFloat(p) +
                             ", capping to " + FormatFloat(capped),
                         a.param->pos, ctx_.query);
        p = capped;
      }
    }
    if (a.op == AggOp::kQuantile && (std::isnan(p) || p < 0 || p > 1))
      ctx_.notes->Warn("quantile value should be between 0 and 1, got " + FormatFloat(p),
                       a.param->pos, ctx_.query);

    for (const auto& x : ss) {
      size_t si = static_cast<size_t>(x.src - base);
      const FloatHistogram* xh = x.H();
      if (xh != nullptr) {
        // Only sum, avg, count, group and the series-picking limits take
        // native histograms; the others leave them out.
        switch (a.op) {
          case AggOp::kMin:
          case AggOp::kMax:
          case AggOp::kStddev:
          case AggOp::kStdvar:
          case AggOp::kQuantile:
          case AggOp::kTopk:
          case AggOp::kBottomk:
            ctx_.notes->Info(
                std::string("ignored histogram in ") + AggOpName(a.op) + " aggregation",
                a.expr->pos, ctx_.query);
            continue;
          default:
            break;
        }
      }
      auto [it, fresh] = gidx.try_emplace(key[si], groups.size());
      if (fresh) {
        groups.emplace_back();
        Group& g = groups.back();
        g.labels = &glabels[si];
        g.drop_name = x.src->drop_name;
        g.value = x.v;
        g.mean = x.v;
        g.count = 1;
        if (xh != nullptr) {
          g.has_hist = true;
          if (a.op == AggOp::kSum) g.Hist().sum = *xh;
          if (a.op == AggOp::kAvg) g.Hist().mean.Add(*xh);
        } else {
          g.has_float = true;
        }
        switch (a.op) {
          case AggOp::kStddev:
          case AggOp::kStdvar:
            g.value = std::isfinite(x.v) ? 0 : std::nan("");
            break;
          case AggOp::kQuantile:
            g.values.push_back(x.v);
            break;
          case AggOp::kCountValues:
            g.counts[xh ? HistogramGoString(*xh) : FormatFloat(x.v)] = 1;
            break;
          case AggOp::kTopk:
          case AggOp::kBottomk:
          case AggOp::kLimitk:
            g.top.push_back({x.v, static_cast<size_t>(&x - ss.data())});
            break;
          case AggOp::kLimitRatio: {
            double off = static_cast<double>(x.src->metric.Hash()) /
                         static_cast<double>(std::numeric_limits<uint64_t>::max());
            if ((p >= 0 && off < p) || (p < 0 && off >= 1 + p))
              g.top.push_back({x.v, static_cast<size_t>(&x - ss.data())});
            break;
          }
          default:
            break;
        }
        continue;
      }
      Group& g = groups[it->second];
      g.count += 1;
      g.drop_name = g.drop_name || x.src->drop_name;
      if (xh != nullptr) {
        g.has_hist = true;
        if ((a.op == AggOp::kSum || a.op == AggOp::kAvg) && !g.Hist().incompatible) {
          Group::Histograms& gh = g.Hist();
          if (a.op == AggOp::kSum && !gh.sum) {
            gh.sum = *xh;
          } else {
            HistogramOpInfo info =
                a.op == AggOp::kSum ? HistogramKahanAdd(*gh.sum, gh.comp, *xh) : gh.mean.Add(*xh);
            if (info.incompatible) gh.incompatible = true;
            if (info.reset_collision)
              ctx_.notes->Warn("conflicting counter resets during histogram aggregation",
                               a.expr->pos, ctx_.query);
            if (info.custom_reconciled)
              ctx_.notes->Info("mismatched custom buckets were reconciled during aggregation",
                               a.expr->pos, ctx_.query);
          }
        }
        if (a.op == AggOp::kCountValues) g.counts[HistogramGoString(*xh)] += 1;
        if (a.op == AggOp::kLimitk && static_cast<int64_t>(g.top.size()) < k)
          g.top.push_back({x.v, static_cast<size_t>(&x - ss.data())});
        if (a.op == AggOp::kLimitRatio) {
          double off = static_cast<double>(x.src->metric.Hash()) /
                       static_cast<double>(std::numeric_limits<uint64_t>::max());
          if ((p >= 0 && off < p) || (p < 0 && off >= 1 + p))
            g.top.push_back({x.v, static_cast<size_t>(&x - ss.data())});
        }
        continue;
      }
      if (!g.has_float && (a.op == AggOp::kSum || a.op == AggOp::kAvg)) {
        // The first float of a group that started with histograms.
        g.value = x.v;
        g.c = 0;
        g.mean = x.v;
        g.has_float = true;
        continue;
      }
      g.has_float = true;
      switch (a.op) {
        case AggOp::kSum:
          g.value = KahanAdd(x.v, g.value, g.c);
          break;
        case AggOp::kAvg: {
          if (!g.incremental) {
            double c = g.c;
            double nv = KahanAdd(x.v, g.value, c);
            if (!std::isinf(nv)) {
              g.value = nv;
              g.c = c;
              break;
            }
            g.incremental = true;
            g.mean = g.value / (g.count - 1);
            g.c /= g.count - 1;
          }
          double q = (g.count - 1) / g.count;
          double c = q * g.c;
          g.mean = KahanAdd(x.v / g.count, q * g.mean, c);
          g.c = c;
          break;
        }
        case AggOp::kCount:
        case AggOp::kGroup:
          break;
        case AggOp::kMin:
          if (g.value > x.v || std::isnan(g.value)) g.value = x.v;
          break;
        case AggOp::kMax:
          if (g.value < x.v || std::isnan(g.value)) g.value = x.v;
          break;
        case AggOp::kStddev:
        case AggOp::kStdvar: {
          double delta = x.v - (g.mean + g.c);
          double c = g.c;
          g.mean = KahanAdd(delta / g.count, g.mean, c);
          g.c = c;
          g.value += delta * (x.v - (g.mean + g.c));
          break;
        }
        case AggOp::kQuantile:
          g.values.push_back(x.v);
          break;
        case AggOp::kCountValues:
          g.counts[FormatFloat(x.v)] += 1;
          break;
        case AggOp::kTopk:
        case AggOp::kBottomk:
          g.top.push_back({x.v, static_cast<size_t>(&x - ss.data())});
          break;
        case AggOp::kLimitk:
          if (static_cast<int64_t>(g.top.size()) < k)
            g.top.push_back({x.v, static_cast<size_t>(&x - ss.data())});
          break;
        case AggOp::kLimitRatio: {
          double off = static_cast<double>(x.src->metric.Hash()) /
                       static_cast<double>(std::numeric_limits<uint64_t>::max());
          if ((p >= 0 && off < p) || (p < 0 && off >= 1 + p))
            g.top.push_back({x.v, static_cast<size_t>(&x - ss.data())});
          break;
        }
      }
    }

    for (Group& g : groups) {
      double v = g.value;
      if ((a.op == AggOp::kSum || a.op == AggOp::kAvg) && g.has_hist) {
        if (g.has_float) {
          ctx_.notes->Warn("encountered a mix of histograms and floats for aggregation",
                           a.expr->pos, ctx_.query);
          continue;
        }
        if (g.Hist().incompatible) {
          ctx_.notes->Warn(MixedExpCustomWarning(""), a.expr->pos, ctx_.query);
          continue;
        }
        FloatHistogram h;
        if (a.op == AggOp::kSum) {
          h = std::move(*g.hist->sum);
          HistogramKahanFinish(h, g.hist->comp);
        } else {
          h = g.hist->mean.Result();
        }
        HistogramCompact(h);
        bool drop = g.drop_name && g.labels->Has(kMetricName);
        if (Status e = col.Add(*g.labels, drop, ts, 0, MakeHistogram(std::move(h))); !e.ok())
          return e;
        continue;
      }
      switch (a.op) {
        case AggOp::kSum:
          v = g.value + g.c;
          break;
        case AggOp::kAvg:
          v = g.incremental ? g.mean + g.c : g.value / g.count + g.c / g.count;
          break;
        case AggOp::kCount:
          v = g.count;
          break;
        case AggOp::kGroup:
          v = 1;
          break;
        case AggOp::kStdvar:
          v = g.value / g.count;
          break;
        case AggOp::kStddev:
          v = std::sqrt(g.value / g.count);
          break;
        case AggOp::kQuantile:
          v = Quantile(p, std::move(g.values));
          break;
        case AggOp::kCountValues: {
          for (const auto& [val, cnt] : g.counts)
            if (Status e = col.Add(g.labels->With(label, val), false, ts, cnt); !e.ok()) return e;
          continue;
        }
        case AggOp::kTopk:
        case AggOp::kBottomk: {
          // Largest (topk) or smallest (bottomk) first; NaN counts as the
          // least interesting value either way.
          bool top = a.op == AggOp::kTopk;
          std::stable_sort(g.top.begin(), g.top.end(), [top](const auto& x, const auto& y) {
            if (std::isnan(x.first)) return false;
            if (std::isnan(y.first)) return true;
            return top ? x.first > y.first : x.first < y.first;
          });
          if (static_cast<int64_t>(g.top.size()) > k) g.top.resize(static_cast<size_t>(k));
          [[fallthrough]];
        }
        case AggOp::kLimitk:
        case AggOp::kLimitRatio: {
          for (const auto& item : g.top) {
            const StepSample& x = ss[item.second];
            const Series& s = *x.src;
            Status e = x.H() ? col.Add(s.metric, s.drop_name, ts, item.first, *x.h)
                             : col.Add(s.metric, s.drop_name, ts, item.first);
            if (!e.ok()) return e;
          }
          continue;
        }
        default:
          break;
      }
      bool drop = g.drop_name && g.labels->Has(kMetricName);
      if (Status e = col.Add(*g.labels, drop, ts, v); !e.ok()) return e;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  (void)keeps_series;
  out.series = col.Take();
  return out;
}

}  // namespace internal

// ---- Engine -----------------------------------------------------------------

namespace {

using internal::Evaluator;
using internal::Series;

Status Fail(QueryError* err, ErrorType t, const Status& st) {
  if (err) *err = {t, st.message()};
  return st;
}

ErrorType TypeOf(const Status& st) {
  return st.code() == Code::kTimeout ? ErrorType::kTimeout : ErrorType::kExecution;
}

// Delayed name removal, then Prometheus's rule that a result may not hold the
// same label set twice at one time: series that became equal merge when their
// points do not overlap (e.g. two metrics that follow each other in time).
Status Finish(std::vector<Series>& series) {
  bool dropped = false;
  for (auto& s : series)
    if (s.drop_name) {
      s.metric = s.metric.WithoutName();
      s.drop_name = false;
      dropped = true;
    }
  if (!dropped) return Status::Ok();
  std::unordered_map<uint64_t, std::vector<size_t>> by_hash;
  bool dup = false;
  for (size_t i = 0; i < series.size(); ++i) {
    auto& v = by_hash[series[i].metric.Hash()];
    for (size_t j : v)
      if (series[j].metric == series[i].metric) dup = true;
    v.push_back(i);
  }
  if (!dup) return Status::Ok();
  std::vector<Series> out;
  std::vector<bool> taken(series.size(), false);
  for (size_t i = 0; i < series.size(); ++i) {
    if (taken[i]) continue;
    Series merged = std::move(series[i]);
    for (size_t j : by_hash[merged.metric.Hash()]) {
      if (j <= i || taken[j] || series[j].metric != merged.metric) continue;
      taken[j] = true;
      std::vector<Point> pts;
      std::merge(merged.points.begin(), merged.points.end(), series[j].points.begin(),
                 series[j].points.end(), std::back_inserter(pts),
                 [](const Point& a, const Point& b) { return a.t < b.t; });
      for (size_t k = 1; k < pts.size(); ++k)
        if (pts[k].t == pts[k - 1].t)
          return Invalid("vector cannot contain metrics with the same labelset");
      merged.points = std::move(pts);
    }
    out.push_back(std::move(merged));
  }
  series = std::move(out);
  return Status::Ok();
}

}  // namespace

Engine::Engine(EngineOptions opts) : opts_(opts) {}

Result<QueryResult> Engine::Instant(Querier& q, std::string_view query, int64_t t,
                                    QueryError* err) const {
  ParseOptions po;
  po.experimental = opts_.experimental;
  auto e = Parse(query, po);
  if (!e.ok()) return Fail(err, ErrorType::kBadData, e.status());
  return RunInstant(q, **e, query, t, err);
}

Result<QueryResult> Engine::InstantExpr(Querier& q, const Expr& e, int64_t t,
                                        QueryError* err) const {
  return RunInstant(q, e, {}, t, err);
}

Result<QueryResult> Engine::Range(Querier& q, std::string_view query, int64_t start, int64_t end,
                                  int64_t step, QueryError* err) const {
  ParseOptions po;
  po.experimental = opts_.experimental;
  auto e = Parse(query, po);
  if (!e.ok()) return Fail(err, ErrorType::kBadData, e.status());
  return RunRange(q, **e, query, start, end, step, err);
}

Result<QueryResult> Engine::RangeExpr(Querier& q, const Expr& e, int64_t start, int64_t end,
                                      int64_t step, QueryError* err) const {
  return RunRange(q, e, {}, start, end, step, err);
}

Result<QueryResult> Engine::RunInstant(Querier& q, const Expr& e, std::string_view text, int64_t t,
                                       QueryError* err) const {
  internal::Annotations notes;
  int64_t in_use = 0;
  std::unordered_set<const VectorSelector*> stats_only;
  internal::FindStatsOnlySelectors(e, &stats_only);
  Evaluator::Context ctx{&q,         &opts_,  text,
                         t,          t,       0,
                         &notes,     &in_use, std::chrono::steady_clock::now() + opts_.timeout,
                         &stats_only};
  Evaluator ev(ctx, t, t, 1);
  auto v = ev.Eval(e);
  if (!v.ok()) return Fail(err, TypeOf(v.status()), v.status());
  if (Status st = Finish(v->series); !st.ok()) return Fail(err, ErrorType::kExecution, st);

  QueryResult r;
  r.type = v->type;
  r.warnings = std::move(notes.warnings);
  r.infos = std::move(notes.infos);
  switch (v->type) {
    case ValueType::kScalar:
      r.scalar = v->series.empty() || v->series[0].points.empty() ? Point{t, std::nan("")}
                                                                  : v->series[0].points[0];
      break;
    case ValueType::kString:
      r.str = v->str;
      r.scalar = {t, 0};
      break;
    case ValueType::kVector:
      for (auto& s : v->series)
        if (!s.points.empty())
          r.vector.push_back({std::move(s.metric), t, s.points[0].v, std::move(s.points[0].h)});
      break;
    case ValueType::kMatrix:
      for (auto& s : v->series) r.matrix.push_back({std::move(s.metric), std::move(s.points)});
      break;
    case ValueType::kNone:
      break;
  }
  return r;
}

Result<QueryResult> Engine::RunRange(Querier& q, const Expr& e, std::string_view text,
                                     int64_t start, int64_t end, int64_t step,
                                     QueryError* err) const {
  ValueType t = e.Type();
  if (t != ValueType::kScalar && t != ValueType::kVector)
    return Fail(err, ErrorType::kBadData,
                Invalid(std::string("invalid expression type \"") + ValueTypeName(t) +
                        "\" for range query, must be Scalar or instant Vector"));
  if (step <= 0)
    return Fail(err, ErrorType::kBadData,
                Invalid("zero or negative query resolution step widths are not accepted. "
                        "Try a positive integer"));
  if (end < start)
    return Fail(err, ErrorType::kBadData, Invalid("end timestamp must not be before start time"));
  internal::Annotations notes;
  int64_t in_use = 0;
  std::unordered_set<const VectorSelector*> stats_only;
  internal::FindStatsOnlySelectors(e, &stats_only);
  Evaluator::Context ctx{&q,         &opts_,  text,
                         start,      end,     step,
                         &notes,     &in_use, std::chrono::steady_clock::now() + opts_.timeout,
                         &stats_only};
  Evaluator ev(ctx, start, end, step);
  auto v = ev.Eval(e);
  if (!v.ok()) return Fail(err, TypeOf(v.status()), v.status());
  if (Status st = Finish(v->series); !st.ok()) return Fail(err, ErrorType::kExecution, st);
  QueryResult r;
  r.type = ValueType::kMatrix;
  r.warnings = std::move(notes.warnings);
  r.infos = std::move(notes.infos);
  for (auto& s : v->series)
    if (!s.points.empty()) r.matrix.push_back({std::move(s.metric), std::move(s.points)});
  std::sort(r.matrix.begin(), r.matrix.end(),
            [](const MatrixSeries& a, const MatrixSeries& b) { return a.metric < b.metric; });
  return r;
}

}  // namespace berth::monitor::promql
