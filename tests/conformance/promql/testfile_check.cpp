// A standalone check of the test-file handling, buildable without the PromQL
// parser and engine:
//   g++ -std=c++20 -Isrc -Itests/conformance/promql
//   tests/conformance/promql/{testfile_check,testfile}.cpp
//       src/monitor/labels.cpp src/core/status.cpp -lre2
// It first runs small checks of the notation parsing and loading into the TSDB head, then
// the runner's --parse-only mode over DIR: `testfile_check [--verbose] [--file NAME] DIR`.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "testfile.h"

namespace conf = berth::monitor::conformance;
using berth::monitor::Labels;

namespace {

int failures = 0;

void Check(bool ok, const char* what, int line) {
  if (!ok) {
    std::fprintf(stderr, "self-check failed (line %d): %s\n", line, what);
    failures++;
  }
}
#define CHECK(x) Check((x), #x, __LINE__)

std::string Seq(const char* s, bool durations = false) {
  auto r = conf::ParseSequence(s, durations);
  return r.ok() ? conf::FormatSeq(*r, 100) : "ERR " + r.status().message();
}

void SelfChecks() {
  CHECK(Seq("0+10x3") == "0 10 20 30");
  CHECK(Seq("1-2x4") == "1 -1 -3 -5 -7");
  CHECK(Seq("-2+4x3") == "-2 2 6 10");
  CHECK(Seq("1x4") == "1 1 1 1 1");
  CHECK(Seq("1 _x3 stale") == "1 _ _ _ stale");
  CHECK(Seq("_ _ 0") == "_ _ 0");
  CHECK(Seq("Inf -Inf +Inf inf NaN nan") == "+Inf -Inf +Inf +Inf NaN NaN");
  CHECK(Seq("1e3 -1E+3 1e-3+1e-3x1 .5 2.") == "1000 -1000 0.001 0.002 0.5 2");
  CHECK(Seq("1e+3+2x1") == "1000 1002");
  CHECK(Seq("0.1+0.1x2") == "0.1 0.2 0.3");
  CHECK(Seq("Infx1") == "+Inf +Inf");
  CHECK(Seq("-30s-1mx2 -1msx1 0-1mx1 1ms +1m", true) ==
        "-30000 -90000 -150000 -1 -1 0 -60000 1 60000");
  CHECK(Seq("1+x2").rfind("ERR", 0) == 0);
  CHECK(Seq("abc").rfind("ERR", 0) == 0);
  CHECK(Seq("5s").rfind("ERR", 0) == 0);
  {
    auto r = conf::ParseSequence(
        "{{schema:1 sum:3 count:22 buckets:[5 10 7]}} {{}}x2 "
        "{{count:1}}+{{count:2 counter_reset_hint:gauge}}x3 1");
    CHECK(r.ok() && r->size() == 9);
    if (r.ok()) {
      CHECK((*r)[0].kind == conf::SeqValue::Kind::kHistogram);
      CHECK((*r)[0].h->scalars.at("count") == 22 && (*r)[0].h->lists.at("buckets").size() == 3);
      CHECK((*r)[8].kind == conf::SeqValue::Kind::kFloat);
    }
    CHECK(!conf::ParseSequence("{{bogus:1}}").ok());
    CHECK(!conf::ParseSequence("{{count:1").ok());
  }
  {
    auto s = conf::ParseSeriesSelector("m{a=\"1\", b='x y', c=`q\"`,} 1 2");
    CHECK(s.ok());
    if (s.ok()) {
      CHECK(s->first == Labels({{"__name__", "m"}, {"a", "1"}, {"b", "x y"}, {"c", "q\""}}));
      CHECK(s->second == std::strlen("m{a=\"1\", b='x y', c=`q\"`,}"));
    }
    auto q = conf::ParseSeriesSelector("{\"my.metric\", \"l.x\"=\"v\\n\"}");
    CHECK(q.ok() && q->first == Labels({{"__name__", "my.metric"}, {"l.x", "v\n"}}));
    auto bare = conf::ParseSeriesSelector("metric@st 1");
    CHECK(bare.ok() && bare->second == 6);
    auto empty = conf::ParseSeriesSelector("{} 1");
    CHECK(empty.ok() && empty->first.empty());
    CHECK(!conf::ParseSeriesSelector("m{a=~\"x\"}").ok());
    CHECK(!conf::ParseSeriesSelector("m{a=\"x\"").ok());
  }
  CHECK(conf::ParseDurationMs("10s53ms").value() == 10053);
  CHECK(conf::ParseDurationMs("1h30m").value() == 5400000);
  CHECK(conf::ParseDurationMs("0").value() == 0);
  CHECK(!conf::ParseDurationMs("30").ok());
  CHECK(!conf::ParseDurationMs("1s1h").ok());
  {
    auto nh = conf::NhcbSeriesFor(Labels({{"__name__", "x_bucket"}, {"le", "0.1"}, {"j", "a"}}));
    CHECK(nh && *nh == Labels({{"__name__", "x"}, {"j", "a"}}));
    CHECK(!conf::NhcbSeriesFor(Labels({{"__name__", "x_total"}})));
  }
  {
    const char* text =
        "load 5m\n"
        "  m{a=\"1\"} 0+1x2 stale\n"
        "  h {{count:1}}\n"
        "\n"
        "# comment\n"
        "eval instant at 10m m\n"
        "  expect no_warn\n"
        "  expect warn msg: a: b\n"
        "  m{a=\"1\"} 2\n"
        "\n"
        "eval_ordered instant at 0 sort(m)\n"
        "\n"
        "eval range from 0 to 10m step 5m m\n"
        "  m{a=\"1\"} 0 _ 2\n"
        "\n"
        "eval instant at 1m 1\n"
        "  1\n"
        "\n"
        "eval instant at 1m m[1m]\n"
        "  expect range vector from 0 to 1m step 1m\n"
        "  expect string \"a\\tb\"\n"
        "  m 1 2\n"
        "\n"
        "clear\n";
    conf::TestFile f = conf::ParseTestFile("t.test", text);
    CHECK(f.cmds.size() == 7);
    // no_warn with warn is a contradiction: reported, and that case is broken.
    CHECK(f.problems.size() == 1);
    if (f.cmds.size() == 7) {
      auto& e0 = std::get<conf::EvalCmd>(f.cmds[1]);
      CHECK(!e0.broken.empty() && e0.expects.size() == 2 && e0.expects[1].text == "a: b");
      auto& e1 = std::get<conf::EvalCmd>(f.cmds[2]);
      CHECK(e1.IsOrdered() && e1.series.empty() && e1.start_ms == 0);
      auto& e2 = std::get<conf::EvalCmd>(f.cmds[3]);
      CHECK(e2.is_range && e2.end_ms == 600000 && e2.step_ms == 300000 &&
            e2.series[0].values.size() == 3);
      auto& e3 = std::get<conf::EvalCmd>(f.cmds[4]);
      CHECK(e3.expect_scalar && e3.expect_scalar->v == 1);
      auto& e4 = std::get<conf::EvalCmd>(f.cmds[5]);
      CHECK(e4.expect_range_vector && e4.rv_end_ms == 60000 && e4.expect_string == "a\tb" &&
            e4.broken.empty());
      auto stp = conf::NewMemoryHead();
      auto& st = *stp;
      conf::LoadStats ls;
      CHECK(conf::LoadInto(std::get<conf::LoadCmd>(f.cmds[0]), st, &ls).ok());
      // The head counts the histogram sample too.
      CHECK(ls.samples == 4 && ls.histograms == 1 && st.NumSamples() == 5);
      auto m = berth::monitor::Matcher::Make(berth::monitor::Matcher::Op::kEq, "a", "1");
      auto q = st.NewQuerier();
      auto sel = q->Select(300000, 900000, {*m});
      CHECK(sel.ok() && sel->size() == 1 && (*sel)[0].samples.size() == 3 &&
            berth::monitor::IsStaleNaN((*sel)[0].samples[2].v));
      auto app = st.NewAppender();
      // A different value at an existing timestamp is refused.
      CHECK(!app->Append(Labels({{"__name__", "m"}, {"a", "1"}}), 0, 5).ok());
      CHECK(app->Commit().ok());
      CHECK(st.NumSamples() == 5);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool verbose = false;
  std::string file, dir;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--verbose" || a == "-v") {
      verbose = true;
    } else if (a == "--file" && i + 1 < argc) {
      file = argv[++i];
    } else if (!a.empty() && a[0] != '-' && dir.empty()) {
      dir = a;
    } else {
      std::fprintf(stderr, "usage: testfile_check [--verbose] [--file NAME] DIR\n");
      return 2;
    }
  }
  SelfChecks();
  if (failures) return 1;
  std::printf("self-checks passed\n");
  if (dir.empty()) return 0;
  return conf::RunParseOnly(dir, file, verbose);
}
