// Native histogram math with Prometheus's FloatHistogram semantics.
//
// The arithmetic works on ordered maps from bucket index to count instead of
// editing span layouts in place: results are compacted anyway (PromQL hands
// out Compact(0)'d histograms and compares them that way), so only the
// non-empty buckets matter, and the map form keeps schema reduction, zero
// bucket widening and custom bound reconciliation simple.
#include "monitor/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>

namespace berth::monitor {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
using BucketMap = std::map<int32_t, double>;

// Calls fn(index, count) for every bucket the spans lay out, in index order.
template <class Fn>
void ForEachBucket(const std::vector<HistogramSpan>& spans, const std::vector<double>& buckets,
                   Fn&& fn) {
  int32_t idx = 0;
  size_t b = 0;
  for (const auto& sp : spans) {
    idx += sp.offset;
    for (uint32_t k = 0; k < sp.length && b < buckets.size(); ++k, ++idx, ++b) fn(idx, buckets[b]);
  }
}

BucketMap ToMap(const std::vector<HistogramSpan>& spans, const std::vector<double>& buckets) {
  BucketMap m;
  ForEachBucket(spans, buckets, [&](int32_t idx, double c) { m[idx] += c; });
  return m;
}

// Every bucket as (index, count), in index order.
struct IndexedBucket {
  int32_t idx;
  double count;
};

std::vector<IndexedBucket> Expand(const std::vector<HistogramSpan>& spans,
                                  const std::vector<double>& buckets) {
  std::vector<IndexedBucket> out;
  out.reserve(buckets.size());
  ForEachBucket(spans, buckets, [&](int32_t idx, double c) { out.push_back({idx, c}); });
  return out;
}

// Spans and buckets of (index, count) pairs in index order (a BucketMap or
// IndexedBuckets), empty buckets dropped or kept.
template <class Sorted>
void FromSorted(const Sorted& v, bool drop_empty, std::vector<HistogramSpan>* spans,
                std::vector<double>* buckets) {
  spans->clear();
  buckets->clear();
  bool first = true;
  int32_t next = 0;  // index after the last bucket written
  for (const auto& [idx, c] : v) {
    if (drop_empty && c == 0) continue;
    if (!first && idx == next) {
      spans->back().length++;
    } else {
      spans->push_back({first ? idx : idx - next, 1});
    }
    buckets->push_back(c);
    next = idx + 1;
    first = false;
  }
}

// Spans and buckets of the non-empty buckets of m.
void FromMap(const BucketMap& m, std::vector<HistogramSpan>* spans, std::vector<double>* buckets) {
  FromSorted(m, true, spans, buckets);
}

// Exponential buckets at a lower resolution: `delta` halvings of the schema
// merge 2^delta neighbours (the index of bucket (b^(i-1), b^i] maps to
// ((i-1) >> delta) + 1).
BucketMap Reduce(const BucketMap& m, int32_t delta) {
  if (delta <= 0) return m;
  BucketMap out;
  for (const auto& [idx, c] : m) out[((idx - 1) >> delta) + 1] += c;
  return out;
}

double ExpLower(int32_t idx, int32_t schema) { return ExponentialBucketUpper(idx - 1, schema); }

// The zero count after widening the zero bucket to at least `larger`: every
// bucket below it joins the zero bucket, and a populated bucket the new
// threshold would cut widens the threshold to that bucket's upper bound.
double ZeroCountForLargerThreshold(const FloatHistogram& h, const BucketMap& pos,
                                   const BucketMap& neg, double larger, double* threshold) {
  if (larger <= h.zero_threshold) {
    *threshold = h.zero_threshold;
    return h.zero_count;
  }
  while (true) {
    double count = h.zero_count;
    bool moved = false;
    for (const BucketMap* m : {&pos, &neg}) {
      for (const auto& [idx, c] : *m) {
        double lo = ExpLower(idx, h.schema), hi = ExponentialBucketUpper(idx, h.schema);
        if (lo >= larger) break;
        count += c;
        if (hi > larger) {
          if (c != 0) {
            larger = hi;
            moved = true;
          }
          break;
        }
      }
      if (moved) break;
    }
    if (!moved) {
      *threshold = larger;
      return count;
    }
  }
}

// Removes the buckets that now lie inside the zero bucket.
void TrimInsideZero(BucketMap& m, int32_t schema, double threshold) {
  for (auto it = m.begin(); it != m.end();) {
    if (ExponentialBucketUpper(it->first, schema) <= threshold) {
      it = m.erase(it);
    } else {
      ++it;
    }
  }
}

// Custom buckets mapped onto the bounds `common` (a subset of `bounds`):
// bucket i of the original (upper bound bounds[i], or +Inf past the end)
// lands in the first common bucket whose bound is at least as large.
BucketMap MapCustom(const BucketMap& m, const std::vector<double>& bounds,
                    const std::vector<double>& common) {
  BucketMap out;
  for (const auto& [idx, c] : m) {
    double up = idx >= 0 && static_cast<size_t>(idx) < bounds.size() ? bounds[idx] : kInf;
    size_t j = std::lower_bound(common.begin(), common.end(), up) - common.begin();
    out[static_cast<int32_t>(j)] += c;
  }
  return out;
}

bool SameBounds(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i] && !(std::isnan(a[i]) && std::isnan(b[i]))) return false;
  return true;
}

// Whether two histograms have the same buckets at the same positions (so
// that they add up bucket by bucket).
bool SameLayout(const FloatHistogram& a, const FloatHistogram& b) {
  return a.schema == b.schema && a.zero_threshold == b.zero_threshold &&
         a.positive_spans == b.positive_spans && a.negative_spans == b.negative_spans &&
         a.positive_buckets.size() == b.positive_buckets.size() &&
         a.negative_buckets.size() == b.negative_buckets.size() &&
         (!a.UsesCustomBuckets() || SameBounds(a.custom_values, b.custom_values));
}

