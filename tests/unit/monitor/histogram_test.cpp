// Tests of the native histogram math (monitor/histogram.h) and of native
// histograms through PromQL and the query API's JSON. The Prometheus
// conformance cases (tests/conformance/promql) cover the semantics broadly;
// these pin the building blocks and the API shapes.
#include "monitor/histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>

#include "monitor/http_api.h"
#include "monitor/promql/engine.h"
#include "monitor/tsdb/head.h"
#include "testing/memory_head.h"

namespace berth::monitor {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// An exponential histogram with one positive span starting at `offset`.
FloatHistogram Exp(int32_t schema, double count, double sum, std::vector<double> buckets,
                   int32_t offset = 0) {
  FloatHistogram h;
  h.schema = schema;
  h.count = count;
  h.sum = sum;
  h.positive_spans.push_back({offset, static_cast<uint32_t>(buckets.size())});
  h.positive_buckets = std::move(buckets);
  return h;
}

FloatHistogram Custom(std::vector<double> bounds, std::vector<double> buckets) {
  FloatHistogram h;
  h.schema = kCustomBucketsSchema;
  h.custom_values = std::move(bounds);
  for (double b : buckets) h.count += b;
  h.positive_spans.push_back({0, static_cast<uint32_t>(buckets.size())});
  h.positive_buckets = std::move(buckets);
  return h;
}

TEST(HistogramTest, BucketBounds) {
  EXPECT_EQ(ExponentialBucketUpper(0, 0), 1);
  EXPECT_EQ(ExponentialBucketUpper(1, 0), 2);
  EXPECT_EQ(ExponentialBucketUpper(-1, 0), 0.5);
  EXPECT_DOUBLE_EQ(ExponentialBucketUpper(1, 1), std::sqrt(2.0));
  EXPECT_EQ(ExponentialBucketUpper(1, -1), 4);

  FloatHistogram h = Exp(0, 6, 10, {1, 2});
  h.zero_threshold = 0.001;
  h.zero_count = 1;
  h.negative_spans.push_back({1, 1});
  h.negative_buckets = {2};
  auto all = AllBuckets(h);
  ASSERT_EQ(all.size(), 4u);
  // (-2, -1], the zero bucket, (0.5, 1], (1, 2] from low to high.
  EXPECT_EQ(all[0].lower, -2);
  EXPECT_EQ(all[0].upper, -1);
  EXPECT_TRUE(all[0].lower_inclusive && !all[0].upper_inclusive);
  EXPECT_EQ(all[1].lower, -0.001);
  EXPECT_TRUE(all[1].lower_inclusive && all[1].upper_inclusive);
  EXPECT_EQ(all[2].lower, 0.5);
  EXPECT_EQ(all[3].upper, 2);

  auto c = AllBuckets(Custom({1, 5}, {1, 2, 3}));
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].lower, -kInf);
  EXPECT_EQ(c[1].lower, 1);
  EXPECT_EQ(c[2].upper, kInf);
}

TEST(HistogramTest, AddReducesToTheLowerSchema) {
  FloatHistogram a = Exp(1, 4, 4, {1, 1, 1, 1});  // buckets 0..3 at schema 1
  FloatHistogram b = Exp(0, 2, 3, {2});           // bucket 0 at schema 0
  HistogramOpInfo info = HistogramAdd(a, b);
  EXPECT_FALSE(info.incompatible);
  EXPECT_EQ(a.schema, 0);
  EXPECT_EQ(a.count, 6);
  EXPECT_EQ(a.sum, 7);
  // Schema-1 buckets 0 and 1 form schema-0 bucket 1, buckets 2 and 3 bucket 2... and
  // bucket 0 (0.707, 1] joins schema-0 bucket 0 (0.5, 1].
  EXPECT_EQ(HistogramString(a), "{{count:6 sum:7 buckets:[3 2 1]}}");
}

TEST(HistogramTest, SubAndScale) {
  FloatHistogram a = Exp(0, 10, 20, {4, 6});
  HistogramSub(a, Exp(0, 4, 5, {1, 3}));
  EXPECT_EQ(HistogramString(a), "{{count:6 sum:15 buckets:[3 3]}}");
  HistogramMul(a, 2);
  EXPECT_EQ(a.count, 12);
  EXPECT_EQ(a.counter_reset_hint, CounterResetHint::kUnknown);
  HistogramMul(a, -1);
  EXPECT_EQ(a.counter_reset_hint, CounterResetHint::kGauge);
  HistogramDiv(a, 0);
  EXPECT_TRUE(a.positive_buckets.empty());
  EXPECT_EQ(a.count, -kInf);
}

TEST(HistogramTest, ZeroThresholdWidens) {
  FloatHistogram a = Exp(0, 3, 1, {1, 2}, -3);  // (1/16, 1/8], (1/8, 1/4]
  FloatHistogram b = Exp(0, 1, 1, {1});
  b.zero_threshold = 0.1;
  b.zero_count = 2;
  b.count = 3;
  HistogramAdd(a, b);
  // 0.1 cuts the populated (1/16, 1/8]: the zero bucket grows to 1/8.
  EXPECT_EQ(a.zero_threshold, 0.125);
  EXPECT_EQ(a.zero_count, 3);
  EXPECT_EQ(a.count, 6);
}

