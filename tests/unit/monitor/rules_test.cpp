#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>

#include "monitor/promql/engine.h"
#include "monitor/rules/manager.h"
#include "monitor/rules/rule_file.h"
#include "monitor/rules/template.h"
#include "monitor/storage.h"
#include "monitor/tsdb/head.h"

namespace berth::monitor::rules {
namespace {

// ---------------------------------------------------------------------------
// Rule files.

std::string ParseError(std::string_view text) {
  auto r = ParseRuleFile(text);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(RuleFile, ParsesYamlGroups) {
  auto r = ParseRuleFile(R"(
groups:
  - name: example
    interval: 30s
    limit: 10
    query_offset: 1m
    labels: {team: infra}
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
        labels:
          source: rules
      - alert: HighErrors
        expr: job:http_requests:rate5m > 10
        for: 10m
        keep_firing_for: 5m
        labels:
          severity: 1
        annotations:
          summary: "{{ $labels.job }} is failing"
)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  const RuleGroupDef& g = (*r)[0];
  EXPECT_EQ(g.name, "example");
  EXPECT_EQ(g.interval_ms, 30'000);
  EXPECT_EQ(g.limit, 10);
  EXPECT_EQ(g.query_offset_ms, 60'000);
  EXPECT_EQ(g.labels.at("team"), "infra");
  ASSERT_EQ(g.rules.size(), 2u);
  EXPECT_EQ(g.rules[0].record, "job:http_requests:rate5m");
  EXPECT_FALSE(g.rules[0].IsAlert());
  EXPECT_EQ(g.rules[0].labels.at("source"), "rules");
  EXPECT_EQ(g.rules[1].alert, "HighErrors");
  EXPECT_EQ(g.rules[1].for_ms, 600'000);
  EXPECT_EQ(g.rules[1].keep_firing_for_ms, 300'000);
  EXPECT_EQ(g.rules[1].labels.at("severity"), "1");  // scalars read as their text
  EXPECT_EQ(g.rules[1].annotations.at("summary"), "{{ $labels.job }} is failing");
}

TEST(RuleFile, ParsesPrometheusRuleSpecJson) {
  auto j = nlohmann::json::parse(R"({"groups":[{"name":"k8s","interval":"1m","limit":5,
    "rules":[{"alert":"Down","expr":"up == 0","for":"5m","labels":{"severity":"critical"},
              "annotations":{"description":"{{ $labels.instance }} down"}}]}]})");
  auto r = ParseRuleGroupsJson(j);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].interval_ms, 60'000);
  EXPECT_EQ((*r)[0].limit, 5);
  EXPECT_EQ((*r)[0].rules[0].for_ms, 300'000);
  EXPECT_EQ((*r)[0].query_offset_ms, -1);
}

TEST(RuleFile, ParsesFromYamlNode) {
  YAML::Node n = YAML::Load("groups: [{name: a, rules: [{record: x, expr: '1'}]}]");
  auto r = ParseRuleGroups(n);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)[0].rules[0].expr, "1");
  EXPECT_TRUE(ParseRuleFile("").ok());  // an empty file has no groups
}

TEST(RuleFile, ExpressionErrorsNameGroupAndRule) {
  std::string e = ParseError(R"(
groups:
- name: g
  rules:
  - record: ok
    expr: up
  - record: x
    expr: sum(
)");
  EXPECT_EQ(e.rfind("group \"g\", rule 2, \"x\": could not parse expression: ", 0), 0u) << e;
  EXPECT_NE(e.find("parse error"), std::string::npos) << e;
}

TEST(RuleFile, ValidationErrors) {
  struct Case {
    const char* yaml;
    const char* want;
  };
  const Case cases[] = {
      {"groups: [{name: g, rules: []}, {name: g, rules: []}]",
       "groupname: \"g\" is repeated in the same file"},
      {"groups: [{name: '', rules: []}]", "Groupname must not be empty"},
      {"groups: [{name: g, rules: [{record: a, alert: b, expr: up}]}]",
       "group \"g\", rule 1, \"b\": only one of 'record' and 'alert' must be set"},
      {"groups: [{name: g, rules: [{expr: up}]}]",
       "group \"g\", rule 1, \"\": one of 'record' or 'alert' must be set"},
      {"groups: [{name: g, rules: [{record: a}]}]",
       "group \"g\", rule 1, \"a\": field 'expr' must be set in rule"},
      {"groups: [{name: g, rules: [{record: 'a-b', expr: up}]}]",
       "group \"g\", rule 1, \"a-b\": invalid recording rule name: a-b"},
      {"groups: [{name: g, rules: [{record: a, expr: up, labels: {'0x': y}}]}]",
       "group \"g\", rule 1, \"a\": invalid label name: 0x"},
      {"groups: [{name: g, rules: [{record: a, expr: up, labels: {__name__: y}}]}]",
       "group \"g\", rule 1, \"a\": invalid label name: __name__"},
      {"groups: [{name: g, rules: [{record: a, expr: up, for: 5m}]}]",
       "group \"g\", rule 1, \"a\": invalid field 'for' in recording rule"},
      {"groups: [{name: g, rules: [{record: a, expr: up, keep_firing_for: 5m}]}]",
       "group \"g\", rule 1, \"a\": invalid field 'keep_firing_for' in recording rule"},
      {"groups: [{name: g, rules: [{record: a, expr: up, annotations: {x: y}}]}]",
       "group \"g\", rule 1, \"a\": invalid field 'annotations' in recording rule"},
      {"groups: [{name: g, rules: [{alert: A, expr: up, annotations: {'a b': y}}]}]",
       "group \"g\", rule 1, \"A\": invalid annotation name: a b"},
      {"groups: [{name: g, rules: [{alert: A, expr: up, for: 5x}]}]",
       "group \"g\", rule 1, \"A\": invalid field 'for': unknown unit \"x\" in duration \"5x\""},
      {"groups: [{name: g, interval: soon, rules: []}]",
       "group \"g\": invalid field 'interval': not a valid duration string: \"soon\""},
      {"groups: [{name: g, rules: [{alert: A, expr: up, annotations: {s: '{{ nope $value }}'}}]}]",
       "group \"g\", rule 1, \"A\": annotation \"s\": template: __alert_A:1: function \"nope\" "
       "not defined"},
      {"groups: [{name: g, rules: [{alert: A, expr: up, labels: {s: '{{ $value '}}]}]",
       "group \"g\", rule 1, \"A\": label \"s\": template: __alert_A:1: unclosed action"},
      {"groups: [{name: g, rules: [{alert: A, expr: up, severity: x}]}]",
       "group \"g\", rule 1, \"A\": field severity not found in type rulefmt.Rule"},
      {"groups: [{name: g, labels: {'bad-name': x}, rules: []}]",
       "group \"g\": invalid label name: bad-name"},
      {"rules: []", "field rules not found in type rulefmt.RuleGroups"},
  };
  for (const auto& c : cases) {
    std::string e = ParseError(c.yaml);
    EXPECT_NE(e.find(c.want), std::string::npos) << c.yaml << "\n got: " << e;
  }
}

TEST(RuleFile, ReportsEveryProblem) {
  auto r = ParseRuleFile(R"(
groups:
- name: g
  rules:
  - record: a
    expr: up
    for: 1m
  - alert: B
    expr: "up =="
)");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_EQ(r.status().causes().size(), 2u);
  EXPECT_NE(r.status().message().find("\n"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Templates.

std::string Expand(std::string_view text, const TemplateData& d = {},
                   const TemplateQueryFunc& q = {}) {
  auto t = Template::Parse(text, "__alert_Test");
  if (!t.ok()) return "PARSE: " + t.status().message();
  auto r = t->Execute(d, q);
  if (!r.ok()) return "EXEC: " + r.status().message();
  return *r;
}

TEST(Template, HumanizeFamily) {
  EXPECT_EQ(Humanize(1234567), "1.235M");
  EXPECT_EQ(Humanize(0), "0");
  EXPECT_EQ(Humanize(999), "999");
  EXPECT_EQ(Humanize(1000), "1k");
  EXPECT_EQ(Humanize(0.001234), "1.234m");
  EXPECT_EQ(Humanize(-1500), "-1.5k");
  EXPECT_EQ(Humanize(1e30), "1e+06Y");
  EXPECT_EQ(Humanize(std::nan("")), "NaN");
  EXPECT_EQ(Humanize(INFINITY), "+Inf");
  EXPECT_EQ(Humanize1024(1048576), "1Mi");
  EXPECT_EQ(Humanize1024(1), "1");
  EXPECT_EQ(Humanize1024(1536), "1.5ki");
  EXPECT_EQ(HumanizeDuration(3661), "1h 1m 1s");
  EXPECT_EQ(HumanizeDuration(899.99), "14m 59s");
  EXPECT_EQ(HumanizeDuration(90061), "1d 1h 1m 1s");
  EXPECT_EQ(HumanizeDuration(1.5), "1.5s");
  EXPECT_EQ(HumanizeDuration(0), "0s");
  EXPECT_EQ(HumanizeDuration(0.5), "500ms");
  EXPECT_EQ(HumanizeDuration(-65), "-1m 5s");
  EXPECT_EQ(HumanizePercentage(0.1234), "12.34%");
  EXPECT_EQ(HumanizePercentage(0.1234567), "12.35%");
  EXPECT_EQ(HumanizePercentage(1), "100%");
  EXPECT_EQ(HumanizeTimestamp(1435065584.128), "2015-06-23 13:19:44.128 +0000 UTC");
  EXPECT_EQ(HumanizeTimestamp(0), "1970-01-01 00:00:00 +0000 UTC");
}

TEST(Template, GoFloatFormats) {
  EXPECT_EQ(GoFormatV(0.5), "0.5");
  EXPECT_EQ(GoFormatV(100000), "100000");
  EXPECT_EQ(GoFormatV(1234567), "1.234567e+06");
  EXPECT_EQ(GoFormatV(1e-05), "1e-05");
  EXPECT_EQ(GoFormatV(0.0001), "0.0001");
  EXPECT_EQ(GoFormatV(5), "5");
  EXPECT_EQ(GoFormatEShortest(0.27), "2.7e-01");
  EXPECT_EQ(GoFormatEShortest(1), "1e+00");
  EXPECT_EQ(GoFormatEShortest(1234.5), "1.2345e+03");
}

TEST(Template, LabelsValueAndData) {
  TemplateData d;
  d.labels = Labels({{"__name__", "up"}, {"instance", "db-1:9100"}, {"job", "node"}});
  d.external_labels = Labels({{"cluster", "eu1"}});
  d.external_url = "http://prom.example:9090/prom";
  d.value = 0.5;
  EXPECT_EQ(Expand("{{ $labels.instance }} of {{ .Labels.job }} is {{ $value }}", d),
            "db-1:9100 of node is 0.5");
  EXPECT_EQ(Expand("{{ .Value }} {{ $externalLabels.cluster }} {{ .ExternalLabels.cluster }}", d),
            "0.5 eu1 eu1");
  EXPECT_EQ(Expand("{{ $externalURL }} {{ externalURL }} {{ pathPrefix }}", d),
            "http://prom.example:9090/prom http://prom.example:9090/prom /prom");
  EXPECT_EQ(Expand("[{{ $labels.missing }}]", d), "[<no value>]");
  EXPECT_EQ(Expand("no actions here", d), "no actions here");
  EXPECT_EQ(Expand("{{/* a comment */}}x", d), "x");
  EXPECT_EQ(Expand("{{ $labels.instance | stripPort }} {{ \"a.b.c:80\" | stripDomain }}", d),
            "db-1 a:80");
}

TEST(Template, PipelinesAndFunctions) {
  TemplateData d;
  d.labels = Labels({{"instance", "localhost:3000"}});
  d.value = 1234567;
  EXPECT_EQ(Expand("{{ $value | humanize }}", d), "1.235M");
  EXPECT_EQ(Expand("{{ humanize $value }}", d), "1.235M");
  EXPECT_EQ(Expand("{{ 1048576.0 | humanize1024 }}", d), "1Mi");
  EXPECT_EQ(Expand("{{ 3661 | humanizeDuration }}", d), "1h 1m 1s");
  EXPECT_EQ(Expand("{{ 0.1234 | humanizePercentage }}", d), "12.34%");
  EXPECT_EQ(Expand("{{ 1435065584.128 | humanizeTimestamp }}", d),
            "2015-06-23 13:19:44.128 +0000 UTC");
  EXPECT_EQ(Expand("{{ \"1234\" | humanize }}", d), "1.234k");
  EXPECT_EQ(Expand("{{ printf \"%.2f\" $value }}", d), "1234567.00");
  EXPECT_EQ(Expand("{{ printf \"%s=%d (%5.1f%%)\" \"x\" 3 2.25 }}", d), "x=3 (  2.2%)");
  EXPECT_EQ(Expand("{{ printf \"%s\" $value }}", d), "%!s(float64=1.234567e+06)");
  EXPECT_EQ(Expand("{{ printf \"%v\" $value }}", d), "1.234567e+06");
  EXPECT_EQ(Expand("{{ \"aa bb CC\" | title }}", d), "Aa Bb CC");
  EXPECT_EQ(Expand("{{ \"aa bb CC\" | toUpper }} {{ \"aA bB\" | toLower }}", d), "AA BB CC aa bb");
  EXPECT_EQ(Expand("{{ reReplaceAll \"localhost:(.*)\" \"my.domain:$1\" $labels.instance }}", d),
            "my.domain:3000");
  EXPECT_EQ(Expand("{{ reReplaceAll \"a*\" \"-\" \"baaac\" }}", d), "-b-c-");
  EXPECT_EQ(Expand("{{ match \"a+\" \"xaay\" }}", d), "true");
  EXPECT_EQ(Expand("{{ $x := 5 }}{{ $x }}{{ $x = \"y\" }}{{ $x }}", d), "5y");
  EXPECT_EQ(Expand("{{ (printf \"%d\" 4) | printf \"<%s>\" }}", d), "<4>");
  EXPECT_EQ(Expand("{{ len \"abc\" }} {{ index $labels \"instance\" }}", d), "3 localhost:3000");
  EXPECT_EQ(Expand("{{ print 1 2 \"a\" \"b\" }}", d), "1 2ab");
  EXPECT_EQ(
      Expand("{{ humanize \"x\" }}", d).rfind("EXEC: template: __alert_Test:1:3: executing", 0),
      0u);
}

TEST(Template, ConditionalsAndTrimming) {
  TemplateData d;
  d.labels = Labels({{"severity", "page"}});
  d.value = 92.5;
  EXPECT_EQ(Expand("{{ if gt $value 90.0 }}high{{ else }}low{{ end }}", d), "high");
  EXPECT_EQ(Expand("{{ if lt $value 90 }}low{{ else if eq $labels.severity \"page\" }}page"
                   "{{ else }}other{{ end }}",
                   d),
            "page");
  EXPECT_EQ(Expand("{{ if ne $labels.severity \"page\" }}x{{ end }}", d), "");
  EXPECT_EQ(Expand("{{ if and (gt $value 1.0) (eq $labels.severity \"page\") }}y{{ end }}", d),
            "y");
  EXPECT_EQ(Expand("{{ if not (eq 1 2) }}n{{ end }}", d), "n");
  EXPECT_EQ(Expand("{{ with $labels.severity }}[{{ . }}]{{ end }}", d), "[page]");
  EXPECT_EQ(Expand("a  {{- \" b \" -}}  c", d), "a b c");
  EXPECT_EQ(Expand("line1\n  {{- if true }}\n  yes\n  {{- end }}\n", d), "line1\n  yes\n");
  EXPECT_EQ(Expand("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", d),
            "severity=page;");
}

TEST(Template, ParseErrors) {
  EXPECT_EQ(Expand("{{ nope }}"), "PARSE: template: __alert_Test:1: function \"nope\" not defined");
  EXPECT_EQ(Expand("a\n{{ $value"), "PARSE: template: __alert_Test:2: unclosed action");
  EXPECT_EQ(Expand("{{ if true }}x"), "PARSE: template: __alert_Test:1: unexpected EOF");
  EXPECT_EQ(Expand("{{ end }}"), "PARSE: template: __alert_Test:1: unexpected {{end}}");
  EXPECT_EQ(Expand("{{ $nope }}"), "PARSE: template: __alert_Test:1: undefined variable \"$nope\"");
  EXPECT_EQ(Expand("{{ \"x }}"), "PARSE: template: __alert_Test:1: unterminated quoted string");
}

TEST(Template, QueryFunctions) {
  TemplateQueryFunc q = [](const std::string& text) -> Result<std::vector<TemplateSample>> {
    if (text == "fail") return Invalid("boom");
    return std::vector<TemplateSample>{{Labels({{"instance", "b"}}), 2},
                                       {Labels({{"instance", "a"}}), 1}};
  };
  TemplateData d;
  EXPECT_EQ(Expand("{{ query \"up\" | first | value }}", d, q), "2");
  EXPECT_EQ(Expand("{{ with query \"up\" }}{{ . | first | label \"instance\" }}{{ end }}", d, q),
            "b");
  EXPECT_EQ(Expand("{{ range query \"up\" | sortByLabel \"instance\" }}{{ .Labels.instance }}="
                   "{{ .Value }} {{ end }}",
                   d, q),
            "a=1 b=2 ");
  EXPECT_EQ(Expand("{{ (query \"up\" | first).Labels.instance }}", d, q), "b");
  EXPECT_NE(Expand("{{ query \"fail\" }}", d, q).find("error calling query: boom"),
            std::string::npos);
}

// ---------------------------------------------------------------------------
// The rule manager over a real head and engine.

class FakeSink : public AlertSink {
 public:
  void Send(std::vector<Alert> alerts) override {
    std::lock_guard<std::mutex> l(mu);
    for (auto& a : alerts) sent.push_back(std::move(a));
    ++batches;
    cv.notify_all();
  }
  std::vector<Alert> Take() {
    std::lock_guard<std::mutex> l(mu);
    return std::exchange(sent, {});
  }
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Alert> sent;
  int batches = 0;
};

constexpr int64_t kT0 = 1'700'000'000'000;  // an arbitrary wall-clock time
constexpr int64_t kMin = 60'000;

class RulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tsdb::Options o;
    o.wal = false;
    o.housekeeping_interval_ms = 0;
    o.retention_ms = 0;
    auto h = tsdb::Head::Open(o);
    ASSERT_TRUE(h.ok()) << h.status().message();
    head = std::move(*h);
    RuleManagerOptions mo;
    mo.external_labels = Labels({{"cluster", "eu1"}});
    mo.external_url = "http://prom:9090";
    mo.clock = [this] { return now; };
    manager = std::make_unique<RuleManager>(head.get(), &engine, &sink, mo);
  }
  void TearDown() override {
    manager.reset();
    head.reset();
  }

  void Write(const Labels& ls, int64_t t, double v) {
    auto app = head->NewAppender();
    ASSERT_TRUE(app->Append(ls, t, v).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  void WriteHistogram(const Labels& ls, int64_t t, const FloatHistogram& h) {
    auto app = head->NewAppender();
    ASSERT_TRUE(app->AppendHistogram(ls, t, h).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  void Load(const std::string& source, std::string_view yaml) {
    auto g = ParseRuleFile(yaml);
    ASSERT_TRUE(g.ok()) << g.status().message();
    ASSERT_TRUE(manager->SetGroups(source, *g).ok());
  }
  void Eval(const std::string& group, int64_t t, const std::string& source = "rules.yml") {
    ASSERT_TRUE(manager->EvaluateGroupAt(source, group, t).ok());
  }
  // The raw samples of series named `name` (staleness markers included).
  std::vector<SeriesSamples> Series(const std::string& name) {
    auto m = Matcher::Make(Matcher::Op::kEq, "__name__", name);
    auto q = head->NewQuerier();
    auto r = q->Select(0, INT64_MAX, {*m});
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : std::vector<SeriesSamples>{};
  }
  promql::Vector Instant(const std::string& query, int64_t t) {
    auto q = head->NewQuerier();
    auto r = engine.Instant(*q, query, t);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->vector : promql::Vector{};
  }
  nlohmann::json Rule(size_t group, size_t rule) {
    return manager->RulesJson()["groups"][group]["rules"][rule];
  }

  int64_t now = kT0;
  std::unique_ptr<tsdb::Head> head;
  promql::Engine engine;
  FakeSink sink;
  std::unique_ptr<RuleManager> manager;
};

TEST_F(RulesTest, RecordingRulesWriteSeriesVisibleToLaterRules) {
  Write(Labels({{"__name__", "requests"}, {"job", "a"}}), kT0 - 1000, 1);
  Write(Labels({{"__name__", "requests"}, {"job", "b"}}), kT0 - 1000, 2);
  Load("rules.yml", R"(
groups:
- name: rec
  labels: {team: core}
  rules:
  - record: job:requests:sum
    expr: sum by (job) (requests)
    labels: {env: prod}
  - record: job:requests:double
    expr: job:requests:sum * 2
  - record: total
    expr: scalar(sum(requests))
)");
  Eval("rec", kT0);
  auto s = Series("job:requests:sum");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(
      s[0].labels,
      Labels({{"__name__", "job:requests:sum"}, {"env", "prod"}, {"job", "a"}, {"team", "core"}}));
  ASSERT_EQ(s[0].samples.size(), 1u);
  EXPECT_EQ(s[0].samples[0].t, kT0);
  EXPECT_EQ(s[0].samples[0].v, 1);
  // The second rule saw the first one's output within the same evaluation.
  auto d = Series("job:requests:double");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[1].samples.at(0).v, 4);
  EXPECT_EQ(d[1].samples.at(0).t, kT0);
  auto tot = Series("total");
  ASSERT_EQ(tot.size(), 1u);
  EXPECT_EQ(tot[0].labels, Labels({{"__name__", "total"}, {"team", "core"}}));
  EXPECT_EQ(tot[0].samples.at(0).v, 3);
  EXPECT_EQ(Rule(0, 0)["health"], "ok");
}

TEST_F(RulesTest, RecordingRuleStalenessWhenASeriesDisappears) {
  Write(Labels({{"__name__", "requests"}, {"job", "a"}}), kT0 - 1000, 1);
  Write(Labels({{"__name__", "requests"}, {"job", "b"}}), kT0 - 1000, 2);
  Load("rules.yml", R"(
groups:
- name: rec
  rules:
  - record: copy
    expr: requests
)");
  Eval("rec", kT0);
  // Job b goes away (its scrape marked it stale).
  Write(Labels({{"__name__", "requests"}, {"job", "b"}}), kT0 + 1000, StaleNaN());
  Write(Labels({{"__name__", "requests"}, {"job", "a"}}), kT0 + 1000, 5);
  Eval("rec", kT0 + kMin);
  auto s = Series("copy");
  ASSERT_EQ(s.size(), 2u);
  ASSERT_EQ(s[0].samples.size(), 2u);
  EXPECT_EQ(s[0].samples[1].v, 5);
  ASSERT_EQ(s[1].samples.size(), 2u);
  EXPECT_EQ(s[1].samples[1].t, kT0 + kMin);
  EXPECT_TRUE(IsStaleNaN(s[1].samples[1].v));
  EXPECT_EQ(Instant("copy", kT0 + kMin).size(), 1u);
}

// A native histogram (schema 0) with n observations in (1, 2] and 2n in (2, 4].
FloatHistogram Hist(double n) {
  FloatHistogram h;
  h.count = 3 * n;
  h.sum = 7 * n;
  h.positive_spans = {{1, 2}};
  h.positive_buckets = {n, 2 * n};
  return h;
}

TEST_F(RulesTest, RecordingRulesStoreHistogramResultsAsHistograms) {
  WriteHistogram(Labels({{"__name__", "h"}, {"job", "a"}}), kT0 - 1000, Hist(1));
  WriteHistogram(Labels({{"__name__", "h"}, {"job", "b"}}), kT0 - 1000, Hist(2));
  Load("rules.yml", R"(
groups:
- name: rec
  rules:
  - record: h:sum
    expr: sum(h)
  - record: h:copy
    expr: h
  - record: h:sum:count
    expr: histogram_count(h:sum)
)");
  Eval("rec", kT0);
  EXPECT_EQ(Rule(0, 0)["health"], "ok");
  auto sum = Series("h:sum");
  ASSERT_EQ(sum.size(), 1u);
  EXPECT_TRUE(sum[0].samples.empty());  // not the float 0
  ASSERT_EQ(sum[0].histograms.size(), 1u);
  EXPECT_EQ(sum[0].histograms[0].t, kT0);
  const FloatHistogram& h = *sum[0].histograms[0].h;
  EXPECT_EQ(h.count, 9);
  EXPECT_EQ(h.sum, 21);
  EXPECT_EQ(h.positive_buckets, (std::vector<double>{3, 6}));
  EXPECT_EQ(h.positive_spans, (std::vector<HistogramSpan>{{1, 2}}));
  // A later rule reads the stored histogram back.
  auto count = Series("h:sum:count");
  ASSERT_EQ(count.size(), 1u);
  ASSERT_EQ(count[0].samples.size(), 1u);
  EXPECT_EQ(count[0].samples[0].v, 9);
  auto copy = Series("h:copy");
  ASSERT_EQ(copy.size(), 2u);
  ASSERT_EQ(copy[1].histograms.size(), 1u);
  EXPECT_TRUE(HistogramEquals(*copy[1].histograms[0].h, Hist(2)));

  // Job b goes away: its copy gets a (float) staleness marker, as in Prometheus.
  Write(Labels({{"__name__", "h"}, {"job", "b"}}), kT0 + 1000, StaleNaN());
  WriteHistogram(Labels({{"__name__", "h"}, {"job", "a"}}), kT0 + 1000, Hist(4));
  Eval("rec", kT0 + kMin);
  copy = Series("h:copy");
  ASSERT_EQ(copy.size(), 2u);
  ASSERT_EQ(copy[0].histograms.size(), 2u);
  EXPECT_EQ(copy[0].histograms[1].h->count, 12);
  ASSERT_EQ(copy[1].samples.size(), 1u);
  EXPECT_EQ(copy[1].samples[0].t, kT0 + kMin);
  EXPECT_TRUE(IsStaleNaN(copy[1].samples[0].v));
  auto v = Instant("h:sum", kT0 + kMin);
  ASSERT_EQ(v.size(), 1u);
  ASSERT_TRUE(v[0].h);
  EXPECT_EQ(v[0].h->count, 12);
}

TEST_F(RulesTest, AlertOnHistogramFiresWithItsCountAsValue) {
  WriteHistogram(Labels({{"__name__", "h"}, {"job", "a"}}), kT0 - 1000, Hist(1));
  Load("rules.yml", R"(
groups:
- name: alerts
  rules:
  - alert: Observed
    expr: h
    annotations:
      summary: '{{ $labels.job }} saw {{ $value }} observations'
)");
  Eval("alerts", kT0);
  auto rule = Rule(0, 0);
  EXPECT_EQ(rule["health"], "ok");
  EXPECT_EQ(rule["state"], "firing");
  ASSERT_EQ(rule["alerts"].size(), 1u);
  EXPECT_EQ(rule["alerts"][0]["annotations"]["summary"], "a saw 3 observations");
  // The alert's value is the sample's float part, as Prometheus's Alert.Value.
  EXPECT_EQ(rule["alerts"][0]["value"], "0e+00");
  auto sent = sink.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].labels.Get("job"), "a");
  auto alerts = Instant("ALERTS", kT0);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].v, 1);
}

TEST_F(RulesTest, RecordingRuleErrorsAreRuleHealth) {
  Write(Labels({{"__name__", "requests"}, {"job", "a"}}), kT0 - 1000, 1);
  Write(Labels({{"__name__", "requests"}, {"job", "b"}}), kT0 - 1000, 2);
  Load("rules.yml", R"(
groups:
- name: bad
  rules:
  - record: same
    expr: requests
    labels: {job: x}
  - record: str
    expr: '"text"'
- name: limited
  limit: 1
  rules:
  - record: two
    expr: requests
)");
  Eval("bad", kT0);
  Eval("limited", kT0);
  EXPECT_EQ(Rule(0, 0)["health"], "err");
  EXPECT_EQ(Rule(0, 0)["lastError"],
            "vector contains metrics with the same labelset after applying rule labels");
  EXPECT_EQ(Rule(0, 1)["lastError"], "rule result is not a vector or scalar");
  EXPECT_EQ(Rule(1, 0)["lastError"], "exceeded limit of 1 with 2 series");
  EXPECT_TRUE(Series("same").empty());
  EXPECT_TRUE(Series("two").empty());
}

const char* kAlertRules = R"Y(
groups:
- name: alerts
  rules:
  - alert: HighErrors
    expr: errors > 1
    for: 2m
    labels:
      severity: page
      instance_upper: '{{ $labels.instance | toUpper }}'
    annotations:
      summary: '{{ $labels.instance }} has {{ $value }} errors'
      total: '{{ query "sum(errors)" | first | value | humanize }}'
)Y";

TEST_F(RulesTest, AlertGoesPendingFiringAndResolves) {
  Labels errs({{"__name__", "errors"}, {"instance", "i1"}});
  Write(errs, kT0 - 1000, 5);
  Load("rules.yml", kAlertRules);

  Eval("alerts", kT0);
  EXPECT_TRUE(sink.Take().empty());  // pending alerts are not sent
  auto rule = Rule(0, 0);
  EXPECT_EQ(rule["state"], "pending");
  ASSERT_EQ(rule["alerts"].size(), 1u);
  EXPECT_EQ(rule["alerts"][0]["state"], "pending");
  EXPECT_EQ(rule["alerts"][0]["annotations"]["summary"], "i1 has 5 errors");
  EXPECT_EQ(rule["alerts"][0]["annotations"]["total"], "5");
  EXPECT_EQ(rule["alerts"][0]["labels"]["instance_upper"], "I1");
  auto pending = Instant("ALERTS", kT0);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].metric, Labels({{"__name__", "ALERTS"},
                                       {"alertname", "HighErrors"},
                                       {"alertstate", "pending"},
                                       {"instance", "i1"},
                                       {"instance_upper", "I1"},
                                       {"severity", "page"}}));
  auto for_state = Instant("ALERTS_FOR_STATE", kT0);
  ASSERT_EQ(for_state.size(), 1u);
  EXPECT_EQ(for_state[0].v, static_cast<double>(kT0 / 1000));
  EXPECT_FALSE(for_state[0].metric.Has("alertstate"));

