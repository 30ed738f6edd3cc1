// What scraping needs before the scrape loop: the text and OpenMetrics
// exposition parsers, and relabeling.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/json.h"
#include "core/metrics.h"
#include "monitor/scrape/exposition.h"
#include "monitor/scrape/relabel.h"
#include "monitor/storage.h"

namespace berth::monitor::scrape {
namespace {

constexpr std::string_view kText = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kOM = "application/openmetrics-text; version=1.0.0; charset=utf-8";

ParsedScrape MustParse(std::string_view body, std::string_view ct, ParseOptions o = {}) {
  auto r = ParseExposition(body, ct, o);
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok()) return {};
  return std::move(r).value();
}

std::string ParseError(std::string_view body, std::string_view ct) {
  auto r = ParseExposition(body, ct);
  EXPECT_FALSE(r.ok()) << "parsed: " << body;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  return r.status().message();
}

const MetricFamily* Family(const ParsedScrape& p, std::string_view name) {
  for (const auto& f : p.families)
    if (f.name == name) return &f;
  return nullptr;
}

// ---------------------------------------------------------------- content type

TEST(ContentTypeTest, SelectsTheFormat) {
  EXPECT_EQ(FormatForContentType(kOM), ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(FormatForContentType("application/openmetrics-text"), ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(FormatForContentType("Application/OpenMetrics-Text ; version=0.0.1"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(FormatForContentType(kText), ExpositionFormat::kText);
  EXPECT_EQ(FormatForContentType(""), ExpositionFormat::kText);
  EXPECT_EQ(FormatForContentType("application/json"), ExpositionFormat::kText);
}

TEST(ContentTypeTest, ProtobufIsRefusedRatherThanMisread) {
  auto r = ParseExposition(
      "x 1\n", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnsupportedMediaType);
}

// ---------------------------------------------------------------- text format

TEST(TextFormatTest, EveryMetricType) {
  constexpr std::string_view body = R"(# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# A normal comment.
# TYPE temperature gauge
temperature -3.5
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320
# TYPE something_untyped untyped
something_untyped 42
metric_without_timestamp_and_labels 12.47
)";
  ParsedScrape p = MustParse(body, kText);
  EXPECT_EQ(p.format, ExpositionFormat::kText);
  ASSERT_EQ(p.samples.size(), 13u);
  ASSERT_EQ(p.families.size(), 5u);

  const MetricFamily* c = Family(p, "http_requests_total");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->type, MetricType::kCounter);
  EXPECT_EQ(c->help, "The total number of HTTP requests.");
  EXPECT_EQ(Family(p, "temperature")->type, MetricType::kGauge);
  EXPECT_EQ(Family(p, "rpc_duration_seconds")->type, MetricType::kSummary);
  EXPECT_EQ(Family(p, "http_request_duration_seconds")->type, MetricType::kHistogram);
  EXPECT_EQ(Family(p, "something_untyped")->type, MetricType::kUnknown);

  const ScrapedSample& s0 = p.samples[0];
  EXPECT_EQ(s0.labels,
            (Labels{{"__name__", "http_requests_total"}, {"method", "post"}, {"code", "200"}}));
  EXPECT_EQ(s0.value, 1027);
  ASSERT_TRUE(s0.timestamp_ms.has_value());
  EXPECT_EQ(*s0.timestamp_ms, 1395066363000);
  EXPECT_EQ(p.families[s0.family].name, "http_requests_total");
  EXPECT_EQ(p.samples[1].value, 3);

  EXPECT_EQ(p.samples[2].labels.Name(), "temperature");
  EXPECT_EQ(p.samples[2].value, -3.5);
  EXPECT_FALSE(p.samples[2].timestamp_ms.has_value());

  // Samples find their family through the type's suffixes.
  EXPECT_EQ(p.families[p.samples[5].family].name, "rpc_duration_seconds");  // _sum
  EXPECT_EQ(p.samples[5].value, 1.7560473e+07);
  EXPECT_EQ(p.families[p.samples[7].family].name, "http_request_duration_seconds");  // _bucket
  EXPECT_EQ(p.samples[8].labels.Get("le"), "+Inf");
  EXPECT_EQ(p.families[p.samples[10].family].name, "http_request_duration_seconds");  // _count
  EXPECT_EQ(p.samples[12].family, -1);
  EXPECT_EQ(p.samples[12].value, 12.47);
}

TEST(TextFormatTest, SpecialValuesAndNumberForms) {
  ParsedScrape p = MustParse(
      "a NaN\nb +Inf\nc -Inf\nd Inf\ne nan\nf 1e3\ng -0.5\nh +3\ni .5\nj 1E-400\n", kText);
  ASSERT_EQ(p.samples.size(), 10u);
  EXPECT_TRUE(std::isnan(p.samples[0].value));
  EXPECT_FALSE(IsStaleNaN(p.samples[0].value));
  EXPECT_EQ(p.samples[1].value, INFINITY);
  EXPECT_EQ(p.samples[2].value, -INFINITY);
  EXPECT_EQ(p.samples[3].value, INFINITY);
  EXPECT_TRUE(std::isnan(p.samples[4].value));
  EXPECT_EQ(p.samples[5].value, 1000);
  EXPECT_EQ(p.samples[6].value, -0.5);
  EXPECT_EQ(p.samples[7].value, 3);
  EXPECT_EQ(p.samples[8].value, 0.5);
  EXPECT_EQ(p.samples[9].value, 0);  // underflow reads as zero, overflow is an error
  EXPECT_NE(ParseError("a 1e400\n", kText).find("line 1: value out of range"), std::string::npos);
}

TEST(TextFormatTest, Timestamps) {
  ParsedScrape p = MustParse("a 1 -1000\nb 2 +5\nc 3 9223372036854775807\n", kText);
  EXPECT_EQ(*p.samples[0].timestamp_ms, -1000);
  EXPECT_EQ(*p.samples[1].timestamp_ms, 5);
  EXPECT_EQ(*p.samples[2].timestamp_ms, INT64_MAX);
  EXPECT_EQ(ParseError("a 1 1.5\n", kText), "line 1: invalid timestamp \"1.5\"");
  EXPECT_EQ(ParseError("a 1 9223372036854775808\n", kText),
            "line 1: invalid timestamp \"9223372036854775808\"");
}

TEST(TextFormatTest, LabelValueEscapes) {
  ParsedScrape p = MustParse(
      R"(msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9
other{a="tab\tstays", b="ünïcödé ✓"} 1
)",
      kText);
  ASSERT_EQ(p.samples.size(), 2u);
  EXPECT_EQ(p.samples[0].labels.Get("path"), "C:\\DIR\\FILE.TXT");
  EXPECT_EQ(p.samples[0].labels.Get("error"), "Cannot find file:\n\"FILE.TXT\"");
  EXPECT_EQ(p.samples[0].value, 1.458255915e9);
  // Unknown escapes are kept as written, as Prometheus does.
  EXPECT_EQ(p.samples[1].labels.Get("a"), "tab\\tstays");
  EXPECT_EQ(p.samples[1].labels.Get("b"), "ünïcödé ✓");
}

TEST(TextFormatTest, HelpEscapes) {
  ParsedScrape p =
      MustParse("# HELP m a\\\\b\\nc \\\"q\\\" \\t\n# HELP  other   spaced help  \nm 1\n", kText);
  ASSERT_EQ(p.families.size(), 2u);
  // The text format unescapes only \\ and \n in HELP.
  EXPECT_EQ(p.families[0].help, "a\\b\nc \\\"q\\\" \\t");
  EXPECT_EQ(p.families[1].name, "other");
  EXPECT_EQ(p.families[1].help, "spaced help  ");
}

TEST(TextFormatTest, WhitespaceCommasAndLayout) {
  ParsedScrape p = MustParse(
      "  indented{ a = \"1\" , b=\"2\", } 1\r\n"
      "\ttabbed\t{a=\"x\",}\t2\t 100\t\n"
      "\n\n"
      "#no space comment\n"
      "# TYPEX not metadata\n"
      "empty{} 3\n"
      "no_newline{a=\"\"} 4",
      kText);
  ASSERT_EQ(p.samples.size(), 4u);
  EXPECT_EQ(p.samples[0].labels, (Labels{{"__name__", "indented"}, {"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(p.samples[1].labels, (Labels{{"__name__", "tabbed"}, {"a", "x"}}));
  EXPECT_EQ(*p.samples[1].timestamp_ms, 100);
  EXPECT_EQ(p.samples[2].labels, (Labels{{"__name__", "empty"}}));
  // Empty label values are the same as absent labels.
  EXPECT_EQ(p.samples[3].labels, (Labels{{"__name__", "no_newline"}}));
  EXPECT_EQ(p.samples[3].value, 4);
  EXPECT_TRUE(p.families.empty());
}

TEST(TextFormatTest, QuotedUtf8Names) {
  ParsedScrape p = MustParse(
      "# HELP \"my.metric\" dotted\n"
      "# TYPE \"my.metric\" gauge\n"
      "{\"my.metric\", a=\"b\"} 1\n"
      "{\"my.metric\",\"label.with.dots\"=\"v\",} 2\n"
      "{\"esc\\\"aped\"} 3\n"
      "{__name__=\"by_label\"} 4\n",
      kText);
  ASSERT_EQ(p.samples.size(), 4u);
  EXPECT_EQ(p.samples[0].labels, (Labels{{"__name__", "my.metric"}, {"a", "b"}}));
  EXPECT_EQ(p.samples[0].family, 0);
  EXPECT_EQ(p.families[0].type, MetricType::kGauge);
  EXPECT_EQ(p.families[0].help, "dotted");
  EXPECT_EQ(p.samples[1].labels.Get("label.with.dots"), "v");
  EXPECT_EQ(p.samples[2].labels.Name(), "esc\"aped");
  EXPECT_EQ(p.samples[3].labels.Name(), "by_label");
}

TEST(TextFormatTest, ErrorsNameTheLine) {
  struct Case {
    std::string body, want;
  };
  std::vector<Case> cases = {
      {"ok 1\nbad\n", "line 2: expected value after metric, got end of line"},
      {"ok 1\n\nbad INVALID\n", "line 3: invalid value \"INVALID\""},
      {"a{b=\"c\" 1\n", "line 1: expected comma or closing brace in label set, got \"1\""},
      {"a{b INVALID} 1\n", "line 1: expected equal after label name \"b\", got \"INVALID}\""},
      {"a{b=c} 1\n", "line 1: expected a quoted label value, got \"c}\""},
      {"a{b=\"c} 1\n", "line 1: unterminated quoted string"},
      {"a{,} 1\n", "line 1: expected label name, got \",}\""},
      {"a{b=\"1\",,} 1\n", "line 1: expected label name, got \",}\""},
      {"a{1b=\"1\"} 1\n", "line 1: expected label name, got \"1b=\"1\"}\""},
      {"a{b=\"1\",b=\"2\"} 1\n", "line 1: duplicate label name \"b\""},
      {"a{__name__=\"x\"} 1\n", "line 1: duplicate label name \"__name__\""},
      {"{a=\"b\"} 1\n", "line 1: metric name missing"},
      {"{__name__=\"\"} 1\n", "line 1: metric name missing"},
      {"a{__name__=\"\"} 1\n", "line 1: duplicate label name \"__name__\""},
      {"\"quoted\" 1\n", "line 1: expected metric name or label set, got \"\"quoted\"\""},
      {"a{\"x\"} 1\n", "line 1: metric name given twice, got \"{\"x\"}\""},
      {"a 1 2 3\n", "line 1: expected end of line after timestamp, got \"3\""},
      {"a 1 # {a=\"b\"} 1\n", "line 1: invalid timestamp \"#\""},
      {"# TYPE a gaugehistogram\n", "line 1: invalid metric type \"gaugehistogram\""},
      {"# TYPE a\n", "line 1: expected a metric type after TYPE a"},
      {"# HELP 1a x\n", "line 1: expected metric name, got \"1a\""},
      {"a{b=\"\xff\"} 1\n", "line 1: invalid UTF-8 in quoted string"},
      {"a{b=\"\\\xc3n\"} 1\n", "line 1: invalid UTF-8 in quoted string"},
      {"# HELP a \xc3\n", "line 1: invalid UTF-8 in HELP"},
      {"a{b=\"c\"}", "line 1: expected value after metric, got end of line"},
      {"a{b=\"c\"", "line 1: expected comma or closing brace in label set, got end of line"},
      {"a{b=\"c\",", "line 1: unexpected end of line in label set"},
      {"9a 1\n", "line 1: expected metric name, got \"9a\""},
  };
  for (const auto& c : cases) EXPECT_EQ(ParseError(c.body, kText), c.want) << c.body;
}

TEST(TextFormatTest, ParsesBerthsOwnMetrics) {
  using berth::metrics::Type;
  berth::metrics::Describe("scrape_test_requests_total", Type::kCounter, "Requests by verb.");
  berth::metrics::Add("scrape_test_requests_total", "verb=\"GET\",code=\"200\"", 3);
  berth::metrics::Add("scrape_test_requests_total",
                      "verb=\"" + berth::metrics::EscapeLabel("we\"ird\\\n") + "\",code=\"500\"");
  berth::metrics::Describe("scrape_test_inflight", Type::kGauge, "In flight.");
  berth::metrics::Set("scrape_test_inflight", "", 2.5);
  berth::metrics::Describe("scrape_test_latency_seconds", Type::kHistogram, "Latency.", {0.1, 1});
  berth::metrics::Observe("scrape_test_latency_seconds", "op=\"put\"", 0.05);
  berth::metrics::Observe("scrape_test_latency_seconds", "op=\"put\"", 5);
  berth::metrics::GaugeFunc("scrape_test_func", "A callback gauge.", [] { return 1e20; });

  std::string out = berth::metrics::Render();
  ParsedScrape p = MustParse(out, kText);
  ASSERT_FALSE(p.samples.empty());

  auto find = [&](const Labels& want) -> const ScrapedSample* {
    for (const auto& s : p.samples)
      if (s.labels == want) return &s;
    return nullptr;
  };
  const ScrapedSample* s =
      find({{"__name__", "scrape_test_requests_total"}, {"verb", "GET"}, {"code", "200"}});
  ASSERT_NE(s, nullptr) << out;
  EXPECT_EQ(s->value, 3);
  EXPECT_EQ(p.families[s->family].type, MetricType::kCounter);
  EXPECT_EQ(p.families[s->family].help, "Requests by verb.");
  s = find({{"__name__", "scrape_test_requests_total"}, {"verb", "we\"ird\\\n"}, {"code", "500"}});
  ASSERT_NE(s, nullptr) << out;
  EXPECT_EQ(s->value, 1);
  s = find({{"__name__", "scrape_test_inflight"}});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->value, 2.5);
  EXPECT_EQ(p.families[s->family].type, MetricType::kGauge);
  s = find({{"__name__", "scrape_test_latency_seconds_bucket"}, {"op", "put"}, {"le", "0.1"}});
  ASSERT_NE(s, nullptr) << out;
  EXPECT_EQ(s->value, 1);
  EXPECT_EQ(p.families[s->family].name, "scrape_test_latency_seconds");
  EXPECT_EQ(p.families[s->family].type, MetricType::kHistogram);
  s = find({{"__name__", "scrape_test_latency_seconds_bucket"}, {"op", "put"}, {"le", "+Inf"}});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->value, 2);
  s = find({{"__name__", "scrape_test_latency_seconds_sum"}, {"op", "put"}});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->value, 5.05);
  s = find({{"__name__", "scrape_test_latency_seconds_count"}, {"op", "put"}});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(p.families[s->family].name, "scrape_test_latency_seconds");
  s = find({{"__name__", "scrape_test_func"}});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->value, 1e20);
}

// ---------------------------------------------------------------- streaming

TEST(ExpositionParserTest, StreamsEntriesWithRawSeries) {
  std::string body =
      "# HELP a_total Things.\n# TYPE a_total counter\n"
      "a_total{x=\"1\", y=\"2\"} 5 1000\n"
      "  b 6\n";
  ExpositionParser p(body, ExpositionFormat::kText);
  using E = ExpositionParser::Entry;
  auto e = p.Next();
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, E::kHelp);
  EXPECT_EQ(p.metadata_name(), "a_total");
  EXPECT_EQ(p.help(), "Things.");
  EXPECT_EQ(p.line(), 1);
  e = p.Next();
  EXPECT_EQ(*e, E::kType);
  EXPECT_EQ(p.type(), MetricType::kCounter);
  e = p.Next();
  EXPECT_EQ(*e, E::kSample);
  EXPECT_EQ(p.line(), 3);
  EXPECT_EQ(p.series(), "a_total{x=\"1\", y=\"2\"}");
  EXPECT_EQ(p.metric_name(), "a_total");
  EXPECT_EQ(p.value(), 5);
  EXPECT_EQ(p.timestamp(), std::optional<int64_t>(1000));
  EXPECT_EQ(p.labels(), (Labels{{"__name__", "a_total"}, {"x", "1"}, {"y", "2"}}));
  e = p.Next();
  EXPECT_EQ(*e, E::kSample);
  EXPECT_EQ(p.series(), "b");
  EXPECT_FALSE(p.timestamp().has_value());
  e = p.Next();
  EXPECT_EQ(*e, E::kEnd);
  e = p.Next();
  EXPECT_EQ(*e, E::kEnd);
}

// Each line parsed with a hint (a well-formed series: right, a prefix of the
// real one, or wrong) reports what it reports without one.
TEST(ExpositionParserTest, ExpectedSeriesChangeNothingReported) {
  struct Case {
    std::string line, hint;
  };
  const std::vector<Case> cases = {
      {"a{x=\"1\"} 5 1000\n", "a{x=\"1\"}"},             // the hint holds: labels not parsed
      {"a {x=\"1\"} 5\n", "a"},                          // a bare name, then a label set after all
      {"a {x=\"1\"} 5\n", "a {x=\"1\"}"},                // 0.0.4's blank before the brace
      {"a\t7\n", "a"},                                   // a bare name, tab-separated
      {"ab 7\n", "a"},                                   // a prefix of the name
      {"a{x=\"1 2\"} 5\n", "a"},                         // a bare name, then a brace
      {"a{x=\"1\",x=\"2\"} 5\n", "a{x=\"1\"}"},          // the real series is bad
      {"a{x=\"1\"}x 5\n", "a{x=\"1\"}"},                 // no blank after the hint
      {"a 5 # {t=\"1\"} 1\n", "a"},                      // not an exemplar in 0.0.4
      {"b{y=\"\\\"q\\\"\"} 1\n", "b{y=\"\\\"q\\\"\"}"},  // escapes
      {"{\"q.r\"} 1\n", "{\"q.r\"}"},                    // quoted names are always parsed
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line + " with hint " + c.hint);
    ExpositionParser plain(c.line, ExpositionFormat::kText);
    ExpositionParser hinted(c.line, ExpositionFormat::kText);
    hinted.ExpectSeries(c.hint);
    auto a = plain.Next();
    auto b = hinted.Next();
    ASSERT_EQ(a.ok(), b.ok());
    if (!a.ok()) {
      EXPECT_EQ(a.status().message(), b.status().message());
      continue;
    }
    EXPECT_EQ(plain.series(), hinted.series());
    EXPECT_EQ(plain.labels(), hinted.labels());
    EXPECT_EQ(plain.metric_name(), hinted.metric_name());
    EXPECT_EQ(plain.value(), hinted.value());
    EXPECT_EQ(plain.timestamp(), hinted.timestamp());
  }
  // OpenMetrics: no blank before a brace, and _created samples still skipped.
  std::string om = "# TYPE c counter\nc_total 1\nc_created 1.5e9\nc_total {x=\"1\"} 2\n# EOF\n";
  for (std::string_view hint : {"", "c_total", "c_created"}) {
    ParseOptions o;
    o.skip_created_series = true;
    ExpositionParser p(om, ExpositionFormat::kOpenMetrics, o);
    p.ExpectSeries(hint);
    std::vector<std::string> got;
    for (;;) {
      auto e = p.Next();
      if (!e.ok()) {
        got.push_back(e.status().message());
        break;
      }
      if (*e == ExpositionParser::Entry::kEnd) break;
      if (*e == ExpositionParser::Entry::kSample) got.push_back(p.labels().String());
    }
    EXPECT_EQ(got, (std::vector<std::string>{"{__name__=\"c_total\"}",
                                             "line 4: invalid value \"{x=\"1\"}\""}))
        << "hint " << hint;
  }
}

