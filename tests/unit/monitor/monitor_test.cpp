// Labels, matchers, regex templates, remote write, the HTTP API's parameter
// parsing and the scrape manager over the real TSDB head.
#include <gtest/gtest.h>
#include <re2/re2.h>
#include <snappy.h>
#include <yaml-cpp/yaml.h>

#include <bit>
#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include "monitor/http_api.h"
#include "monitor/labels.h"
#include "monitor/regex_template.h"
#include "monitor/remote_write.h"
#include "monitor/scrape/manager.h"
#include "monitor/tsdb/head.h"
#include "testing/memory_head.h"

namespace berth::monitor {
namespace {

using testing::NewMemoryHead;

std::vector<SeriesSamples> SelectAll(Storage& s, const std::string& name) {
  auto q = s.NewQuerier();
  auto m = Matcher::Make(Matcher::Op::kEq, "__name__", name);
  auto r = q->Select(INT64_MIN / 2, INT64_MAX / 2, {*m});
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : std::vector<SeriesSamples>{};
}

TEST(Labels, SortsDropsEmptyAndPrints) {
  Labels l({{"b", "2"}, {"__name__", "up"}, {"a", "x\"y"}, {"e", ""}});
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0].name, "__name__");
  EXPECT_EQ(l.Get("a"), "x\"y");
  EXPECT_EQ(l.Get("e"), "");
  EXPECT_EQ(l.String(), R"({__name__="up", a="x\"y", b="2"})");
  EXPECT_EQ(l.MetricString(), R"(up{a="x\"y", b="2"})");
  EXPECT_EQ(Labels({{"x.y", "1"}}).String(), R"({"x.y"="1"})");
  EXPECT_EQ(l.With("c", "3").Get("c"), "3");
  EXPECT_EQ(l.With("a", "").Has("a"), false);
  EXPECT_EQ(l.HashFor({"a"}, false), Labels({{"a", "x\"y"}}).Hash());
  EXPECT_EQ(l.HashFor({"b"}, true), Labels({{"a", "x\"y"}}).Hash());
  EXPECT_NE(Labels({{"a", "bc"}}).Hash(), Labels({{"ab", "c"}}).Hash());
}

TEST(Labels, PackedSetsKeepLongValuesAndCompareByContent) {
  // Lengths of 128 bytes and more take two varint bytes, 16 KiB three.
  std::string mid(300, 'm'), big(20000, 'b');
  Labels l({{"z", big}, {"a", mid}, {std::string(130, 'n'), "v"}, {"__name__", "x"}});
  ASSERT_EQ(l.size(), 4u);
  std::vector<std::string> names;
  for (LabelView v : l) names.emplace_back(v.name);
  EXPECT_EQ(names, (std::vector<std::string>{"__name__", "a", std::string(130, 'n'), "z"}));
  EXPECT_EQ(l.Get("z"), big);
  EXPECT_EQ(l.Get("a"), mid);
  EXPECT_EQ(l[2].value, "v");
  EXPECT_EQ(l.ToVector().back(), (Label{"z", big}));

  // Copies share the buffer; equal sets built apart compare and hash equal.
  Labels copy = l;
  Labels moved = std::move(copy);
  EXPECT_TRUE(copy.empty());
  EXPECT_EQ(moved.Bytes().data(), l.Bytes().data());
  Labels apart({{"__name__", "x"}, {"a", mid}, {std::string(130, 'n'), "v"}, {"z", big}});
  EXPECT_EQ(apart, l);
  EXPECT_EQ(apart.Hash(), l.Hash());
  EXPECT_NE(apart.Bytes().data(), l.Bytes().data());
  EXPECT_NE(l.With("z", "other"), l);

  // Prometheus's order: label by label, and a prefix sorts first.
  Labels a({{"a", "1"}}), ab({{"a", "1"}, {"b", "1"}}), b({{"a", "2"}});
  EXPECT_LT(Labels::Compare(a, ab), 0);
  EXPECT_GT(Labels::Compare(ab, a), 0);
  EXPECT_LT(Labels::Compare(ab, b), 0);
  EXPECT_EQ(Labels::Compare(a, Labels({{"a", "1"}})), 0);
  EXPECT_EQ(Labels().size(), 0u);
  EXPECT_EQ(Labels().begin(), Labels().end());
  EXPECT_EQ(Labels({{"a", ""}}).empty(), true);
  EXPECT_EQ(l.Without("z").Without("a").size(), 2u);
  EXPECT_EQ(l.Keep({"z"}).Get("z"), big);
}