// Gives the compensation `comp` h's schema, zero bucket, bounds and spans, so
// that it follows h's layout (the caller fills in its buckets).
void TakeLayout(FloatHistogram& comp, const FloatHistogram& h) {
  comp.schema = h.schema;
  comp.zero_threshold = h.zero_threshold;
  comp.custom_values = h.custom_values;
  comp.positive_spans = h.positive_spans;
  comp.negative_spans = h.negative_spans;
}

// h's zero count, count and sum plus sign times o's (with `zero_count` as o's
// zero count, which a widened zero bucket may have changed); compensated in
// comp when given.
void CombineCounts(FloatHistogram& h, const FloatHistogram& o, double zero_count, double sign,
                   FloatHistogram* comp) {
  if (comp) {
    h.zero_count = KahanAdd(sign * zero_count, h.zero_count, comp->zero_count);
    h.count = KahanAdd(sign * o.count, h.count, comp->count);
    h.sum = KahanAdd(sign * o.sum, h.sum, comp->sum);
  } else {
    h.zero_count += sign * zero_count;
    h.count += sign * o.count;
    h.sum += sign * o.sum;
  }
}

HistogramOpInfo CombineMaps(FloatHistogram& h, const FloatHistogram& o, double sign,
                            FloatHistogram* comp, HistogramOpInfo info);
HistogramOpInfo CombineMerge(FloatHistogram& h, const FloatHistogram& o, double sign,
                             FloatHistogram* comp, HistogramOpInfo info);

// h += sign * o. With `comp`, the additions are compensated (Kahan) and comp,
// which follows h's layout, holds the compensation terms.
HistogramOpInfo Combine(FloatHistogram& h, const FloatHistogram& o, double sign,
                        FloatHistogram* comp = nullptr) {
  HistogramOpInfo info;
  if (h.UsesCustomBuckets() != o.UsesCustomBuckets()) {
    info.incompatible = true;
    return info;
  }
  // Prometheus's hint arithmetic: like with like stays, a gauge makes a
  // gauge, unknown makes unknown, reset against not-reset is a collision.
  using H = CounterResetHint;
  if (o.counter_reset_hint == h.counter_reset_hint || h.counter_reset_hint == H::kGauge) {
  } else if (o.counter_reset_hint == H::kGauge) {
    h.counter_reset_hint = H::kGauge;
  } else if (h.counter_reset_hint == H::kUnknown) {
  } else if (o.counter_reset_hint == H::kUnknown) {
    h.counter_reset_hint = H::kUnknown;
  } else {
    h.counter_reset_hint = H::kUnknown;
    info.reset_collision = true;
  }

  if (SameLayout(h, o)) {
    // The common case (samples of one series, mostly): bucket by bucket.
    if (comp && !SameLayout(h, *comp)) {
      if (!comp->positive_buckets.empty() || !comp->negative_buckets.empty()) {
        // Compensation in another layout: take the general path below.
        return CombineMaps(h, o, sign, comp, info);
      }
      TakeLayout(*comp, h);
      comp->positive_buckets.assign(h.positive_buckets.size(), 0);
      comp->negative_buckets.assign(h.negative_buckets.size(), 0);
    }
    CombineCounts(h, o, o.zero_count, sign, comp);
    if (comp) {
      for (size_t i = 0; i < h.positive_buckets.size(); ++i)
        h.positive_buckets[i] = KahanAdd(sign * o.positive_buckets[i], h.positive_buckets[i],
                                         comp->positive_buckets[i]);
      for (size_t i = 0; i < h.negative_buckets.size(); ++i)
        h.negative_buckets[i] = KahanAdd(sign * o.negative_buckets[i], h.negative_buckets[i],
                                         comp->negative_buckets[i]);
    } else {
      for (size_t i = 0; i < h.positive_buckets.size(); ++i)
        h.positive_buckets[i] += sign * o.positive_buckets[i];
      for (size_t i = 0; i < h.negative_buckets.size(); ++i)
        h.negative_buckets[i] += sign * o.negative_buckets[i];
    }
    return info;
  }
  if (h.schema == o.schema && h.zero_threshold == o.zero_threshold &&
      (!h.UsesCustomBuckets() || SameBounds(h.custom_values, o.custom_values)) &&
      (comp == nullptr || SameLayout(h, *comp) ||
       (comp->positive_buckets.empty() && comp->negative_buckets.empty())))
    return CombineMerge(h, o, sign, comp, info);
  return CombineMaps(h, o, sign, comp, info);
}