TEST(ExpositionParserTest, ErrorsAreSticky) {
  ExpositionParser p("a 1\nb x\nc 3\n", ExpositionFormat::kText);
  EXPECT_TRUE(p.Next().ok());
  auto e = p.Next();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "line 2: invalid value \"x\"");
  e = p.Next();
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "line 2: invalid value \"x\"");
}

// ---------------------------------------------------------------- OpenMetrics

TEST(OpenMetricsTest, EveryMetricType) {
  constexpr std::string_view body = R"(# TYPE acme_http_router_request_seconds summary
# UNIT acme_http_router_request_seconds seconds
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0
acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
# TYPE go_goroutines gauge
# HELP go_goroutines Number of goroutines that currently exist.
go_goroutines 69
# TYPE process_cpu_seconds counter
# UNIT process_cpu_seconds seconds
# HELP process_cpu_seconds Total user and system CPU time spent in seconds.
process_cpu_seconds_total 4.20072246e+06
process_cpu_seconds_created 1.6e9
# TYPE request_size_bytes histogram
# UNIT request_size_bytes bytes
request_size_bytes_bucket{le="1"} 0
request_size_bytes_bucket{le="+Inf"} 3 # {trace_id="KOO5S4vxi0o"} 0.67
request_size_bytes_sum 6
request_size_bytes_count 3
request_size_bytes_created 1520430000.123
# TYPE queue_bytes gaugehistogram
queue_bytes_bucket{le="1024"} 1
queue_bytes_bucket{le="+Inf"} 2
queue_bytes_gcount 2
queue_bytes_gsum 2048
# TYPE build info
build_info{version="1.2.3",revision="abc"} 1
# TYPE feature stateset
feature{feature="a"} 1
feature{feature="b"} 0
# TYPE thing unknown
thing 1.5
# EOF
)";
  ParsedScrape p = MustParse(body, kOM);
  EXPECT_EQ(p.format, ExpositionFormat::kOpenMetrics);
  ASSERT_EQ(p.families.size(), 8u);
  const MetricFamily* f = Family(p, "acme_http_router_request_seconds");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->type, MetricType::kSummary);
  EXPECT_EQ(f->unit, "seconds");
  EXPECT_EQ(f->help, "Latency though all of ACME's HTTP request router.");
  EXPECT_EQ(Family(p, "go_goroutines")->type, MetricType::kGauge);
  EXPECT_EQ(Family(p, "process_cpu_seconds")->type, MetricType::kCounter);
  EXPECT_EQ(Family(p, "request_size_bytes")->type, MetricType::kHistogram);
  EXPECT_EQ(Family(p, "request_size_bytes")->unit, "bytes");
  EXPECT_EQ(Family(p, "queue_bytes")->type, MetricType::kGaugeHistogram);
  EXPECT_EQ(Family(p, "build")->type, MetricType::kInfo);
  EXPECT_EQ(Family(p, "feature")->type, MetricType::kStateset);
  EXPECT_EQ(Family(p, "thing")->type, MetricType::kUnknown);

  ASSERT_EQ(p.samples.size(), 19u);
  auto fam = [&](size_t i) {
    return p.samples[i].family < 0 ? std::string("-") : p.families[p.samples[i].family].name;
  };
  EXPECT_EQ(fam(2), "acme_http_router_request_seconds");  // _created
  EXPECT_EQ(p.samples[2].value, 1605281325.0);
  EXPECT_EQ(p.samples[4].labels.Name(), "process_cpu_seconds_total");
  EXPECT_EQ(fam(4), "process_cpu_seconds");
  EXPECT_EQ(p.samples[5].labels.Name(), "process_cpu_seconds_created");
  EXPECT_EQ(fam(5), "process_cpu_seconds");
  const ScrapedSample& b = p.samples[7];
  EXPECT_EQ(b.labels.Get("le"), "+Inf");
  ASSERT_TRUE(b.exemplar.has_value());
  EXPECT_EQ(b.exemplar->labels, (Labels{{"trace_id", "KOO5S4vxi0o"}}));
  EXPECT_EQ(b.exemplar->value, 0.67);
  EXPECT_FALSE(b.exemplar->timestamp_ms.has_value());
  EXPECT_FALSE(p.samples[6].exemplar.has_value());
  EXPECT_EQ(fam(11), "queue_bytes");
  EXPECT_EQ(p.samples[13].labels.Name(), "queue_bytes_gcount");
  EXPECT_EQ(fam(13), "queue_bytes");
  EXPECT_EQ(fam(14), "queue_bytes");
  EXPECT_EQ(p.samples[15].labels.Name(), "build_info");
  EXPECT_EQ(fam(15), "build");
  EXPECT_EQ(fam(17), "feature");
  EXPECT_EQ(fam(18), "thing");
}