TEST(HistogramTest, CustomBoundsReconcileToTheirIntersection) {
  FloatHistogram a = Custom({1, 2, 5}, {1, 1, 1, 1});
  HistogramOpInfo info = HistogramAdd(a, Custom({2, 10}, {1, 1, 1}));
  EXPECT_TRUE(info.custom_reconciled);
  EXPECT_EQ(a.custom_values, (std::vector<double>{2}));
  EXPECT_EQ(a.positive_buckets, (std::vector<double>{3, 4}));

  FloatHistogram e = Exp(0, 1, 1, {1});
  EXPECT_TRUE(HistogramAdd(e, Custom({1}, {1})).incompatible);
}

TEST(HistogramTest, ResetHints) {
  FloatHistogram a = Exp(0, 2, 2, {1, 1});
  FloatHistogram b = a;
  a.counter_reset_hint = CounterResetHint::kCounterReset;
  b.counter_reset_hint = CounterResetHint::kNotCounterReset;
  EXPECT_TRUE(HistogramAdd(a, b).reset_collision);
  EXPECT_EQ(a.counter_reset_hint, CounterResetHint::kUnknown);

  FloatHistogram prev = Exp(0, 3, 3, {1, 2});
  EXPECT_FALSE(HistogramDetectReset(Exp(0, 4, 4, {2, 2}), prev));
  EXPECT_TRUE(HistogramDetectReset(Exp(0, 3, 3, {2, 1}), prev));  // a bucket went down
  EXPECT_TRUE(HistogramDetectReset(Exp(0, 2, 3, {1, 1}), prev));  // the count went down
  EXPECT_TRUE(HistogramDetectReset(Exp(1, 3, 3, {1, 2}), prev));  // higher resolution
  // A lower resolution is compared after merging the previous buckets.
  // (Schema-0 buckets (1, 2] and (2, 4] are schema -1's (1, 4].)
  EXPECT_FALSE(HistogramDetectReset(Exp(-1, 3, 3, {3}, 1), Exp(0, 3, 3, {1, 2}, 1)));
  EXPECT_TRUE(HistogramDetectReset(Exp(-1, 3, 3, {2}, 1), Exp(0, 3, 3, {1, 2}, 1)));

  // What the TSDB hands out: not-reset after a histogram, unknown at a run's start.
  EXPECT_EQ(StoredCounterResetHint(nullptr, prev), CounterResetHint::kUnknown);
  EXPECT_EQ(StoredCounterResetHint(&prev, Exp(0, 4, 4, {2, 2})),
            CounterResetHint::kNotCounterReset);
  FloatHistogram gauge = prev;
  gauge.counter_reset_hint = CounterResetHint::kGauge;
  EXPECT_EQ(StoredCounterResetHint(&prev, gauge), CounterResetHint::kGauge);
}

TEST(HistogramTest, KahanAddKeepsSmallTerms) {
  FloatHistogram sum = Exp(0, 1, 3.1, {1}), comp;
  HistogramKahanAdd(sum, comp, Exp(0, 1, 1e100, {1}));
  HistogramKahanAdd(sum, comp, Exp(0, 1, -1e100, {1}));
  HistogramKahanAdd(sum, comp, Exp(0, 1, 1.3, {1}));
  HistogramKahanFinish(sum, comp);
  EXPECT_DOUBLE_EQ(sum.sum, 4.4);
  EXPECT_EQ(sum.count, 4);
}

TEST(HistogramTest, MeanSwitchesToIncrementalBeforeOverflow) {
  HistogramMean m;
  m.Add(Exp(0, 1e308, 1, {1e308}));
  m.Add(Exp(0, 1e308, 3, {1e308}));
  FloatHistogram r = m.Result();
  EXPECT_DOUBLE_EQ(r.count, 1e308);
  EXPECT_DOUBLE_EQ(r.sum, 2);
}

TEST(HistogramTest, QuantileAndFraction) {
  // Custom buckets (-Inf, 10], (10, 20], (20, +Inf] with 0, 10, 0 observations.
  FloatHistogram c = Custom({10, 20}, {0, 10, 0});
  c.sum = 150;
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, c), 15);
  EXPECT_DOUBLE_EQ(HistogramFraction(10, 15, c), 0.5);
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, FloatHistogram{})));
  EXPECT_EQ(HistogramQuantile(-1, c), -kInf);

  // Exponential buckets interpolate exponentially: half of (1, 2] is sqrt(2).
  FloatHistogram e = Exp(0, 2, 3, {2}, 1);
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, e), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(HistogramFraction(1, std::sqrt(2.0), e), 0.5);

  // NaN observations count but sit in no bucket.
  FloatHistogram n = Exp(0, 4, std::nan(""), {2}, 1);
  int info = 0;
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.9, n, &info)));
  EXPECT_EQ(info, 1);
}