// Combine for the same schema and zero bucket but different spans: the two
// bucket lists merge by index (the result keeps the union of both layouts,
// empty buckets included, so that the next addition may take the fast path).
HistogramOpInfo CombineMerge(FloatHistogram& h, const FloatHistogram& o, double sign,
                             FloatHistogram* comp, HistogramOpInfo info) {
  const bool aligned = comp && SameLayout(h, *comp);
  auto merge = [&](const std::vector<HistogramSpan>& hs, const std::vector<double>& hb,
                   const std::vector<HistogramSpan>& os, const std::vector<double>& ob,
                   const std::vector<double>* cb, std::vector<HistogramSpan>* out_spans,
                   std::vector<double>* out_buckets, std::vector<double>* out_comp) {
    std::vector<IndexedBucket> a = Expand(hs, hb), b = Expand(os, ob), r;
    std::vector<double> c;
    r.reserve(a.size() + b.size());
    size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
      double ca = aligned && i < a.size() ? (*cb)[i] : 0;
      if (j >= b.size() || (i < a.size() && a[i].idx < b[j].idx)) {
        r.push_back(a[i]);
        c.push_back(ca);
        ++i;
      } else if (i >= a.size() || b[j].idx < a[i].idx) {
        r.push_back({b[j].idx, sign * b[j].count});
        c.push_back(0);
        ++j;
      } else {
        double comp_term = ca;
        double v = comp ? KahanAdd(sign * b[j].count, a[i].count, comp_term)
                        : a[i].count + sign * b[j].count;
        r.push_back({a[i].idx, v});
        c.push_back(comp_term);
        ++i;
        ++j;
      }
    }
    FromSorted(r, false, out_spans, out_buckets);
    if (out_comp) *out_comp = std::move(c);
  };
  std::vector<double> pc, nc;
  merge(h.positive_spans, h.positive_buckets, o.positive_spans, o.positive_buckets,
        comp ? &comp->positive_buckets : nullptr, &h.positive_spans, &h.positive_buckets,
        comp ? &pc : nullptr);
  merge(h.negative_spans, h.negative_buckets, o.negative_spans, o.negative_buckets,
        comp ? &comp->negative_buckets : nullptr, &h.negative_spans, &h.negative_buckets,
        comp ? &nc : nullptr);
  CombineCounts(h, o, o.zero_count, sign, comp);
  if (comp) {
    TakeLayout(*comp, h);
    comp->positive_buckets = std::move(pc);
    comp->negative_buckets = std::move(nc);
  }
  return info;
}

// Combine's general path: any schemas, zero thresholds, custom bounds and
// span layouts, through maps from bucket index to count.
HistogramOpInfo CombineMaps(FloatHistogram& h, const FloatHistogram& o, double sign,
                            FloatHistogram* comp, HistogramOpInfo info) {
  BucketMap hp = ToMap(h.positive_spans, h.positive_buckets);
  BucketMap hn = ToMap(h.negative_spans, h.negative_buckets);
  BucketMap op = ToMap(o.positive_spans, o.positive_buckets);
  BucketMap on = ToMap(o.negative_spans, o.negative_buckets);
  BucketMap cp, cn;
  if (comp) {
    cp = ToMap(comp->positive_spans, comp->positive_buckets);
    cn = ToMap(comp->negative_spans, comp->negative_buckets);
  }
  double ozc = o.zero_count;

  if (h.UsesCustomBuckets()) {
    if (!SameBounds(h.custom_values, o.custom_values)) {
      std::vector<double> common;
      std::set_intersection(h.custom_values.begin(), h.custom_values.end(), o.custom_values.begin(),
                            o.custom_values.end(), std::back_inserter(common));
      hp = MapCustom(hp, h.custom_values, common);
      if (comp) cp = MapCustom(cp, h.custom_values, common);
      op = MapCustom(op, o.custom_values, common);
      h.custom_values = std::move(common);
      info.custom_reconciled = true;
    }
  } else {
    int32_t schema = std::min(h.schema, o.schema);
    hp = Reduce(hp, h.schema - schema);
    hn = Reduce(hn, h.schema - schema);
    cp = Reduce(cp, h.schema - schema);
    cn = Reduce(cn, h.schema - schema);
    op = Reduce(op, o.schema - schema);
    on = Reduce(on, o.schema - schema);
    h.schema = schema;
    if (h.zero_threshold != o.zero_threshold) {
      FloatHistogram hz = h, oz = o;
      oz.schema = schema;
      double t = std::max(h.zero_threshold, o.zero_threshold);
      double hzc = h.zero_count;
      // Widen both until they agree (a populated bucket may push it further).
      for (int round = 0; round < 64; ++round) {
        double th, to;
        hzc = ZeroCountForLargerThreshold(hz, hp, hn, t, &th);
        ozc = ZeroCountForLargerThreshold(oz, op, on, t, &to);
        double nt = std::max(th, to);
        if (nt == t) break;
        t = nt;
      }
      if (comp) {
        // Compensation terms of buckets joining the zero bucket go with them.
        for (BucketMap* m : {&cp, &cn})
          for (const auto& [i, c] : *m)
            if (ExponentialBucketUpper(i, schema) <= t) comp->zero_count += c;
        TrimInsideZero(cp, schema, t);
        TrimInsideZero(cn, schema, t);
      }
      for (BucketMap* m : {&hp, &hn, &op, &on}) TrimInsideZero(*m, schema, t);
      h.zero_threshold = t;
      h.zero_count = hzc;
    }
  }

  CombineCounts(h, o, ozc, sign, comp);
  if (comp) {
    for (const auto& [i, c] : op) hp[i] = KahanAdd(sign * c, hp[i], cp[i]);
    for (const auto& [i, c] : on) hn[i] = KahanAdd(sign * c, hn[i], cn[i]);
  } else {
    for (const auto& [i, c] : op) hp[i] += sign * c;
    for (const auto& [i, c] : on) hn[i] += sign * c;
  }
  FromMap(hp, &h.positive_spans, &h.positive_buckets);
  FromMap(hn, &h.negative_spans, &h.negative_buckets);
  if (comp) {
    // The compensation takes h's layout, so that the next addition of a
    // histogram laid out like h can go bucket by bucket. (A term whose bucket
    // summed to exactly zero is dropped with it.)
    TakeLayout(*comp, h);
    auto aligned = [](const BucketMap& h_map, BucketMap& c_map, std::vector<double>* out) {
      out->clear();
      for (const auto& [i, v] : h_map)
        if (v != 0) out->push_back(c_map[i]);
    };
    aligned(hp, cp, &comp->positive_buckets);
    aligned(hn, cn, &comp->negative_buckets);
  }
  return info;
}

}  // namespace