TEST(OpenMetricsTest, CreatedSeriesCanBeSkipped) {
  constexpr std::string_view body =
      "# TYPE a counter\na_total 1\na_created 1600000000\n"
      "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\nh_created 1600000000\n"
      "# TYPE s summary\ns_count 1\ns_created 1600000000\n"
      "# TYPE g gauge\ng_created 5\n"
      "# EOF\n";
  EXPECT_EQ(MustParse(body, kOM).samples.size(), 9u);
  ParsedScrape p = MustParse(body, kOM, {.skip_created_series = true});
  ASSERT_EQ(p.samples.size(), 6u);
  for (const auto& s : p.samples) {
    if (s.labels.Name() == "g_created") continue;
    EXPECT_FALSE(s.labels.Name().ends_with("_created"));
  }
  // A gauge has no _created series: g_created is an ordinary sample.
  EXPECT_EQ(p.samples.back().labels.Name(), "g_created");
}

TEST(OpenMetricsTest, TimestampsAreSecondsAndExemplarsCarryTheirOwn) {
  ParsedScrape p = MustParse(
      "# TYPE foo counter\n"
      "foo_total 17.0 1520879607.789 # {id=\"counter-test\"} 5 1520879607.123\n"
      "foo_total 18 1520879608\n"
      "foo_total 19 # {} 1\n"
      "foo_total{a=\"1\"} 20 -1.5\n"
      "# EOF",
      kOM);
  ASSERT_EQ(p.samples.size(), 4u);
  EXPECT_EQ(*p.samples[0].timestamp_ms, 1520879607789);
  ASSERT_TRUE(p.samples[0].exemplar.has_value());
  EXPECT_EQ(p.samples[0].exemplar->labels, (Labels{{"id", "counter-test"}}));
  EXPECT_EQ(p.samples[0].exemplar->value, 5);
  EXPECT_EQ(*p.samples[0].exemplar->timestamp_ms, 1520879607123);
  EXPECT_EQ(*p.samples[1].timestamp_ms, 1520879608000);
  EXPECT_FALSE(p.samples[2].timestamp_ms.has_value());
  ASSERT_TRUE(p.samples[2].exemplar.has_value());
  EXPECT_TRUE(p.samples[2].exemplar->labels.empty());
  EXPECT_EQ(*p.samples[3].timestamp_ms, -1500);
}