  Write(errs, kT0 + kMin - 1000, 7);
  Eval("alerts", kT0 + kMin);
  EXPECT_TRUE(sink.Take().empty());
  EXPECT_EQ(Rule(0, 0)["state"], "pending");
  // The annotation follows the latest value.
  EXPECT_EQ(Rule(0, 0)["alerts"][0]["annotations"]["summary"], "i1 has 7 errors");

  Eval("alerts", kT0 + 2 * kMin);
  auto sent = sink.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].labels, Labels({{"alertname", "HighErrors"},
                                    {"cluster", "eu1"},
                                    {"instance", "i1"},
                                    {"instance_upper", "I1"},
                                    {"severity", "page"}}));
  EXPECT_EQ(sent[0].annotations.Get("summary"), "i1 has 7 errors");
  EXPECT_EQ(sent[0].starts_at_ms, kT0 + 2 * kMin);
  EXPECT_EQ(sent[0].ends_at_ms, kT0 + 2 * kMin + 4 * kMin);  // valid for 4 resend periods
  EXPECT_EQ(sent[0].generator_url, "http://prom:9090/graph?g0.expr=errors+%3E+1&g0.tab=1");
  EXPECT_EQ(Rule(0, 0)["state"], "firing");
  auto firing = Instant("ALERTS", kT0 + 2 * kMin);
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].metric.Get("alertstate"), "firing");
  // The pending series ended with a staleness marker.
  auto alerts_series = Series("ALERTS");
  ASSERT_EQ(alerts_series.size(), 2u);
  EXPECT_EQ(alerts_series[1].labels.Get("alertstate"), "pending");
  EXPECT_TRUE(IsStaleNaN(alerts_series[1].samples.back().v));

  // Within the resend delay nothing is re-sent; after it, the alert is.
  Eval("alerts", kT0 + 2 * kMin + 30'000);
  EXPECT_TRUE(sink.Take().empty());
  Eval("alerts", kT0 + 3 * kMin + 1);
  EXPECT_EQ(sink.Take().size(), 1u);

  // The condition clears: the alert resolves and is sent with its end.
  Write(errs, kT0 + 3 * kMin + 1000, StaleNaN());
  Eval("alerts", kT0 + 4 * kMin);
  sent = sink.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].ends_at_ms, kT0 + 4 * kMin);
  EXPECT_EQ(sent[0].starts_at_ms, kT0 + 2 * kMin);
  EXPECT_EQ(Rule(0, 0)["state"], "inactive");
  EXPECT_TRUE(Rule(0, 0)["alerts"].empty());
  EXPECT_TRUE(manager->AlertsJson()["alerts"].empty());
  EXPECT_TRUE(Instant("ALERTS", kT0 + 4 * kMin).empty());
  // Resolved alerts are re-sent while retained, then forgotten.
  Eval("alerts", kT0 + 5 * kMin + 1);
  EXPECT_EQ(sink.Take().size(), 1u);
  Eval("alerts", kT0 + 20 * kMin);
  EXPECT_TRUE(sink.Take().empty());
}