bool FloatsAlmostEqual(double a, double b) {
  constexpr double eps = 1e-6;
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  constexpr double kMinNormal = 2.2250738585072014e-308;
  double abs_sum = std::fabs(a) + std::fabs(b);
  double diff = std::fabs(a - b);
  if (a == 0 || b == 0 || abs_sum < kMinNormal) return diff < eps * kMinNormal;
  return diff / std::min(abs_sum, std::numeric_limits<double>::max()) < eps;
}

double ExponentialBucketUpper(int32_t index, int32_t schema) {
  if (schema < 0) {
    int64_t exp = static_cast<int64_t>(index) << -schema;
    if (exp == 1024) return std::numeric_limits<double>::max();
    if (exp > 1024) return kInf;
    if (exp < -1100) return 0;
    return std::ldexp(1.0, static_cast<int>(exp));
  }
  int32_t frac_idx = index & ((1 << schema) - 1);
  double frac = std::exp2(static_cast<double>(frac_idx) / static_cast<double>(1 << schema)) / 2;
  int64_t exp = (static_cast<int64_t>(index) >> schema) + 1;
  if (frac == 0.5 && exp == 1025) return std::numeric_limits<double>::max();
  if (exp > 1025) return kInf;
  return std::ldexp(frac, static_cast<int>(exp));
}

std::vector<HistogramBucket> AllBuckets(const FloatHistogram& h) {
  std::vector<HistogramBucket> out;
  if (h.UsesCustomBuckets()) {
    const auto& cv = h.custom_values;
    ForEachBucket(h.positive_spans, h.positive_buckets, [&](int32_t idx, double c) {
      HistogramBucket bk;
      bk.index = idx;
      bk.count = c;
      bk.lower = idx == 0 ? -kInf : static_cast<size_t>(idx - 1) < cv.size() ? cv[idx - 1] : kInf;
      bk.upper = idx >= 0 && static_cast<size_t>(idx) < cv.size() ? cv[idx] : kInf;
      out.push_back(bk);
    });
    return out;
  }
  // Negative buckets, from the most negative (highest index) down.
  std::vector<HistogramBucket> neg;
  ForEachBucket(h.negative_spans, h.negative_buckets, [&](int32_t idx, double c) {
    HistogramBucket bk;
    bk.index = idx;
    bk.count = c;
    bk.lower = -ExponentialBucketUpper(idx, h.schema);
    bk.upper = -ExpLower(idx, h.schema);
    bk.lower_inclusive = true;
    bk.upper_inclusive = false;
    neg.push_back(bk);
  });
  out.insert(out.end(), neg.rbegin(), neg.rend());
  if (h.zero_count > 0) {
    HistogramBucket z;
    z.lower = -h.zero_threshold;
    z.upper = h.zero_threshold;
    z.lower_inclusive = z.upper_inclusive = true;
    z.count = h.zero_count;
    out.push_back(z);
  }
  ForEachBucket(h.positive_spans, h.positive_buckets, [&](int32_t idx, double c) {
    HistogramBucket bk;
    bk.index = idx;
    bk.count = c;
    bk.lower = ExpLower(idx, h.schema);
    bk.upper = ExponentialBucketUpper(idx, h.schema);
    out.push_back(bk);
  });
  return out;
}

HistogramOpInfo HistogramAdd(FloatHistogram& h, const FloatHistogram& o) {
  return Combine(h, o, 1);
}

HistogramOpInfo HistogramSub(FloatHistogram& h, const FloatHistogram& o) {
  return Combine(h, o, -1);
}

HistogramOpInfo HistogramKahanAdd(FloatHistogram& h, FloatHistogram& comp,
                                  const FloatHistogram& o) {
  return Combine(h, o, 1, &comp);
}

void HistogramKahanFinish(FloatHistogram& h, const FloatHistogram& comp) {
  FloatHistogram c = comp;
  c.counter_reset_hint = h.counter_reset_hint;
  c.schema = h.schema;
  c.zero_threshold = h.zero_threshold;
  c.custom_values = h.custom_values;
  c.count = c.sum = c.zero_count = 0;
  h.count += comp.count;
  h.sum += comp.sum;
  h.zero_count += comp.zero_count;
  Combine(h, c, 1);
}

bool HistogramHasOverflow(const FloatHistogram& h) {
  if (std::isinf(h.count) || std::isinf(h.sum) || std::isinf(h.zero_count)) return true;
  for (double b : h.positive_buckets)
    if (std::isinf(b)) return true;
  for (double b : h.negative_buckets)
    if (std::isinf(b)) return true;
  return false;
}

HistogramOpInfo HistogramMean::Add(const FloatHistogram& h) {
  HistogramOpInfo info;
  count_ += 1;
  if (count_ == 1) {
    sum_ = h;
    return info;
  }
  if (!incremental_) {
    FloatHistogram s = sum_, c = comp_;
    info = HistogramKahanAdd(s, c, h);
    if (info.incompatible) return info;
    if (!HistogramHasOverflow(s)) {
      sum_ = std::move(s);
      comp_ = std::move(c);
      return info;
    }
    // The plain sum would overflow: continue with an incremental mean.
    incremental_ = true;
    mean_ = sum_;
    HistogramDiv(mean_, count_ - 1);
    HistogramDiv(comp_, count_ - 1);
  }
  double q = (count_ - 1) / count_;
  HistogramMul(comp_, q);
  HistogramMul(mean_, q);
  FloatHistogram add = h;
  HistogramDiv(add, count_);
  HistogramOpInfo i2 = HistogramKahanAdd(mean_, comp_, add);
  info.incompatible |= i2.incompatible;
  info.custom_reconciled |= i2.custom_reconciled;
  info.reset_collision |= i2.reset_collision;
  return info;
}