TEST(OpenMetricsTest, EscapesAndQuotedNames) {
  ParsedScrape p = MustParse(
      "# HELP \"my.metric\" He said \\\"hi\\\"\\nand left \\\\\n"
      "# TYPE \"my.metric\" gauge\n"
      "{\"my.metric\",a=\"x\\\\y\\\"z\\n\"} 1\n"
      "# EOF\n",
      kOM);
  ASSERT_EQ(p.families.size(), 1u);
  EXPECT_EQ(p.families[0].help, "He said \"hi\"\nand left \\");
  ASSERT_EQ(p.samples.size(), 1u);
  EXPECT_EQ(p.samples[0].labels, (Labels{{"__name__", "my.metric"}, {"a", "x\\y\"z\n"}}));
  EXPECT_EQ(p.samples[0].family, 0);
}

TEST(OpenMetricsTest, ErrorsNameTheLine) {
  struct Case {
    std::string body, want;
  };
  std::string long_value(130, 'x');
  std::vector<Case> cases = {
      {"a 1\n", "line 1: data does not end with # EOF"},
      {"", "line 1: data does not end with # EOF"},
      {"a 1\n# EOF\nb 2\n", "line 3: unexpected data after # EOF"},
      {"a 1\n# EOF\n\n", "line 3: unexpected data after # EOF"},
      {"a 1\n\nb 2\n# EOF\n", "line 2: unexpected empty line"},
      {"# just a comment\n# EOF\n",
       "line 1: expected HELP, TYPE, UNIT or EOF after \"# \", got \"just\""},
      {"#TYPE a gauge\n# EOF\n", "line 1: expected a space after \"#\", got \"TYPE\""},
      {"# TYPE a untyped\n# EOF\n", "line 1: invalid metric type \"untyped\""},
      {"# TYPE a_seconds gauge\n# UNIT a_seconds bytes\n# EOF\n",
       "line 2: unit \"bytes\" is not a suffix of metric \"a_seconds\""},
      {"a 1 NaN\n# EOF\n", "line 1: invalid timestamp \"NaN\""},
      {"a 1 # {b=\"c\"}\n# EOF\n", "line 1: expected exemplar value after labels, got end of line"},
      {"a 1 # b 1\n# EOF\n", "line 1: expected a label set for the exemplar, got \"b\""},
      {"a 1 #{b=\"c\"} 1\n# EOF\n", "line 1: expected a space after \"#\", got \"{b=\"c\"}\""},
      {"a 1 # {b=\"c\"} 1 2 3\n# EOF\n", "line 1: expected end of line after exemplar, got \"3\""},
      {"a 1 # {b=\"" + long_value + "\"} 1\n# EOF\n",
       "line 1: exemplar labels have 131 characters, more than the limit of 128"},
      {"a\t1\n# EOF\n", "line 1: expected value after metric, got \"\t1\""},
      {"ok 1\nbad{x=\"1\" 1\n# EOF\n",
       "line 2: expected comma or closing brace in label set, got \"1\""},
  };
  for (const auto& c : cases) EXPECT_EQ(ParseError(c.body, kOM), c.want) << c.body;
  // Text format: "# EOF" is just a comment, and not required.
  EXPECT_EQ(MustParse("a 1\n# EOF\nb 2\n", kText).samples.size(), 2u);
}