TEST(HistogramTest, Trim) {
  FloatHistogram c = Custom({10, 20}, {0, 10, 0});
  c.sum = 150;
  FloatHistogram below = HistogramTrim(c, 15, /*upper=*/true);
  EXPECT_DOUBLE_EQ(below.count, 5);
  EXPECT_DOUBLE_EQ(below.sum, 5 * 12.5);
  FloatHistogram above = HistogramTrim(c, 15, /*upper=*/false);
  EXPECT_DOUBLE_EQ(above.count, 5);
  // Nothing to trim leaves the histogram alone.
  EXPECT_EQ(HistogramTrim(c, 30, true).sum, 150);
}

TEST(HistogramTest, Strings) {
  FloatHistogram h = Exp(0, 20, 10, {1, 2});
  h.zero_threshold = 0.001;
  h.zero_count = 2;
  h.negative_spans.push_back({0, 2});
  h.negative_buckets = {1, 2};
  h.count = 8;
  EXPECT_EQ(HistogramString(h),
            "{{count:8 sum:10 z_bucket_w:0.001 z_bucket:2 buckets:[1 2] n_buckets:[1 2]}}");
  EXPECT_EQ(HistogramGoString(h),
            "{count:8, sum:10, [-2,-1):2, [-1,-0.5):1, [-0.001,0.001]:2, (0.5,1]:1, (1,2]:2}");
  EXPECT_EQ(FormatGoG(1e6), "1e+06");
  EXPECT_EQ(FormatGoG(123456), "123456");
  EXPECT_EQ(FormatGoG(0.0001), "0.0001");
  EXPECT_EQ(FormatGoG(0.00001), "1e-05");
  EXPECT_TRUE(HistogramsAlmostEqual(h, h, true));
  FloatHistogram g = h;
  g.sum += 1e-9;
  g.counter_reset_hint = CounterResetHint::kGauge;
  EXPECT_TRUE(HistogramsAlmostEqual(h, g, false));
  EXPECT_FALSE(HistogramsAlmostEqual(h, g, true));
}

TEST(HistogramPromqlTest, RateSumAndJson) {
  auto head = testing::NewMemoryHead();
  auto app = head->NewAppender();
  Labels a({{"__name__", "req"}, {"i", "a"}});
  Labels b({{"__name__", "req"}, {"i", "b"}});
  for (int k = 0; k <= 10; ++k) {
    // Each scrape adds one observation in (1, 2] and two in (2, 4].
    FloatHistogram h = Exp(0, 3.0 * k, 7.0 * k, {1.0 * k, 2.0 * k}, 1);
    ASSERT_TRUE(app->AppendHistogram(a, k * 15000, h).ok());
    ASSERT_TRUE(app->AppendHistogram(b, k * 15000, h).ok());
  }
  ASSERT_TRUE(app->Commit().ok());
  promql::Engine engine;
  auto q = head->NewQuerier();

  auto r = engine.Instant(*q, "sum(rate(req[1m]))", 150000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->vector.size(), 1u);
  ASSERT_TRUE(r->vector[0].h);
  EXPECT_DOUBLE_EQ(r->vector[0].h->count, 2 * 3.0 / 15);
  EXPECT_EQ(r->vector[0].h->counter_reset_hint, CounterResetHint::kGauge);

  r = engine.Instant(*q, "histogram_quantile(0.5, req)", 150000);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->vector.size(), 2u);
  EXPECT_FALSE(r->vector[0].h);
  EXPECT_NEAR(r->vector[0].v, std::pow(2.0, 1.25), 1e-12);

  // min ignores histograms, with an info annotation.
  r = engine.Instant(*q, "min(req)", 150000);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->vector.empty());
  ASSERT_EQ(r->infos.size(), 1u);
  EXPECT_EQ(r->infos[0], "PromQL info: ignored histogram in min aggregation (1:5)");

  r = engine.Instant(*q, "req{i=\"a\"}", 15000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(QueryResultJson(*r),
            "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"req\",\"i\":"
            "\"a\"},\"histogram\":[15,{\"count\":\"3\",\"sum\":\"7\",\"buckets\":[[0,\"1\",\"2\","
            "\"1\"],[0,\"2\",\"4\",\"2\"]]}]}]}");

  r = engine.Range(*q, "req{i=\"a\"}", 0, 15000, 15000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(QueryResultJson(*r),
            "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"req\",\"i\":"
            "\"a\"},\"histograms\":[[0,{\"count\":\"0\",\"sum\":\"0\"}],[15,{\"count\":\"3\","
            "\"sum\":\"7\",\"buckets\":[[0,\"1\",\"2\",\"1\"],[0,\"2\",\"4\",\"2\"]]}]]}]}");
}

}  // namespace
}  // namespace berth::monitor