FloatHistogram HistogramMean::Result() const {
  if (incremental_) {
    FloatHistogram m = mean_;
    HistogramKahanFinish(m, comp_);
    return m;
  }
  FloatHistogram s = sum_, c = comp_;
  HistogramDiv(s, count_);
  HistogramDiv(c, count_);
  HistogramKahanFinish(s, c);
  return s;
}

void HistogramMul(FloatHistogram& h, double factor) {
  h.zero_count *= factor;
  h.count *= factor;
  h.sum *= factor;
  for (double& b : h.positive_buckets) b *= factor;
  for (double& b : h.negative_buckets) b *= factor;
  // Negative counts are no counter any more.
  if (factor < 0) h.counter_reset_hint = CounterResetHint::kGauge;
}

void HistogramDiv(FloatHistogram& h, double divisor) {
  h.zero_count /= divisor;
  h.count /= divisor;
  h.sum /= divisor;
  if (divisor == 0) {
    // Prometheus drops every bucket rather than filling them with Inf/NaN.
    h.positive_spans.clear();
    h.positive_buckets.clear();
    h.negative_spans.clear();
    h.negative_buckets.clear();
    return;
  }
  for (double& b : h.positive_buckets) b /= divisor;
  for (double& b : h.negative_buckets) b /= divisor;
  if (divisor < 0) h.counter_reset_hint = CounterResetHint::kGauge;
}

void HistogramCompact(FloatHistogram& h) {
  FromSorted(Expand(h.positive_spans, h.positive_buckets), true, &h.positive_spans,
             &h.positive_buckets);
  FromSorted(Expand(h.negative_spans, h.negative_buckets), true, &h.negative_spans,
             &h.negative_buckets);
}

FloatHistogram HistogramReduceResolution(const FloatHistogram& h, int32_t target) {
  FloatHistogram out = h;
  if (h.UsesCustomBuckets() || target >= h.schema) return out;
  int32_t delta = h.schema - target;
  FromMap(Reduce(ToMap(h.positive_spans, h.positive_buckets), delta), &out.positive_spans,
          &out.positive_buckets);
  FromMap(Reduce(ToMap(h.negative_spans, h.negative_buckets), delta), &out.negative_spans,
          &out.negative_buckets);
  out.schema = target;
  return out;
}

bool HistogramEquals(const FloatHistogram& a, const FloatHistogram& b) {
  if (a.schema != b.schema || a.zero_threshold != b.zero_threshold ||
      a.zero_count != b.zero_count || a.count != b.count || a.sum != b.sum)
    return false;
  if (a.UsesCustomBuckets() && !SameBounds(a.custom_values, b.custom_values)) return false;
  FloatHistogram x = a, y = b;
  HistogramCompact(x);
  HistogramCompact(y);
  return x.positive_spans == y.positive_spans && x.positive_buckets == y.positive_buckets &&
         x.negative_spans == y.negative_spans && x.negative_buckets == y.negative_buckets;
}

bool HistogramDetectReset(const FloatHistogram& cur, const FloatHistogram& prev) {
  if (cur.counter_reset_hint == CounterResetHint::kCounterReset) return true;
  if (cur.counter_reset_hint == CounterResetHint::kNotCounterReset) return false;
  if (cur.count < prev.count) return true;
  if (SameLayout(cur, prev)) {
    // The common case: compare bucket by bucket.
    if (cur.zero_count < prev.zero_count) return true;
    for (size_t i = 0; i < cur.positive_buckets.size(); ++i)
      if (cur.positive_buckets[i] < prev.positive_buckets[i]) return true;
    for (size_t i = 0; i < cur.negative_buckets.size(); ++i)
      if (cur.negative_buckets[i] < prev.negative_buckets[i]) return true;
    return false;
  }
  BucketMap cp = ToMap(cur.positive_spans, cur.positive_buckets);
  BucketMap pp = ToMap(prev.positive_spans, prev.positive_buckets);
  if (cur.UsesCustomBuckets() || prev.UsesCustomBuckets()) {
    if (cur.UsesCustomBuckets() != prev.UsesCustomBuckets()) return true;
    if (!SameBounds(cur.custom_values, prev.custom_values)) {
      std::vector<double> common;
      std::set_intersection(cur.custom_values.begin(), cur.custom_values.end(),
                            prev.custom_values.begin(), prev.custom_values.end(),
                            std::back_inserter(common));
      cp = MapCustom(cp, cur.custom_values, common);
      pp = MapCustom(pp, prev.custom_values, common);
    }
    for (const auto& [i, c] : pp) {
      auto it = cp.find(i);
      if (c != 0 && (it == cp.end() || it->second < c)) return true;
    }
    return false;
  }
  if (cur.schema > prev.schema) return true;
  if (cur.zero_threshold < prev.zero_threshold) return true;
  BucketMap pn = ToMap(prev.negative_spans, prev.negative_buckets);
  BucketMap cn = ToMap(cur.negative_spans, cur.negative_buckets);
  double th = 0;
  double pzc = ZeroCountForLargerThreshold(prev, pp, pn, cur.zero_threshold, &th);
  if (th != cur.zero_threshold) return true;
  if (cur.zero_count < pzc) return true;
  pp = Reduce(pp, prev.schema - cur.schema);
  pn = Reduce(pn, prev.schema - cur.schema);
  for (auto [m, c] : {std::pair{&pp, &cp}, std::pair{&pn, &cn}}) {
    for (const auto& [i, n] : *m) {
      if (ExponentialBucketUpper(i, cur.schema) <= cur.zero_threshold) continue;
      auto it = c->find(i);
      if (n != 0 && (it == c->end() || it->second < n)) return true;
    }
  }
  return false;
}