// ---------------------------------------------------------------- relabel

RelabelConfig Cfg(std::string_view yaml) {
  auto r = ParseRelabelConfig(YAML::Load(std::string(yaml)));
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : RelabelConfig();
}

std::optional<Labels> Apply(const Labels& ls, std::vector<RelabelConfig> cfgs) {
  auto r = Relabel(ls, cfgs);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : std::nullopt;
}

const Labels kTarget{{"__address__", "10.0.0.1:9090"},
                     {"__meta_kubernetes_namespace", "prod"},
                     {"__meta_kubernetes_pod_name", "api-7d9f"},
                     {"__meta_kubernetes_pod_label_app", "api"},
                     {"__meta_kubernetes_pod_label_tier", "backend"},
                     {"job", "kubernetes-pods"}};

TEST(RelabelTest, ReplaceDefaults) {
  RelabelConfig c = Cfg("{source_labels: [__meta_kubernetes_namespace], target_label: namespace}");
  EXPECT_EQ(c.action, RelabelAction::kReplace);
  EXPECT_EQ(c.separator, ";");
  EXPECT_EQ(c.regex, "(.*)");
  EXPECT_EQ(c.replacement, "$1");
  auto out = Apply(kTarget, {c});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->Get("namespace"), "prod");
  EXPECT_EQ(out->size(), kTarget.size() + 1);
}