// After a restart (a new manager over the same storage), a pending alert
// takes its start from ALERTS_FOR_STATE, as Prometheus restores it: shifted
// by the time nothing was evaluated, given the grace period (10m) when less
// was left, at once firing when it was firing, and afresh when the last
// sample is older than the outage tolerance (1h).
TEST_F(RulesTest, ForStateIsRestoredAfterARestart) {
  constexpr std::string_view kRules = R"Y(
groups:
- name: g
  rules:
  - alert: Slow
    expr: errors > 1
    for: 30m
  - alert: Quick
    expr: errors > 1
    for: 5m
)Y";
  auto restart = [&] {
    RuleManagerOptions mo;
    mo.clock = [this] { return now; };
    manager = std::make_unique<RuleManager>(head.get(), &engine, &sink, mo);
    Load("rules.yml", kRules);
  };
  auto state = [&](const char* alert) -> std::string {
    nlohmann::json rules = manager->RulesJson()["groups"][0]["rules"];
    for (const auto& r : rules)
      if (r["name"] == alert) return r["state"];
    return "?";
  };
  int64_t base = kT0;
  // The condition holds throughout: a sample every minute.
  auto run = [&](int64_t from, int64_t to) {
    for (int64_t t = from; t <= to; t += kMin) {
      Write({{"__name__", "errors"}, {"i", "a"}}, t - 1000, 5);
      Eval("g", t);
    }
  };

  // Pending 5 minutes, down 5 minutes: 25 minutes left from the restart.
  Load("rules.yml", kRules);
  run(base, base + 5 * kMin);
  restart();
  run(base + 10 * kMin, base + 34 * kMin);
  EXPECT_EQ(state("Slow"), "pending");
  // `for` below the grace period: not restored, pending since the restart.
  EXPECT_EQ(state("Quick"), "firing");
  run(base + 35 * kMin, base + 35 * kMin);
  EXPECT_EQ(state("Slow"), "firing");
  auto fs = Instant("ALERTS_FOR_STATE{alertname=\"Slow\"}", base + 35 * kMin);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].v, static_cast<double>((base + 5 * kMin) / 1000));

  // Firing when it went down: firing again at its first evaluation.
  restart();
  run(base + 45 * kMin, base + 45 * kMin);
  EXPECT_EQ(state("Slow"), "firing");

  // 25 of 30 minutes pending when it went down: 5 left is under the grace
  // period, so it fires 10 minutes after the restart.
  base += 1000 * kMin;
  Write({{"__name__", "errors"}, {"i", "a"}}, base - 2 * kMin, StaleNaN());
  restart();
  run(base, base + 25 * kMin);
  EXPECT_EQ(state("Slow"), "pending");
  restart();
  run(base + 40 * kMin, base + 49 * kMin);
  EXPECT_EQ(state("Slow"), "pending");
  run(base + 50 * kMin, base + 50 * kMin);
  EXPECT_EQ(state("Slow"), "firing");

  // Down for longer than the outage tolerance: pending afresh.
  restart();
  run(base + 120 * kMin, base + 120 * kMin);
  EXPECT_EQ(state("Slow"), "pending");
}