TEST(Labels, QuoteStringEscapesLikeGo) {
  EXPECT_EQ(QuoteString("a\xc5z"), R"("a\xc5z")");
  EXPECT_EQ(QuoteString("é\n\t"), "\"é\\n\\t\"");
}

TEST(Matcher, RegexIsAnchoredAndDotMatchesNewline) {
  auto m = Matcher::Make(Matcher::Op::kRe, "a", "fo.");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->Matches("foo"));
  EXPECT_FALSE(m->Matches("xfoo"));
  EXPECT_FALSE(m->Matches("foox"));
  EXPECT_TRUE(m->Matches("fo\n"));
  auto n = Matcher::Make(Matcher::Op::kNre, "a", "");
  EXPECT_FALSE(n->Matches(""));
  EXPECT_TRUE(n->Matches("x"));
  EXPECT_FALSE(Matcher::Make(Matcher::Op::kRe, "a", "(").ok());
}

TEST(RegexTemplate, ExpandsLikeGo) {
  RE2 re("(?P<host>[a-z]+):(\\d+)");
  std::string out;
  ASSERT_TRUE(MatchAndExpand(re, "web:80", "$1-${2}-$host-$$-$", &out));
  EXPECT_EQ(out, "web-80-web-$-$");
  ASSERT_TRUE(MatchAndExpand(re, "web:80", "$1x", &out));
  EXPECT_EQ(out, "");  // "$1x" names group "1x", which does not exist
  EXPECT_FALSE(MatchAndExpand(re, "web:80x", "$1", &out));
}

TEST(RemoteWrite, RoundTripsAndAppendsAllOrNothing) {
  auto head = NewMemoryHead();
  std::vector<SeriesSamples> in = {
      {Labels({{"__name__", "m"}, {"job", "a"}}), {{1000, 1.5}, {2000, 2.5}}},
      {Labels({{"__name__", "m"}, {"job", "b"}}), {{1000, -1}}},
  };
  std::string body = EncodeRemoteWrite(in);
  auto dec = DecodeRemoteWrite(body);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  ASSERT_EQ(dec->size(), 2u);
  EXPECT_EQ((*dec)[0].labels, in[0].labels);
  EXPECT_EQ((*dec)[0].samples[1].v, 2.5);
  RemoteWriteStats stats;
  ASSERT_TRUE(ReceiveRemoteWrite(body, head.get(), &stats).ok());
  EXPECT_EQ(stats.samples, 3);
  EXPECT_EQ(SelectAll(*head, "m").size(), 2u);

  // An out-of-order sample rejects the whole request; nothing of it lands.
  std::vector<SeriesSamples> bad = {
      {Labels({{"__name__", "n"}}), {{5000, 1}}},
      {Labels({{"__name__", "m"}, {"job", "a"}}), {{500, 9}}},
  };
  Status st = ReceiveRemoteWrite(EncodeRemoteWrite(bad), head.get());
  EXPECT_EQ(st.code(), Code::kBadRequest);
  EXPECT_TRUE(SelectAll(*head, "n").empty());

  EXPECT_EQ(DecodeRemoteWrite("not snappy at all").status().code(), Code::kBadRequest);
  std::vector<SeriesSamples> nolabels = {{Labels(), {{1, 1}}}};
  EXPECT_EQ(DecodeRemoteWrite(EncodeRemoteWrite(nolabels)).status().code(), Code::kBadRequest);
}