TEST(RelabelTest, ReplaceJoinsWithSeparatorAndExpandsGroups) {
  auto out = Apply(kTarget, {Cfg(R"(
source_labels: [__meta_kubernetes_namespace, __meta_kubernetes_pod_name]
separator: /
regex: (?P<ns>[^/]+)/(.*)-([0-9a-f]+)
target_label: ${ns}_pod
replacement: "$2 in ${ns} ($$ ${3}) [$3x]"
)")});
  ASSERT_TRUE(out.has_value());
  // $3x names a group "3x", which does not exist, so it expands to nothing.
  EXPECT_EQ(out->Get("prod_pod"), "api in prod ($ 7d9f) []");
}

TEST(RelabelTest, ReplaceEdgeCases) {
  // Regex is anchored: a substring match is no match, so nothing changes.
  auto out = Apply(kTarget, {Cfg("{source_labels: [job], regex: pods, target_label: x}")});
  EXPECT_EQ(*out, kTarget);
  // An empty result deletes the target label.
  out = Apply(kTarget, {Cfg("{source_labels: [missing], target_label: job}")});
  EXPECT_FALSE(out->Has("job"));
  // Missing source labels join as empty strings.
  out = Apply(kTarget, {Cfg("{source_labels: [missing, job], target_label: j}")});
  EXPECT_EQ(out->Get("j"), ";kubernetes-pods");
  // No source labels: the value is "", which (.*) matches; a literal
  // replacement sets a constant label.
  out = Apply(kTarget, {Cfg("{target_label: env, replacement: staging}")});
  EXPECT_EQ(out->Get("env"), "staging");
  // A target that expands to an empty name is skipped.
  out =
      Apply(kTarget,
            {Cfg("{source_labels: [job], regex: 'x(.*)|(.*)', target_label: $1, replacement: v}")});
  EXPECT_EQ(*out, kTarget);
  // "." matches newlines.
  out = Apply(Labels{{"a", "x\ny"}},
              {Cfg("{source_labels: [a], regex: x.y, target_label: b, replacement: ok}")});
  EXPECT_EQ(out->Get("b"), "ok");
  // A "$" that starts no reference stays.
  out = Apply(kTarget, {Cfg("{target_label: p, replacement: 'cost $ ${ $-'}")});
  EXPECT_EQ(out->Get("p"), "cost $ ${ $-");
  // Overwriting __address__ the classic way.
  out = Apply(
      kTarget,
      {Cfg(
          R"({source_labels: [__address__], regex: '([^:]+)(?::\d+)?', target_label: __address__, replacement: '$1:8080'})")});
  EXPECT_EQ(out->Get("__address__"), "10.0.0.1:8080");
}

TEST(RelabelTest, KeepAndDrop) {
  auto keep =
      Cfg("{source_labels: [__meta_kubernetes_pod_label_app], regex: api|web, action: keep}");
  auto drop = Cfg("{source_labels: [__meta_kubernetes_namespace], regex: kube-.*, action: drop}");
  EXPECT_TRUE(Apply(kTarget, {keep, drop}).has_value());
  EXPECT_FALSE(Apply(kTarget.With("__meta_kubernetes_pod_label_app", "db"), {keep}).has_value());
  EXPECT_FALSE(
      Apply(kTarget.With("__meta_kubernetes_namespace", "kube-system"), {keep, drop}).has_value());
  // keep with the default regex keeps everything, even a missing label.
  EXPECT_TRUE(Apply(kTarget, {Cfg("{source_labels: [nope], action: keep}")}).has_value());
  // Later steps do not run after a drop.
  EXPECT_FALSE(Apply(kTarget, {Cfg("{source_labels: [job], regex: kubernetes-pods, action: drop}"),
                               Cfg("{target_label: x, replacement: y}")})
                   .has_value());
}

TEST(RelabelTest, KeepEqualAndDropEqual) {
  Labels ls{{"__meta_port", "8080"}, {"__meta_annotation_port", "8080"}, {"other", "1"}};
  auto keepeq = Cfg(
      "{source_labels: [__meta_port], target_label: __meta_annotation_port, action: keepequal}");
  auto dropeq = Cfg(
      "{source_labels: [__meta_port], target_label: __meta_annotation_port, action: dropequal}");
  EXPECT_TRUE(Apply(ls, {keepeq}).has_value());
  EXPECT_FALSE(Apply(ls, {dropeq}).has_value());
  Labels diff = ls.With("__meta_annotation_port", "9090");
  EXPECT_FALSE(Apply(diff, {keepeq}).has_value());
  EXPECT_TRUE(Apply(diff, {dropeq}).has_value());
}

TEST(RelabelTest, HashMod) {
  // md5 of the value; its lower 8 bytes as a big-endian integer, mod modulus.
  auto out = Apply(kTarget, {Cfg("{source_labels: [__address__], modulus: 8, target_label: "
                                 "__tmp_hash, action: hashmod}")});
  EXPECT_EQ(out->Get("__tmp_hash"), "1");
  out = Apply(Labels{{"a", "foo"}, {"b", "bar"}},
              {Cfg("{source_labels: [a, b], modulus: 1000, target_label: h, action: hashmod}")});
  EXPECT_EQ(out->Get("h"), "750");
  out = Apply(Labels{{"a", "x"}},
              {Cfg("{source_labels: [none], modulus: 7, target_label: h, action: hashmod}")});
  EXPECT_EQ(out->Get("h"), "1");
  // The sharding idiom: hash, then keep this shard.
  EXPECT_TRUE(Apply(kTarget, {Cfg("{source_labels: [__address__], modulus: 8, target_label: "
                                  "__tmp_hash, action: hashmod}"),
                              Cfg("{source_labels: [__tmp_hash], regex: '1', action: keep}")})
                  .has_value());
}

TEST(RelabelTest, LabelMap) {
  auto out = Apply(kTarget, {Cfg("{regex: __meta_kubernetes_pod_label_(.+), action: labelmap}")});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->Get("app"), "api");
  EXPECT_EQ(out->Get("tier"), "backend");
  // labelmap copies; the originals stay.
  EXPECT_EQ(out->Get("__meta_kubernetes_pod_label_app"), "api");
  out = Apply(kTarget, {Cfg("{regex: __meta_kubernetes_(pod)_label_(.+), replacement: "
                            "'k8s_${1}_$2', action: labelmap}")});
  EXPECT_EQ(out->Get("k8s_pod_app"), "api");
}

TEST(RelabelTest, LabelDropAndLabelKeep) {
  auto out = Apply(kTarget, {Cfg("{regex: __meta_.*, action: labeldrop}")});
  EXPECT_EQ(*out, (Labels{{"__address__", "10.0.0.1:9090"}, {"job", "kubernetes-pods"}}));
  out = Apply(kTarget, {Cfg("{regex: '__address__|job', action: labelkeep}")});
  EXPECT_EQ(*out, (Labels{{"__address__", "10.0.0.1:9090"}, {"job", "kubernetes-pods"}}));
  // Anchored: "job" does not match "jo".
  out = Apply(kTarget, {Cfg("{regex: jo, action: labeldrop}")});
  EXPECT_TRUE(out->Has("job"));
}

TEST(RelabelTest, LowercaseAndUppercase) {
  Labels ls{{"a", "MiXeD-Ärger Ωμέγα Привет"}};
  auto out = Apply(ls, {Cfg("{source_labels: [a], target_label: lower, action: lowercase}"),
                        Cfg("{source_labels: [a], target_label: upper, action: uppercase}")});
  EXPECT_EQ(out->Get("lower"), "mixed-ärger ωμέγα привет");
  EXPECT_EQ(out->Get("upper"), "MIXED-ÄRGER ΩΜΈΓΑ ПРИВЕТ");
}

TEST(RelabelTest, MetricRelabelingOnSamples) {
  // metric_relabel_configs see __name__ like any label.
  std::vector<RelabelConfig> cfgs = {
      Cfg("{source_labels: [__name__], regex: 'go_.*', action: drop}"),
      Cfg("{source_labels: [__name__], regex: '(.*)_seconds_total', target_label: __name__, "
          "replacement: '${1}_s_total'}"),
  };
  EXPECT_FALSE(Apply(Labels{{"__name__", "go_goroutines"}}, cfgs).has_value());
  auto out = Apply(Labels{{"__name__", "cpu_seconds_total"}, {"mode", "idle"}}, cfgs);
  EXPECT_EQ(*out, (Labels{{"__name__", "cpu_s_total"}, {"mode", "idle"}}));
}

TEST(RelabelTest, KubernetesSpellingFromJson) {
  Json j = Json::parse(R"J([
    {"sourceLabels": ["__meta_kubernetes_pod_label_app"], "regex": "api", "action": "Keep"},
    {"sourceLabels": ["__address__"], "modulus": 8, "targetLabel": "__tmp_hash", "action": "HashMod"},
    {"regex": "__meta_kubernetes_pod_label_(.+)", "action": "LabelMap"},
    {"regex": "__meta_.*", "action": "LabelDrop"},
    {"sourceLabels": ["app"], "targetLabel": "APP", "action": "UpperCase"},
    {"targetLabel": "cluster", "replacement": "east", "separator": null}
  ])J");
  auto cfgs = ParseRelabelConfigs(j);
  ASSERT_TRUE(cfgs.ok()) << cfgs.status().message();
  ASSERT_EQ(cfgs->size(), 6u);
  EXPECT_EQ((*cfgs)[1].action, RelabelAction::kHashMod);
  EXPECT_EQ((*cfgs)[1].modulus, 8u);
  auto out = Apply(kTarget, *cfgs);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out, (Labels{{"APP", "API"},
                          {"__address__", "10.0.0.1:9090"},
                          {"__tmp_hash", "1"},
                          {"app", "api"},
                          {"cluster", "east"},
                          {"job", "kubernetes-pods"},
                          {"tier", "backend"}}));
}