namespace {

double Midpoint(double lo, double hi, bool positive, bool linear) {
  if (std::isinf(lo)) {
    if (std::isinf(hi)) return 0;
    return hi > 0 ? hi / 2 : hi;
  }
  if (std::isinf(hi)) return lo;
  if (linear) return (lo + hi) / 2;
  double g = std::sqrt(std::fabs(lo * hi));
  return positive ? g : -g;
}

// A bucket reaching to -Inf or +Inf: its distribution is unknown, so it is
// kept or dropped whole (with a few linear special cases for custom buckets).
std::pair<double, double> InfinityBucketTrim(bool upper_trim, const HistogramBucket& b,
                                             double rhs) {
  auto zero_if_inf = [](double x) { return std::isinf(x) ? 0.0 : x; };
  if (b.lower == -kInf) {
    if (upper_trim) {
      if (rhs >= b.upper) return {b.count, 0};
      if (rhs > 0 && b.upper > 0 && b.upper != kInf) return {b.count * rhs / b.upper, rhs / 2};
      if (b.upper <= 0) return {b.count, rhs};
      return {0, zero_if_inf(b.upper)};
    }
    if (rhs <= b.lower) return {b.count, 0};
    if (rhs >= 0 && b.upper > rhs && b.upper != kInf)
      return {b.count * (1 - rhs / b.upper), (rhs + b.upper) / 2};
    return {0, zero_if_inf(b.upper)};
  }
  if (upper_trim) return {0, zero_if_inf(b.lower)};
  if (rhs >= b.lower) return {b.count, rhs};
  return {0, zero_if_inf(b.lower)};
}

double SplitBelow(const HistogramBucket& b, double rhs, bool positive, bool linear) {
  if (rhs <= b.lower) return 0;
  if (rhs >= b.upper) return b.count;
  double fraction;
  if (linear) {
    fraction = (rhs - b.lower) / (b.upper - b.lower);
  } else {
    double ll = std::log2(std::fabs(b.lower)), lu = std::log2(std::fabs(b.upper));
    double lv = std::log2(std::fabs(rhs));
    fraction = positive ? (lv - ll) / (lu - ll) : 1 - ((lv - lu) / (ll - lu));
  }
  return b.count * fraction;
}

// The kept count and the midpoint of what is kept of the bucket holding rhs.
std::pair<double, double> BucketTrim(const HistogramBucket& b, double rhs, bool upper_trim,
                                     bool positive, bool linear) {
  if (b.lower == -kInf || b.upper == kInf) return InfinityBucketTrim(upper_trim, b, rhs);
  double under = SplitBelow(b, rhs, positive, linear);
  if (upper_trim) return {under, Midpoint(b.lower, rhs, positive, linear)};
  return {b.count - under, Midpoint(rhs, b.upper, positive, linear)};
}

}  // namespace

FloatHistogram HistogramTrim(const FloatHistogram& h, double rhs, bool upper_trim) {
  FloatHistogram out = h;
  double count = 0, sum = 0;
  bool trimmed = false, has_pos = false, has_neg = false;
  const bool linear = h.UsesCustomBuckets();
  std::vector<HistogramBucket> all = AllBuckets(h);
  // AllBuckets lists negative buckets from the most negative one; their
  // positions in negative_buckets run the other way.
  size_t nneg = 0;
  for (const auto& b : all) nneg += b.lower_inclusive && !b.upper_inclusive;
  size_t neg_seen = 0, pos_pos = 0;
  for (const HistogramBucket& b : all) {
    const bool zero = !linear && b.lower_inclusive && b.upper_inclusive;
    if (zero) continue;
    const bool positive = linear || b.upper_inclusive;
    double* slot =
        positive ? &out.positive_buckets[pos_pos++] : &out.negative_buckets[nneg - 1 - neg_seen++];
    if (b.count == 0) continue;
    (positive ? has_pos : has_neg) = true;
    bool whole = upper_trim ? b.upper <= rhs : b.lower >= rhs;
    bool partly = upper_trim ? b.lower < rhs : b.upper > rhs;
    if (whole) {
      count += b.count;
      sum += Midpoint(b.lower, b.upper, positive, linear) * b.count;
    } else if (partly) {
      auto [keep, mid] = BucketTrim(b, rhs, upper_trim, positive, linear);
      count += keep;
      sum += mid * keep;
      if (*slot != keep) {
        *slot = keep;
        trimmed = true;
      }
    } else {
      *slot = 0;
      trimmed = true;
    }
  }
  if (out.zero_count > 0) {
    double lo = -out.zero_threshold, hi = out.zero_threshold;
    if (has_neg && !has_pos) hi = 0;
    if (has_pos && !has_neg) lo = 0;
    double keep, mid;
    if (upper_trim) {
      if (rhs <= lo) {
        keep = 0, mid = 0;
      } else if (rhs >= hi) {
        keep = out.zero_count, mid = (lo + hi) / 2;
      } else {
        keep = out.zero_count * (rhs - lo) / (hi - lo), mid = (lo + rhs) / 2;
      }
    } else {
      if (rhs <= lo) {
        keep = out.zero_count, mid = (lo + hi) / 2;
      } else if (rhs >= hi) {
        keep = 0, mid = 0;
      } else {
        keep = out.zero_count * (hi - rhs) / (hi - lo), mid = (rhs + hi) / 2;
      }
    }
    if (out.zero_count != keep) {
      out.zero_count = keep;
      trimmed = true;
    }
    sum += mid * keep;
    count += keep;
  }
  if (trimmed) {
    out.count = count;
    out.sum = sum;
    HistogramCompact(out);
  }
  return out;
}