// Protobuf by hand, as a Prometheus with native histograms sends them.
std::string PbVarint(uint64_t v) {
  std::string o;
  while (v >= 0x80) {
    o.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  o.push_back(static_cast<char>(v));
  return o;
}
std::string PbField(int field, int wire) {
  return PbVarint(static_cast<uint64_t>(field) << 3 | wire);
}
std::string PbBytes(int field, std::string_view b) {
  return PbField(field, 2) + PbVarint(b.size()) + std::string(b);
}
std::string PbDouble(int field, double v) {
  std::string o = PbField(field, 1);
  uint64_t bits = std::bit_cast<uint64_t>(v);
  o.append(reinterpret_cast<const char*>(&bits), 8);
  return o;
}
uint64_t Zz(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }

TEST(RemoteWrite, NativeHistogramsIntegerAndFloat) {
  // An integer histogram: count 7, sum 12.5, schema 1, zero bucket 1, two
  // spans of positive buckets with delta-encoded counts 1,2 | 3 (packed
  // sint64 deltas 1, +1, +1) and unpacked negative deltas.
  std::string span1 = PbField(1, 0) + PbVarint(Zz(-1)) + PbField(2, 0) + PbVarint(2);
  std::string span2 = PbField(1, 0) + PbVarint(Zz(2)) + PbField(2, 0) + PbVarint(1);
  std::string nspan = PbField(1, 0) + PbVarint(Zz(0)) + PbField(2, 0) + PbVarint(1);
  std::string deltas = PbVarint(Zz(1)) + PbVarint(Zz(1)) + PbVarint(Zz(1));
  std::string h = PbField(1, 0) + PbVarint(7) + PbDouble(3, 12.5) + PbField(4, 0) +
                  PbVarint(Zz(1)) + PbDouble(5, 0.001) + PbField(6, 0) + PbVarint(1) +
                  PbBytes(8, nspan) + PbField(9, 0) + PbVarint(Zz(0)) + PbBytes(11, span1) +
                  PbBytes(11, span2) + PbBytes(12, deltas) + PbField(14, 0) + PbVarint(2) +
                  PbField(15, 0) + PbVarint(60000);
  std::string label = PbBytes(1, "__name__") + PbBytes(2, "rpc_seconds");
  std::string ts = PbBytes(1, label) + PbBytes(4, h);
  std::string raw = PbBytes(1, ts);
  std::string body;
  snappy::Compress(raw.data(), raw.size(), &body);

  auto dec = DecodeRemoteWrite(body);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  ASSERT_EQ(dec->size(), 1u);
  ASSERT_EQ((*dec)[0].histograms.size(), 1u);
  const FloatHistogram& got = *(*dec)[0].histograms[0].h;
  EXPECT_EQ((*dec)[0].histograms[0].t, 60000);
  EXPECT_EQ(got.count, 7);
  EXPECT_EQ(got.sum, 12.5);
  EXPECT_EQ(got.schema, 1);
  EXPECT_EQ(got.zero_count, 1);
  EXPECT_EQ(got.counter_reset_hint, CounterResetHint::kNotCounterReset);
  EXPECT_EQ(got.positive_spans, (std::vector<HistogramSpan>{{-1, 2}, {2, 1}}));
  EXPECT_EQ(got.positive_buckets, (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(got.negative_buckets, (std::vector<double>{0}));

  // Stored, and read back; the encoder writes float histograms that decode
  // to the same value.
  auto head = NewMemoryHead();
  ASSERT_TRUE(ReceiveRemoteWrite(body, head.get()).ok());
  auto q = head->NewQuerier();
  auto all = q->Select(0, 100000, {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  ASSERT_EQ((*all)[0].histograms.size(), 1u);
  // Stored with the hint the head gives the first histogram of a series.
  FloatHistogram stored = got;
  stored.counter_reset_hint = CounterResetHint::kUnknown;
  EXPECT_EQ(*(*all)[0].histograms[0].h, stored);
  auto again = DecodeRemoteWrite(EncodeRemoteWrite(*all));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*(*again)[0].histograms[0].h, stored);

  // Spans that promise more buckets than there are: 400, nothing stored.
  std::string bad_h =
      PbField(1, 0) + PbVarint(1) + PbBytes(11, span1) + PbBytes(12, PbVarint(Zz(1)));
  std::string bad_raw = PbBytes(1, PbBytes(1, label) + PbBytes(4, bad_h));
  std::string bad;
  snappy::Compress(bad_raw.data(), bad_raw.size(), &bad);
  auto st = DecodeRemoteWrite(bad);
  EXPECT_EQ(st.status().code(), Code::kBadRequest);
  EXPECT_NE(st.status().message().find("positive spans need 2 buckets, found 1"), std::string::npos)
      << st.status().message();
}

TEST(HttpApi, ParsesTimesAndDurations) {
  EXPECT_EQ(*ParseApiTime("1435781451.781"), 1435781451781);
  EXPECT_EQ(*ParseApiTime("2015-07-01T20:10:51.781Z"), 1435781451781);
  EXPECT_EQ(*ParseApiTime("2015-07-01T22:10:51+02:00"), 1435781451000);
  EXPECT_FALSE(ParseApiTime("yesterday").ok());
  EXPECT_EQ(*ParseApiDuration("15"), 15000);
  EXPECT_EQ(*ParseApiDuration("1m30s"), 90000);
  EXPECT_EQ(*ParseApiDuration("0.5"), 500);
  EXPECT_FALSE(ParseApiDuration("soon").ok());
}

TEST(HttpApi, ResultJsonUsesPrometheusShapes) {
  promql::QueryResult r;
  r.type = promql::ValueType::kVector;
  r.vector.push_back({Labels({{"__name__", "up"}, {"job", "x"}}), 1500, std::nan("")});
  EXPECT_EQ(
      QueryResultJson(r),
      R"({"resultType":"vector","result":[{"metric":{"__name__":"up","job":"x"},"value":[1.5,"NaN"]}]})");
  r.type = promql::ValueType::kScalar;
  r.scalar = {2000, 1e21};
  EXPECT_EQ(QueryResultJson(r), R"({"resultType":"scalar","result":[2,"1000000000000000000000"]})");
}

// ---- the scrape manager over in-process targets ----

struct FakeTarget {
  std::mutex mu;
  std::string body;
  bool fail = false;
  scrape::LocalFetch Fetch() {
    return [this]() -> Result<scrape::Fetched> {
      std::lock_guard<std::mutex> g(mu);
      if (fail) return Status(Code::kUnavailable, "connection refused");
      return scrape::Fetched{body, "text/plain; version=0.0.4"};
    };
  }
  void Set(std::string b, bool f = false) {
    std::lock_guard<std::mutex> g(mu);
    body = std::move(b);
    fail = f;
  }
};

double LastValue(Storage& s, const std::string& name, const std::string& label = "",
                 const std::string& value = "") {
  for (const auto& ss : SelectAll(s, name)) {
    if (!label.empty() && ss.labels.Get(label) != value) continue;
    if (!ss.samples.empty()) return ss.samples.back().v;
  }
  return -12345;
}

TEST(ScrapeManager, LabelsStalenessAndReportSeries) {
  auto head = NewMemoryHead();
  scrape::Manager m(head.get());
  m.Start();
  FakeTarget t;
  t.Set("# TYPE a counter\na_total{job=\"inner\"} 1\nb 2\n");
  scrape::ScrapeConfig cfg;
  cfg.job_name = "j";
  cfg.interval_ms = 3600'000;
  cfg.timeout_ms = 1000;
  ASSERT_TRUE(m.SetLocalPool(cfg, Labels({{"__address__", "t:1"}}), t.Fetch()).ok());
  m.ScrapeNow("j");
  EXPECT_EQ(LastValue(*head, "up"), 1);
  EXPECT_EQ(LastValue(*head, "scrape_samples_scraped"), 2);
  // The target's job wins; the scraped one is kept as exported_job.
  auto a = SelectAll(*head, "a_total");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].labels.Get("job"), "j");
  EXPECT_EQ(a[0].labels.Get("exported_job"), "inner");
  EXPECT_EQ(a[0].labels.Get("instance"), "t:1");

  // b disappears: it gets a staleness marker.
  t.Set("a_total{job=\"inner\"} 2\n");
  m.ScrapeNow("j");
  auto b = SelectAll(*head, "b");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_TRUE(IsStaleNaN(b[0].samples.back().v));

  // Malformed exposition: up=0, the error in the targets, everything stale.
  t.Set("a_total{job=\"inner\" 3\n");
  m.ScrapeNow("j");
  EXPECT_EQ(LastValue(*head, "up"), 0);
  EXPECT_TRUE(IsStaleNaN(LastValue(*head, "a_total")));
  Json targets = m.TargetsJson();
  ASSERT_EQ(targets["activeTargets"].size(), 1u);
  EXPECT_EQ(targets["activeTargets"][0]["health"], "down");
  EXPECT_NE(targets["activeTargets"][0]["lastError"].get<std::string>().find("line 1"),
            std::string::npos);

  // Back to normal; the metadata of the last good scrape is served.
  t.Set("# HELP a_total Things.\n# TYPE a_total counter\na_total 4\n");
  m.ScrapeNow("j");
  EXPECT_EQ(LastValue(*head, "up"), 1);
  Json md = m.MetadataJson("", -1);
  ASSERT_TRUE(md.contains("a_total"));
  EXPECT_EQ(md["a_total"][0]["type"], "counter");
  EXPECT_EQ(md["a_total"][0]["help"], "Things.");

  // Removing the pool marks its series stale.
  m.RemovePool("j");
  bool stale = false;
  for (int i = 0; i < 500 && !stale; ++i) {
    stale = IsStaleNaN(LastValue(*head, "up"));
    if (!stale) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(stale);
  m.Stop();
}

TEST(ScrapeManager, HonorLabelsRelabelingAndLimits) {
  auto head = NewMemoryHead();
  scrape::Manager m(head.get());
  m.Start();
  FakeTarget t;
  t.Set("x{job=\"mine\",drop=\"me\"} 1\nx{job=\"mine\",drop=\"no\"} 2\ny 3\n");
  scrape::ScrapeConfig cfg;
  cfg.job_name = "h";
  cfg.interval_ms = 3600'000;
  cfg.timeout_ms = 1000;
  cfg.honor_labels = true;
  YAML::Node rel = YAML::Load("[{source_labels: [drop], regex: me, action: drop}]");
  auto rc = scrape::ParseRelabelConfigs(rel);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  cfg.metric_relabel_configs = *rc;
  ASSERT_TRUE(m.SetLocalPool(cfg, Labels({{"__address__", "t:2"}}), t.Fetch()).ok());
  m.ScrapeNow("h");
  auto x = SelectAll(*head, "x");
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x[0].labels.Get("job"), "mine");
  EXPECT_EQ(LastValue(*head, "scrape_samples_post_metric_relabeling"), 2);

  // Over the sample limit the whole scrape fails and nothing new lands.
  cfg.sample_limit = 1;
  ASSERT_TRUE(m.SetLocalPool(cfg, Labels({{"__address__", "t:2"}}), t.Fetch()).ok());
  m.ScrapeNow("h");
  EXPECT_EQ(LastValue(*head, "up", "instance", "t:2"), 0);
  EXPECT_EQ(m.TargetsJson()["activeTargets"][0]["lastError"], "sample limit exceeded");
  m.Stop();
}

TEST(ScrapeConfigFile, ParsesStaticJobsAndRejectsBadOnes) {
  YAML::Node ok = YAML::Load(R"(
global: {scrape_interval: 30s}
scrape_configs:
  - job_name: web
    static_configs:
      - targets: ["127.0.0.1:9100", "127.0.0.1:9101"]
        labels: {env: test}
    metric_relabel_configs:
      - {source_labels: [__name__], regex: "go_.*", action: drop}
)");
  auto jobs = scrape::ParseScrapeConfigs(ok);
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].config.interval_ms, 30000);
  EXPECT_EQ((*jobs)[0].config.timeout_ms, 10000);
  ASSERT_EQ((*jobs)[0].targets.size(), 2u);
  EXPECT_EQ((*jobs)[0].targets[1].Get("env"), "test");
  EXPECT_FALSE(
      scrape::ParseScrapeConfigs(
          YAML::Load("scrape_configs: [{job_name: a, scrape_interval: 5s, scrape_timeout: 10s}]"))
          .ok());
  EXPECT_FALSE(
      scrape::ParseScrapeConfigs(YAML::Load("scrape_configs: [{job_name: a}, {job_name: a}]"))
          .ok());
  EXPECT_FALSE(
      scrape::ParseScrapeConfigs(YAML::Load("scrape_configs: [{job_name: a, typo: 1}]")).ok());
}

}  // namespace
}  // namespace berth::monitor