TEST(RelabelTest, YamlListAndModulusAsText) {
  YAML::Node n = YAML::Load(R"(
- source_labels: [__address__]
  modulus: "8"
  target_label: __tmp_hash
  action: hashmod
- source_labels: [__tmp_hash]
  regex: 1
  action: keep
- replacement:
  target_label: fixed
)");
  auto cfgs = ParseRelabelConfigs(n);
  ASSERT_TRUE(cfgs.ok()) << cfgs.status().message();
  EXPECT_EQ((*cfgs)[0].modulus, 8u);
  EXPECT_EQ((*cfgs)[1].regex, "1");
  EXPECT_EQ((*cfgs)[2].replacement, "$1");  // null reads as absent
  EXPECT_TRUE(Apply(kTarget, *cfgs).has_value());
  EXPECT_TRUE(ParseRelabelConfigs(YAML::Node()).ok());
  EXPECT_TRUE(ParseRelabelConfigs(Json()).ok());
}

TEST(RelabelTest, ValidationErrors) {
  struct Case {
    std::string yaml, want;
  };
  std::vector<Case> cases = {
      {"{source_labels: [a]}",
       "relabel config: relabel configuration for replace action requires 'target_label' value"},
      {"{source_labels: [a], action: hashmod, target_label: h}",
       "relabel config: relabel configuration for hashmod requires non-zero modulus"},
      {"{source_labels: [a], action: hashmod, modulus: 2}",
       "relabel config: relabel configuration for hashmod action requires 'target_label' value"},
      {"{source_labels: [a], action: lowercase}",
       "relabel config: relabel configuration for lowercase action requires 'target_label' value"},
      {"{source_labels: [a], action: uppercase, target_label: ''}",
       "relabel config: relabel configuration for uppercase action requires 'target_label' value"},
      {"{source_labels: [a], target_label: b, regex: x, action: keepequal}",
       "relabel config: keepequal action requires only 'source_labels' and 'target_label', and no "
       "other fields"},
      {"{source_labels: [a], target_label: b, action: dropequal, replacement: y}",
       "relabel config: dropequal action requires only 'source_labels' and 'target_label', and no "
       "other fields"},
      {"{source_labels: [a], action: dropequal}",
       "relabel config: relabel configuration for dropequal action requires 'target_label' value"},
      {"{source_labels: [a], regex: x, action: labeldrop}",
       "relabel config: labeldrop action requires only 'regex', and no other fields"},
      {"{target_label: a, action: labelkeep}",
       "relabel config: labelkeep action requires only 'regex', and no other fields"},
      {"{regex: '(', target_label: a}", "relabel config: invalid regex \"(\": missing ): ("},
      {"{action: frobnicate}", "relabel config: unknown relabel action \"frobnicate\""},
      {"{source_label: [a], target_label: b}", "relabel config: unknown field \"source_label\""},
      {"{source_labels: a, target_label: b}",
       "relabel config: source_labels must be a list of strings"},
      {"{source_labels: [''], target_label: b}",
       "relabel config: \"\" is not a valid source label name"},
      {"{source_labels: [a], sourceLabels: [b], target_label: c}",
       "relabel config: both source_labels and sourceLabels are set"},
      {"{modulus: -1, action: hashmod, target_label: h}",
       "relabel config: modulus must be a non-negative integer, got \"-1\""},
      {"[1, 2]", "relabel config: must be a mapping"},
  };
  for (const auto& c : cases) {
    auto r = ParseRelabelConfig(YAML::Load(c.yaml));
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.status().code(), Code::kInvalid);
    EXPECT_EQ(r.status().message(), c.want) << c.yaml;
  }
  auto list = ParseRelabelConfigs(YAML::Load("[{target_label: a}, {action: keep, regex: '['}]"));
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().message().rfind("relabel config 1: invalid regex", 0), 0u)
      << list.status().message();
  EXPECT_FALSE(ParseRelabelConfig(Json::parse(R"({"regex": 5})")).ok());
}