CounterResetHint StoredCounterResetHint(const FloatHistogram* prev, const FloatHistogram& cur) {
  if (cur.counter_reset_hint == CounterResetHint::kGauge) return CounterResetHint::kGauge;
  if (prev == nullptr || prev->counter_reset_hint == CounterResetHint::kGauge)
    return cur.counter_reset_hint == CounterResetHint::kCounterReset
               ? CounterResetHint::kCounterReset
               : CounterResetHint::kUnknown;
  if (cur.counter_reset_hint == CounterResetHint::kCounterReset)
    return CounterResetHint::kCounterReset;
  FloatHistogram c = cur;
  c.counter_reset_hint = CounterResetHint::kUnknown;
  // A detected reset starts a new chunk whose first sample Prometheus reads
  // back as "unknown" (prometheus/prometheus#15346), not as "reset".
  return HistogramDetectReset(c, *prev) ? CounterResetHint::kUnknown
                                        : CounterResetHint::kNotCounterReset;
}

double HistogramQuantile(double q, const FloatHistogram& h, int* nan_info) {
  if (nan_info) *nan_info = 0;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  if (h.count == 0 || std::isnan(q)) return std::nan("");
  std::vector<HistogramBucket> all = AllBuckets(h);
  const bool forward = std::isnan(h.sum) || q < 0.5;
  double rank = forward ? q * h.count : (1 - q) * h.count;
  double count = 0;
  HistogramBucket bucket;
  size_t pos = 0;
  const size_t n = all.size();
  for (; pos < n; ++pos) {
    bucket = all[forward ? pos : n - 1 - pos];
    if (bucket.count == 0) continue;
    count += bucket.count;
    if (count >= rank) break;
  }
  if (!h.UsesCustomBuckets() && bucket.lower < 0 && bucket.upper > 0) {
    if (h.negative_buckets.empty() && !h.positive_buckets.empty()) {
      bucket.lower = 0;
    } else if (h.positive_buckets.empty() && !h.negative_buckets.empty()) {
      bucket.upper = 0;
    }
  } else if (h.UsesCustomBuckets()) {
    if (bucket.lower == -kInf) {
      if (bucket.upper <= 0) return bucket.upper;
      bucket.lower = 0;
    } else if (bucket.upper == kInf) {
      return bucket.lower;
    }
  }
  if (count > h.count) count = h.count;
  if (count < rank) {
    if (std::isnan(h.sum)) {
      if (nan_info) *nan_info = 1;
      return std::nan("");
    }
    return bucket.upper;
  }
  if (forward) {
    rank -= count - bucket.count;
  } else {
    rank = count - rank;
  }
  if (std::isnan(h.sum)) {
    double total = count;
    for (size_t k = pos + 1; k < n; ++k) total += all[forward ? k : n - 1 - k].count;
    if (total < h.count && nan_info) *nan_info = 2;
  }
  double fraction = rank / bucket.count;
  if (h.UsesCustomBuckets() || (bucket.lower <= 0 && bucket.upper >= 0))
    return bucket.lower + (bucket.upper - bucket.lower) * fraction;
  double log_lower = std::log2(std::fabs(bucket.lower));
  double log_upper = std::log2(std::fabs(bucket.upper));
  if (bucket.lower > 0) return std::exp2(log_lower + (log_upper - log_lower) * fraction);
  return -std::exp2(log_upper + (log_lower - log_upper) * (1 - fraction));
}

double HistogramFraction(double lower, double upper, const FloatHistogram& h, int* nan_info) {
  if (nan_info) *nan_info = 0;
  if (h.count == 0 || std::isnan(lower) || std::isnan(upper)) return std::nan("");
  if (lower >= upper) return 0;
  std::vector<HistogramBucket> all = AllBuckets(h);
  double count = 0, rank = 0, lower_rank = 0, upper_rank = 0;
  bool lower_set = false, upper_set = false;
  size_t pos = 0;
  for (; pos < all.size(); ++pos) {
    HistogramBucket b = all[pos];
    count += b.count;
    bool zero_bucket = false;
    if (b.lower <= 0 && b.upper >= 0) {
      zero_bucket = true;
      if (h.negative_buckets.empty() && !h.positive_buckets.empty()) {
        b.lower = 0;
      } else if (h.positive_buckets.empty() && !h.negative_buckets.empty()) {
        b.upper = 0;
      }
    }
    auto linear = [&](double v) {
      if (b.lower == -kInf) return b.count;
      return rank + b.count * (v - b.lower) / (b.upper - b.lower);
    };
    auto exponential = [&](double v) {
      double ll = std::log2(std::fabs(b.lower)), lu = std::log2(std::fabs(b.upper));
      double lv = std::log2(std::fabs(v));
      double f = v > 0 ? (lv - ll) / (lu - ll) : 1 - ((lv - lu) / (ll - lu));
      return rank + b.count * f;
    };
    if (!lower_set && b.lower >= lower) {
      lower_rank = rank;
      lower_set = true;
    }
    if (!upper_set && b.lower >= upper) {
      upper_rank = rank;
      upper_set = true;
    }
    if (lower_set && upper_set) {
      ++pos;
      break;
    }
    if (!lower_set && b.lower < lower && b.upper > lower) {
      lower_rank = h.UsesCustomBuckets() || zero_bucket ? linear(lower) : exponential(lower);
      lower_set = true;
    }
    if (!upper_set && b.lower < upper && b.upper > upper) {
      upper_rank = h.UsesCustomBuckets() || zero_bucket ? linear(upper) : exponential(upper);
      upper_set = true;
    }
    if (lower_set && upper_set) {
      ++pos;
      break;
    }
    rank += b.count;
  }
  if (std::isnan(h.sum)) {
    for (; pos < all.size(); ++pos) count += all[pos].count;
    if (count < h.count && nan_info) *nan_info = 2;
  } else {
    count = h.count;
  }
  if (!lower_set || lower_rank > count) lower_rank = count;
  if (!upper_set || upper_rank > count) upper_rank = count;
  return (upper_rank - lower_rank) / h.count;
}