TEST_F(RulesTest, PendingAlertThatClearsIsNeverSent) {
  Labels errs({{"__name__", "errors"}, {"instance", "i1"}});
  Write(errs, kT0 - 1000, 5);
  Load("rules.yml", kAlertRules);
  Eval("alerts", kT0);
  Write(errs, kT0 + 1000, StaleNaN());
  Eval("alerts", kT0 + kMin);
  EXPECT_TRUE(sink.Take().empty());
  EXPECT_EQ(Rule(0, 0)["state"], "inactive");
  Write(errs, kT0 + kMin + 1000, 5);
  Eval("alerts", kT0 + 2 * kMin);  // pending again, for-timer restarted
  Eval("alerts", kT0 + 3 * kMin);
  EXPECT_TRUE(sink.Take().empty());
  EXPECT_EQ(Rule(0, 0)["alerts"][0]["activeAt"], "2023-11-14T22:15:20Z");
}

TEST_F(RulesTest, KeepFiringFor) {
  Labels up({{"__name__", "up"}, {"job", "db"}});
  Write(up, kT0 - 1000, 0);
  Load("rules.yml", R"(
groups:
- name: kf
  rules:
  - alert: Down
    expr: up == 0
    keep_firing_for: 2m
)");
  Eval("kf", kT0);
  ASSERT_EQ(sink.Take().size(), 1u);  // no `for`: fires at once
  Write(up, kT0 + 1000, 1);
  Eval("kf", kT0 + kMin);
  auto rule = Rule(0, 0);
  EXPECT_EQ(rule["state"], "firing");
  EXPECT_EQ(rule["keepFiringFor"], 120);
  EXPECT_EQ(rule["alerts"][0]["keepFiringSince"], "2023-11-14T22:14:20Z");
  EXPECT_EQ(Instant("ALERTS", kT0 + kMin).size(), 1u);
  Eval("kf", kT0 + 2 * kMin);
  EXPECT_EQ(Rule(0, 0)["state"], "firing");
  Eval("kf", kT0 + 3 * kMin);
  EXPECT_EQ(Rule(0, 0)["state"], "inactive");
  auto sent = sink.Take();
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.back().ends_at_ms, kT0 + 3 * kMin);
}