TEST(RelabelTest, UncompiledConfigsWorkAndInvalidOnesFail) {
  RelabelConfig c;
  c.source_labels = {"job"};
  c.regex = "kubernetes-(.*)";
  c.target_label = "kind";
  auto r = Relabel(kTarget, {c});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->Get("kind"), "pods");
  RelabelConfig bad;
  bad.action = RelabelAction::kHashMod;
  bad.target_label = "h";
  r = Relabel(kTarget, {c, bad});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "relabel config 1: relabel configuration for hashmod requires non-zero modulus");
}

TEST(RelabelTest, NoConfigsIsIdentity) {
  auto out = Apply(kTarget, {});
  EXPECT_EQ(*out, kTarget);
}

// ---------------------------------------------------------------- benchmark

// Run with --gtest_also_run_disabled_tests; prints throughput.
TEST(ExpositionBenchmark, DISABLED_ThousandSeriesThousandTimes) {
  std::string body;
  body += "# HELP bench_requests_total Requests.\n# TYPE bench_requests_total counter\n";
  for (int i = 0; i < 1000; ++i) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "bench_requests_total{method=\"%s\",code=\"%d\",handler=\"/api/v1/item/%d\","
                  "instance=\"10.0.%d.%d:9090\"} %d.%d\n",
                  i % 2 ? "GET" : "POST", 200 + i % 5, i, i / 256, i % 256, i * 7, i % 10);
    body += line;
  }
  const int kIters = 1000;
  auto time = [&](auto fn) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kIters; ++i) fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  double sink = 0;
  double streaming = time([&] {
    ExpositionParser p(body, ExpositionFormat::kText);
    for (;;) {
      auto e = p.Next();
      if (!e.ok() || *e == ExpositionParser::Entry::kEnd) break;
      if (*e == ExpositionParser::Entry::kSample) sink += p.value() + p.series().size();
    }
  });
  std::vector<std::string> hints;
  {
    ExpositionParser p(body, ExpositionFormat::kText);
    while (*p.Next() == ExpositionParser::Entry::kSample || hints.empty())
      if (!p.series().empty()) hints.emplace_back(p.series());
  }
  double hinted = time([&] {
    ExpositionParser p(body, ExpositionFormat::kText);
    for (size_t k = 0;;) {
      p.ExpectSeries(k < hints.size() ? std::string_view(hints[k]) : "");
      auto e = p.Next();
      if (!e.ok() || *e == ExpositionParser::Entry::kEnd) break;
      if (*e == ExpositionParser::Entry::kSample) {
        sink += p.value() + p.series().size();
        ++k;
      }
    }
  });
  double full = time([&] {
    auto r = ParseExposition(body, kText);
    sink += r->samples.size();
  });
  std::string om = body + "# EOF\n";
  double full_om = time([&] {
    auto r = ParseExposition(om, kOM);
    sink += r->samples.size();
  });
  auto report = [&](const char* what, double secs) {
    double mb = static_cast<double>(body.size()) * kIters / 1e6;
    std::printf("%-38s %8.1f MB/s %12.0f samples/s  (%.3f s)\n", what, mb / secs,
                1000.0 * kIters / secs, secs);
  };
  std::printf("payload: %zu bytes, 1000 series, %d iterations\n", body.size(), kIters);
  report("streaming (no Labels built)", streaming);
  report("streaming, series expected", hinted);
  report("ParseExposition text (Labels built)", full);
  report("ParseExposition OpenMetrics", full_om);
  EXPECT_GT(sink, 0);
}

}  // namespace
}  // namespace berth::monitor::scrape