double HistogramStdVar(const FloatHistogram& h) {
  double mean = h.sum / h.count;
  double variance = 0, c = 0;
  for (const HistogramBucket& b : AllBuckets(h)) {
    if (b.count == 0) continue;
    double val;
    if (h.UsesCustomBuckets()) {
      val = (b.upper + b.lower) / 2.0;
    } else if (b.lower <= 0 && b.upper >= 0) {
      val = 0;
    } else {
      val = std::sqrt(b.upper * b.lower);
      if (b.upper < 0) val = -val;
    }
    double delta = val - mean;
    // Kahan–Neumaier summation, as Prometheus does.
    variance = KahanAdd(b.count * delta * delta, variance, c);
  }
  variance += c;
  return variance / h.count;
}

std::string FormatGoG(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  // The shortest %e that reads back the same gives the digits and exponent.
  char buf[64];
  int p = 1;
  for (; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p - 1, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  int exp = std::atoi(std::strchr(buf, 'e') + 1);
  // Go's %g with the shortest precision switches to an exponent when the
  // exponent is below -4 or at least 6 (so 1e+06, as Println prints it).
  if (exp < -4 || exp >= 6) return buf;
  int decimals = std::max(0, p - 1 - exp);
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string HistogramGoString(const FloatHistogram& h) {
  std::string out = "{count:" + FormatGoG(h.count) + ", sum:" + FormatGoG(h.sum);
  for (const HistogramBucket& b : AllBuckets(h)) {
    if (b.count == 0) continue;
    out += ", ";
    out += b.lower_inclusive ? "[" : "(";
    out += FormatGoG(b.lower) + "," + FormatGoG(b.upper);
    out += b.upper_inclusive ? "]" : ")";
    out += ":" + FormatGoG(b.count);
  }
  return out + "}";
}

std::string HistogramString(const FloatHistogram& h) {
  std::string out = "{{";
  auto field = [&](const std::string& s) {
    if (out.size() > 2) out += ' ';
    out += s;
  };
  if (h.schema != 0) field("schema:" + std::to_string(h.schema));
  field("count:" + FormatGoG(h.count));
  field("sum:" + FormatGoG(h.sum));
  if (h.zero_threshold != 0) field("z_bucket_w:" + FormatGoG(h.zero_threshold));
  if (h.zero_count != 0) field("z_bucket:" + FormatGoG(h.zero_count));
  if (h.UsesCustomBuckets()) {
    std::string cv = "custom_values:[";
    for (size_t i = 0; i < h.custom_values.size(); ++i)
      cv += (i ? " " : "") + FormatGoG(h.custom_values[i]);
    field(cv + "]");
  }
  auto list = [&](const char* off_name, const char* name, const BucketMap& m) {
    if (m.empty()) return;
    int32_t first = m.begin()->first;
    if (first != 0) field(std::string(off_name) + ":" + std::to_string(first));
    std::string s = std::string(name) + ":[";
    int32_t prev = first;
    for (const auto& [i, c] : m) {
      for (int32_t k = prev; k < i; ++k) s += "0 ";
      s += FormatGoG(c) + " ";
      prev = i + 1;
    }
    s.back() = ']';
    field(s);
  };
  list("offset", "buckets", ToMap(h.positive_spans, h.positive_buckets));
  list("n_offset", "n_buckets", ToMap(h.negative_spans, h.negative_buckets));
  switch (h.counter_reset_hint) {
    case CounterResetHint::kCounterReset:
      field("counter_reset_hint:reset");
      break;
    case CounterResetHint::kNotCounterReset:
      field("counter_reset_hint:not_reset");
      break;
    case CounterResetHint::kGauge:
      field("counter_reset_hint:gauge");
      break;
    case CounterResetHint::kUnknown:
      break;
  }
  return out + "}}";
}

bool HistogramsAlmostEqual(const FloatHistogram& want, const FloatHistogram& got,
                           bool compare_hint) {
  if (want.schema != got.schema || !FloatsAlmostEqual(want.count, got.count) ||
      !FloatsAlmostEqual(want.sum, got.sum))
    return false;
  if (want.UsesCustomBuckets() && !SameBounds(want.custom_values, got.custom_values)) return false;
  if (want.zero_threshold != got.zero_threshold ||
      !FloatsAlmostEqual(want.zero_count, got.zero_count))
    return false;
  for (bool positive : {true, false}) {
    BucketMap a = positive ? ToMap(want.positive_spans, want.positive_buckets)
                           : ToMap(want.negative_spans, want.negative_buckets);
    BucketMap b = positive ? ToMap(got.positive_spans, got.positive_buckets)
                           : ToMap(got.negative_spans, got.negative_buckets);
    std::erase_if(a, [](const auto& x) { return x.second == 0; });
    std::erase_if(b, [](const auto& x) { return x.second == 0; });
    if (a.size() != b.size()) return false;
    for (auto i = a.begin(), j = b.begin(); i != a.end(); ++i, ++j)
      if (i->first != j->first || !FloatsAlmostEqual(i->second, j->second)) return false;
  }
  if (compare_hint && want.counter_reset_hint != got.counter_reset_hint) return false;
  return true;
}

}  // namespace berth::monitor