TEST_F(RulesTest, AlertLimitAndDuplicateLabelsets) {
  Write(Labels({{"__name__", "errors"}, {"instance", "a"}}), kT0 - 1000, 5);
  Write(Labels({{"__name__", "errors"}, {"instance", "b"}}), kT0 - 1000, 5);
  Load("rules.yml", R"(
groups:
- name: lim
  limit: 1
  rules:
  - alert: Many
    expr: errors > 1
- name: dup
  rules:
  - alert: Dup
    expr: errors > 1
    labels: {instance: same}
)");
  Eval("lim", kT0);
  Eval("dup", kT0);
  EXPECT_EQ(Rule(0, 0)["lastError"],
            "vector contains metrics with the same labelset after applying alert labels");
  EXPECT_EQ(Rule(1, 0)["lastError"], "exceeded limit of 1 with 2 alerts");
  EXPECT_EQ(Rule(1, 0)["health"], "err");
  EXPECT_TRUE(sink.Take().empty());
}

TEST_F(RulesTest, RulesAndAlertsJsonShapes) {
  Write(Labels({{"__name__", "errors"}, {"instance", "i1"}}), kT0 - 1000, 0.27);
  Load("b.yml", R"(
groups:
- name: z
  interval: 30s
  rules:
  - record: r
    expr: sum(errors)
)");
  Load("a.yml", R"(
groups:
- name: alerts
  rules:
  - alert: A
    expr: errors > 0.1
    for: 90s
    annotations: {x: y}
)");
  nlohmann::json before = manager->RulesJson();
  EXPECT_EQ(before["groups"][0]["lastEvaluation"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(before["groups"][0]["rules"][0]["health"], "unknown");
  ASSERT_TRUE(manager->EvaluateGroupAt("a.yml", "alerts", kT0 + 123).ok());
  ASSERT_TRUE(manager->EvaluateGroupAt("b.yml", "z", kT0).ok());
  EXPECT_EQ(manager->EvaluateGroupAt("a.yml", "nope", kT0).code(), Code::kNotFound);

  nlohmann::json j = manager->RulesJson();
  ASSERT_EQ(j["groups"].size(), 2u);
  nlohmann::json g = j["groups"][0];  // sorted by file
  EXPECT_EQ(g["name"], "alerts");
  EXPECT_EQ(g["file"], "a.yml");
  EXPECT_EQ(g["interval"], 60);
  EXPECT_EQ(g["limit"], 0);
  EXPECT_EQ(g["lastEvaluation"], "2023-11-14T22:13:20.123Z");
  EXPECT_TRUE(g["evaluationTime"].is_number());
  nlohmann::json a = g["rules"][0];
  std::vector<std::string> keys;
  for (auto& [k, _] : a.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"alerts", "annotations", "duration", "evaluationTime",
                                            "health", "keepFiringFor", "labels", "lastEvaluation",
                                            "name", "query", "state", "type"}));
  EXPECT_EQ(a["type"], "alerting");
  EXPECT_EQ(a["duration"], 90);
  EXPECT_EQ(a["keepFiringFor"], 0);
  EXPECT_EQ(a["query"], "errors > 0.1");
  EXPECT_EQ(a["labels"], nlohmann::json::object());
  EXPECT_EQ(a["annotations"]["x"], "y");
  EXPECT_EQ(a["alerts"][0]["value"], "2.7e-01");
  EXPECT_EQ(a["alerts"][0]["activeAt"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(a["alerts"][0]["labels"], (nlohmann::json{{"alertname", "A"}, {"instance", "i1"}}));
  EXPECT_FALSE(a["alerts"][0].contains("keepFiringSince"));

  nlohmann::json r = j["groups"][1]["rules"][0];
  keys.clear();
  for (auto& [k, _] : r.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"evaluationTime", "health", "lastEvaluation", "name",
                                            "query", "type"}));
  EXPECT_EQ(r["type"], "recording");
  EXPECT_EQ(r["query"], "sum(errors)");
  EXPECT_EQ(j["groups"][1]["interval"], 30);

  nlohmann::json alerts = manager->AlertsJson();
  ASSERT_EQ(alerts["alerts"].size(), 1u);
  EXPECT_EQ(alerts["alerts"][0]["state"], "pending");
  EXPECT_EQ(alerts["alerts"][0]["annotations"]["x"], "y");
}

TEST_F(RulesTest, ReloadKeepsStateOfUnchangedRules) {
  Labels errs({{"__name__", "errors"}, {"instance", "i1"}});
  Write(errs, kT0 - 1000, 5);
  Load("rules.yml", kAlertRules);
  Eval("alerts", kT0);
  // Same file again: nothing changes.
  Load("rules.yml", kAlertRules);
  EXPECT_EQ(Rule(0, 0)["state"], "pending");
  // A changed group (a rule added): the alert keeps its for-timer.
  std::string changed = std::string(kAlertRules) + R"(
  - record: extra
    expr: errors
)";
  Load("rules.yml", changed);
  EXPECT_EQ(Rule(0, 0)["state"], "pending");
  EXPECT_EQ(Rule(0, 0)["alerts"][0]["activeAt"], "2023-11-14T22:13:20Z");
  Write(errs, kT0 + 2 * kMin - 1000, 5);
  Eval("alerts", kT0 + 2 * kMin);
  EXPECT_EQ(Rule(0, 0)["state"], "firing");
  EXPECT_EQ(sink.Take().size(), 1u);
  // An invalid update is refused and changes nothing.
  RuleGroupDef bad;
  bad.name = "alerts";
  RuleDef bad_rule;
  bad_rule.record = "x";
  bad_rule.expr = "sum(";
  bad.rules.push_back(bad_rule);
  EXPECT_EQ(manager->SetGroups("rules.yml", {bad}).code(), Code::kInvalid);
  EXPECT_EQ(Rule(0, 0)["state"], "firing");
}

TEST_F(RulesTest, RemovedRulesAndGroupsMarkTheirSeriesStale) {
  Write(Labels({{"__name__", "requests"}, {"job", "a"}}), kT0 - 1000, 1);
  Load("rules.yml", R"(
groups:
- name: rec
  rules:
  - record: one
    expr: requests
  - record: two
    expr: requests
)");
  Eval("rec", kT0);
  // `two` is dropped from the group: its series end at the next evaluation.
  Load("rules.yml", R"(
groups:
- name: rec
  rules:
  - record: one
    expr: requests
)");
  Eval("rec", kT0 + kMin);
  auto two = Series("two");
  ASSERT_EQ(two.size(), 1u);
  EXPECT_TRUE(IsStaleNaN(two[0].samples.back().v));
  EXPECT_EQ(two[0].samples.back().t, kT0 + kMin);
  // Removing the source ends the rest at the current time.
  now = kT0 + 90'000;
  manager->RemoveSource("rules.yml");
  auto one = Series("one");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_TRUE(IsStaleNaN(one[0].samples.back().v));
  EXPECT_EQ(one[0].samples.back().t, kT0 + 90'000);
  EXPECT_TRUE(manager->RulesJson()["groups"].empty());
  EXPECT_EQ(manager->EvaluateGroupAt("rules.yml", "rec", kT0 + 2 * kMin).code(), Code::kNotFound);
}

TEST_F(RulesTest, QueryOffsetShiftsQueryAndOutputTimes) {
  Write(Labels({{"__name__", "requests"}, {"job", "a"}}), kT0 - 20'000, 1);
  Write(Labels({{"__name__", "requests"}, {"job", "b"}}), kT0 - 1000, 1);  // too new to be seen
  Load("rules.yml", R"(
groups:
- name: off
  query_offset: 30s
  rules:
  - record: shifted
    expr: requests
)");
  Eval("off", kT0 + 20'000);
  auto s = Series("shifted");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].samples.at(0).t, kT0 - 10'000);
}

TEST(RuleManagerThread, EvaluatesOnItsScheduleAndStops) {
  tsdb::Options o;
  o.wal = false;
  o.housekeeping_interval_ms = 0;
  o.retention_ms = 0;
  auto head = tsdb::Head::Open(o);
  ASSERT_TRUE(head.ok());
  promql::Engine engine;
  FakeSink sink;
  RuleManager m(head->get(), &engine, &sink, {});
  auto groups = ParseRuleFile(R"(
groups:
- name: fast
  interval: 50ms
  rules:
  - alert: Always
    expr: vector(1)
)");
  ASSERT_TRUE(groups.ok());
  m.Start();
  ASSERT_TRUE(m.SetGroups("f", *groups).ok());
  {
    std::unique_lock<std::mutex> l(sink.mu);
    ASSERT_TRUE(sink.cv.wait_for(l, std::chrono::seconds(20), [&] { return sink.batches > 0; }));
    EXPECT_EQ(sink.sent.at(0).labels.Get("alertname"), "Always");
  }
  m.Stop();
  m.Stop();  // idempotent
}

}  // namespace
}  // namespace berth::monitor::rules
