// promql_conformance: runs the Prometheus project's PromQL test cases
// (testdata/*.test, format in testdata/FORMAT.md) against Berth's PromQL
// engine and prints passes per file.
//
//   promql_conformance [--verbose] [--file NAME] [--parse-only] [--range-check]
//                      [--min-pass NAME=N]... DIR
//
// A case (one eval) passes when the engine's answer matches the expectation:
// result series and values (relative tolerance 1e-6, NaN equal to NaN; native
// histograms compared as the reference does, compacted, their reset hint only
// when the expected literal gives one), the error for `expect fail`, and the
// annotations the `expect` lines ask about.
// Instant cases are, as in the reference runner, also evaluated with every
// selector pinned by `@ <eval time>` at other evaluation times (see
// AtVariants); a case passes only when every evaluation does.
//
// Cases that need start timestamps, which the storage does not hold, are
// counted as skipped, not failed.
//
// Exit status: 0 when the run completed (the counts are the result), 1 when a
// --min-pass threshold is not met, 2 on usage or I/O errors.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/histogram.h"
#include "monitor/promql/ast.h"
#include "monitor/promql/engine.h"
#include "monitor/promql/parser.h"
#include "testfile.h"

namespace berth::monitor::conformance {
namespace {

namespace pq = ::berth::monitor::promql;

// The one place that decides which storage the cases run on.
std::unique_ptr<Storage> NewStorage() { return NewMemoryHead(); }

struct Options {
  bool verbose = false;
  bool parse_only = false;
  bool range_check = false;
  std::string file;
  std::string dir;
  std::vector<std::pair<std::string, int>> min_pass;  // file name or "total"
  size_t max_issues = 5;
};

std::string FormatMs(int64_t ms) {
  char buf[40];
  if (ms % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(ms / 1000));
  } else {
    std::snprintf(buf, sizeof buf, "%.3fs", static_cast<double>(ms) / 1000);
  }
  return buf;
}

// ---- the @ rewrite -------------------------------------------------------

// Functions whose value depends on the evaluation time even when all their
// inputs are pinned by @: pinning the selectors would change the answer.
// (Prometheus keeps the same list for the same reason.)
bool AtUnsafeFunction(std::string_view name) {
  static const char* const kNames[] = {
      "days_in_month", "day_of_month", "day_of_week",    "day_of_year", "hour",     "minute",
      "month",         "year",         "predict_linear", "time",        "timestamp"};
  for (const char* n : kNames)
    if (name == n) return true;
  return false;
}

// Whether the query uses step() or range() anywhere, including inside
// duration expressions ([step()], offset range()). Detected on the text, so it
// does not depend on how the parser represents those: an identifier `step` or
// `range` followed by `(`, outside string literals.
// True when only blanks separate position i from a preceding '@' (`@ start()`
// is a modifier the rewrite handles, not a call).
bool PrecededByAt(std::string_view q, size_t i) {
  while (i > 0 && (q[i - 1] == ' ' || q[i - 1] == '\t')) --i;
  return i > 0 && q[i - 1] == '@';
}

bool UsesStepOrRange(std::string_view q) {
  for (size_t i = 0; i < q.size(); i++) {
    char c = q[i];
    if (c == '"' || c == '\'' || c == '`') {
      for (i++; i < q.size() && q[i] != c; i++)
        if (c != '`' && q[i] == '\\') i++;
      continue;
    }
    auto ident = [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == ':';
    };
    if (!ident(c) || (i > 0 && ident(q[i - 1]))) continue;
    size_t j = i;
    while (j < q.size() && ident(q[j])) j++;
    std::string_view word = q.substr(i, j - i);
    size_t k = j;
    while (k < q.size() && (q[k] == ' ' || q[k] == '\t')) k++;
    // start() and end() read the query's own bounds, which the @ re-runs move.
    if ((word == "step" || word == "range" || word == "start" || word == "end") && k < q.size() &&
        q[k] == '(' && !(i > 0 && q[i - 1] == '@') && !PrecededByAt(q, i))
      return true;
    i = j - 1;
  }
  return false;
}

// Pins every selector and subquery outside subqueries to `ts`, as the
// reference does before re-running an instant case at other times:
//  - a selector or subquery without @ gets `@ ts`; one with `@ start()` or
//    `@ end()` too, since in the original instant query both equal ts;
//  - an explicit `@ T` stays;
//  - nothing inside a subquery is touched: the subquery's own @ fixes the
//    times its inner expression is evaluated at, and inner selectors must
//    keep following those steps.
// Sets *unsafe when an AtUnsafeFunction is called outside subqueries.
void PinAt(pq::Expr& e, int64_t ts, bool* unsafe) {
  auto pin = [&](pq::AtModifier& at, int64_t& at_ms) {
    if (at == pq::AtModifier::kTimestamp) return;
    at = pq::AtModifier::kTimestamp;
    at_ms = ts;
  };
  switch (e.kind) {
    case pq::NodeKind::kNumber:
    case pq::NodeKind::kString:
      return;
    case pq::NodeKind::kVectorSelector: {
      auto& vs = static_cast<pq::VectorSelector&>(e);
      pin(vs.at, vs.at_ms);
      return;
    }
    case pq::NodeKind::kMatrixSelector: {
      auto& ms = static_cast<pq::MatrixSelector&>(e);
      if (ms.vector_selector) PinAt(*ms.vector_selector, ts, unsafe);
      return;
    }
    case pq::NodeKind::kSubquery: {
      auto& sq = static_cast<pq::SubqueryExpr&>(e);
      pin(sq.at, sq.at_ms);
      return;
    }
    case pq::NodeKind::kCall: {
      auto& c = static_cast<pq::Call&>(e);
      if (c.func && AtUnsafeFunction(c.func->name)) *unsafe = true;
      for (auto& a : c.args)
        if (a) PinAt(*a, ts, unsafe);
      return;
    }
    case pq::NodeKind::kAggregate: {
      auto& a = static_cast<pq::AggregateExpr&>(e);
      if (a.expr) PinAt(*a.expr, ts, unsafe);
      if (a.param) PinAt(*a.param, ts, unsafe);
      return;
    }
    case pq::NodeKind::kBinary: {
      auto& b = static_cast<pq::BinaryExpr&>(e);
      if (b.lhs) PinAt(*b.lhs, ts, unsafe);
      if (b.rhs) PinAt(*b.rhs, ts, unsafe);
      return;
    }
    case pq::NodeKind::kUnary: {
      auto& u = static_cast<pq::UnaryExpr&>(e);
      if (u.expr) PinAt(*u.expr, ts, unsafe);
      return;
    }
    case pq::NodeKind::kParen: {
      auto& p = static_cast<pq::ParenExpr&>(e);
      if (p.expr) PinAt(*p.expr, ts, unsafe);
      return;
    }
  }
}

// Every vector selector in the tree, subqueries included (for deciding
// which stored series a query can touch).
void CollectSelectors(const pq::Expr& e, std::vector<const pq::VectorSelector*>* out) {
  switch (e.kind) {
    case pq::NodeKind::kNumber:
    case pq::NodeKind::kString:
      return;
    case pq::NodeKind::kVectorSelector:
      out->push_back(static_cast<const pq::VectorSelector*>(&e));
      return;
    case pq::NodeKind::kMatrixSelector: {
      const auto& ms = static_cast<const pq::MatrixSelector&>(e);
      if (ms.vector_selector) CollectSelectors(*ms.vector_selector, out);
      return;
    }
    case pq::NodeKind::kSubquery: {
      const auto& sq = static_cast<const pq::SubqueryExpr&>(e);
      if (sq.expr) CollectSelectors(*sq.expr, out);
      return;
    }
    case pq::NodeKind::kCall:
      for (const auto& a : static_cast<const pq::Call&>(e).args)
        if (a) CollectSelectors(*a, out);
      return;
    case pq::NodeKind::kAggregate: {
      const auto& a = static_cast<const pq::AggregateExpr&>(e);
      if (a.expr) CollectSelectors(*a.expr, out);
      if (a.param) CollectSelectors(*a.param, out);
      return;
    }
    case pq::NodeKind::kBinary: {
      const auto& b = static_cast<const pq::BinaryExpr&>(e);
      if (b.lhs) CollectSelectors(*b.lhs, out);
      if (b.rhs) CollectSelectors(*b.rhs, out);
      return;
    }
    case pq::NodeKind::kUnary:
      if (const auto& x = static_cast<const pq::UnaryExpr&>(e).expr) CollectSelectors(*x, out);
      return;
    case pq::NodeKind::kParen:
      if (const auto& x = static_cast<const pq::ParenExpr&>(e).expr) CollectSelectors(*x, out);
      return;
  }
}

// The evaluation times the reference re-runs a pinned instant query at:
// before, at and after ts (and around 0 when ts is 0), so that a selector
// that ignores its @ shows up as a wrong answer.
std::vector<int64_t> AtVariantTimes(int64_t ts) {
  if (ts == 0) return {-1000, 0, 1000};
  return {-10 * ts, 0, ts / 5, ts, 10 * ts};
}

// ---- checking one answer ---------------------------------------------------

struct Grid {
  int64_t start, end, step;
};

class Issues {
 public:
  explicit Issues(size_t max) : max_(max) {}
  void Add(std::string s) {
    if (list_.size() < max_) list_.push_back(std::move(s));
    count_++;
  }
  bool empty() const { return count_ == 0; }
  std::string Text() const {
    std::string out;
    for (const auto& s : list_) out += "    - " + s + "\n";
    if (count_ > list_.size())
      out += "    ... and " + std::to_string(count_ - list_.size()) + " more difference(s)\n";
    return out;
  }

 private:
  size_t max_;
  size_t count_ = 0;
  std::vector<std::string> list_;
};

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "; ") + s;
  return out;
}

void CheckFailure(const EvalCmd& ev, const std::string& msg, const std::string& alt, Issues* is) {
  // The engine reports the message in the Status and, for runtime errors, in
  // QueryError too; either may carry Prometheus's text.
  auto any = [&](auto&& pred) { return pred(msg) || (!alt.empty() && pred(alt)); };
  if (ev.legacy_fail_message &&
      !any([&](const std::string& m) { return m == *ev.legacy_fail_message; }))
    is->Add("expected error \"" + *ev.legacy_fail_message + "\", got \"" + msg + "\"");
  if (ev.legacy_fail_regexp) {
    Expectation e;
    e.match = Expectation::Match::kRegex;
    e.text = *ev.legacy_fail_regexp;
    if (!any([&](const std::string& m) { return e.Matches(m); }))
      is->Add("expected error matching /" + e.text + "/, got \"" + msg + "\"");
  }
  for (const auto& e : ev.expects) {
    if (e.kind != ExpectKind::kFail) continue;
    if (!any([&](const std::string& m) { return e.Matches(m); }))
      is->Add(std::string("expected error ") +
              (e.match == Expectation::Match::kRegex ? "matching /" + e.text + "/"
                                                     : "\"" + e.text + "\"") +
              ", got \"" + msg + "\"");
  }
}

void CheckAnnotationsOfKind(const EvalCmd& ev, ExpectKind want, ExpectKind none,
                            const std::vector<std::string>& got, const char* what, Issues* is) {
  std::vector<const Expectation*> exp;
  for (const auto& e : ev.expects)
    if (e.kind == want) exp.push_back(&e);
  if (!exp.empty()) {
    if (got.empty()) {
      is->Add(std::string("expected ") + what + " annotations, got none");
      return;
    }
    // Every expect line must match some annotation, and (once any is given)
    // every annotation must be matched by some expect line.
    for (const Expectation* e : exp) {
      bool found = false;
      for (const auto& g : got) found |= e->Matches(g);
      if (!found)
        is->Add(std::string("no ") + what + " annotation matching \"" + e->text +
                "\"; got: " + Join(got));
    }
    for (const auto& g : got) {
      bool found = false;
      for (const Expectation* e : exp) found |= e->Matches(g);
      if (!found) is->Add(std::string("unexpected ") + what + " annotation \"" + g + "\"");
    }
  }
  if (ev.HasExpect(none) && !got.empty())
    is->Add(std::string("expected no ") + what + " annotations, got: " + Join(got));
}

void CheckAnnotations(const EvalCmd& ev, const pq::QueryResult& r, Issues* is) {
  if (ev.legacy_warn && r.warnings.empty()) is->Add("expected warnings, got none");
  if (ev.legacy_info && r.infos.empty()) is->Add("expected info annotations, got none");
  CheckAnnotationsOfKind(ev, ExpectKind::kWarn, ExpectKind::kNoWarn, r.warnings, "warn", is);
  CheckAnnotationsOfKind(ev, ExpectKind::kInfo, ExpectKind::kNoInfo, r.infos, "info", is);
}

std::string PointsText(const std::vector<pq::Point>& ps, size_t max = 8) {
  std::string out;
  for (size_t i = 0; i < ps.size() && i < max; i++)
    out += (i ? " " : "") + (ps[i].h ? HistogramString(*ps[i].h) : FormatValue(ps[i].v)) + "@" +
           FormatMs(ps[i].t);
  if (ps.size() > max) out += " ... (" + std::to_string(ps.size()) + " points)";
  return out.empty() ? "(no points)" : out;
}

void CompareMatrix(const EvalCmd& ev, const pq::Matrix& m, Grid g, Issues* is) {
  if (ev.IsOrdered()) is->Add("expected an ordered result, but the query returned a matrix");
  if (ev.expect_scalar) is->Add("expected a scalar, got a matrix");
  for (size_t i = 1; i < m.size(); i++)
    if (Labels::Compare(m[i - 1].metric, m[i].metric) > 0) {
      is->Add("matrix not sorted by labels: " + m[i].metric.String() + " after " +
              m[i - 1].metric.String());
      break;
    }
  std::map<Labels, const ExpectedSeries*> exp;
  for (const auto& s : ev.series) exp[s.labels] = &s;
  std::map<Labels, bool> seen;
  for (const auto& s : m) {
    auto it = exp.find(s.metric);
    if (it == exp.end()) {
      is->Add("unexpected series " + s.metric.String() + " " + PointsText(s.points));
      continue;
    }
    seen[s.metric] = true;
    std::vector<pq::Point> want;
    std::vector<bool> hint_set;  // per expected histogram point
    bool overflow = false;
    for (size_t i = 0; i < it->second->values.size(); i++) {
      int64_t t = g.start + static_cast<int64_t>(i) * g.step;
      if (t > g.end) {
        overflow = true;
        break;
      }
      const SeqValue& v = it->second->values[i];
      if (v.kind == SeqValue::Kind::kFloat) want.push_back({t, v.v});
      if (v.kind == SeqValue::Kind::kHistogram) {
        want.push_back({t, 0, v.fh});
        hint_set.push_back(v.HintSet());
      }
    }
    if (overflow) {
      is->Add("expected " + std::to_string(it->second->values.size()) + " points for " +
              s.metric.String() + ", more than the time range holds");
      continue;
    }
    bool stale = false;
    for (const auto& p : s.points) stale |= IsStaleNaN(p.v);
    if (stale) is->Add("staleness marker in the result for " + s.metric.String());
    // As the reference: the float points and the histogram points each in order.
    std::vector<const pq::Point*> wf, wh, gf, gh;
    for (const auto& p : want) (p.h ? wh : wf).push_back(&p);
    for (const auto& p : s.points) (p.h ? gh : gf).push_back(&p);
    bool same = wf.size() == gf.size() && wh.size() == gh.size();
    for (size_t i = 0; same && i < wf.size(); i++)
      same = wf[i]->t == gf[i]->t && FloatsAlmostEqual(wf[i]->v, gf[i]->v);
    for (size_t i = 0; same && i < wh.size(); i++)
      same = wh[i]->t == gh[i]->t && HistogramsAlmostEqual(*wh[i]->h, *gh[i]->h, hint_set[i]);
    if (!same)
      is->Add(s.metric.String() + ": expected " + PointsText(want) + ", got " +
              PointsText(s.points));
  }
  for (const auto& s : ev.series)
    if (!seen.count(s.labels))
      is->Add("missing series " + s.labels.String() + " " + FormatSeq(s.values));
}

void CompareVector(const EvalCmd& ev, const pq::Vector& v, Issues* is) {
  if (ev.expect_scalar) {
    is->Add("expected a scalar, got a vector of " + std::to_string(v.size()) + " samples");
    return;
  }
  std::map<Labels, std::pair<size_t, const ExpectedSeries*>> exp;
  for (size_t i = 0; i < ev.series.size(); i++) exp[ev.series[i].labels] = {i, &ev.series[i]};
  std::map<Labels, bool> seen;
  for (size_t pos = 0; pos < v.size(); pos++) {
    const auto& s = v[pos];
    auto it = exp.find(s.metric);
    if (it == exp.end()) {
      is->Add("unexpected series " + s.metric.String() + " " +
              (s.h ? HistogramString(*s.h) : FormatValue(s.v)));
      continue;
    }
    seen[s.metric] = true;
    if (ev.IsOrdered() && it->second.first != pos)
      is->Add(s.metric.String() + " at position " + std::to_string(pos + 1) + ", expected at " +
              std::to_string(it->second.first + 1));
    const SeqValue& want = it->second.second->values[0];
    if (s.h) {
      if (want.kind != SeqValue::Kind::kHistogram ||
          !HistogramsAlmostEqual(*want.fh, *s.h, want.HintSet()))
        is->Add(s.metric.String() + ": expected " + FormatSeq({want}) + ", got " +
                HistogramString(*s.h));
    } else if (IsStaleNaN(s.v)) {
      is->Add("staleness marker in the result for " + s.metric.String());
    } else if (want.kind != SeqValue::Kind::kFloat || !FloatsAlmostEqual(want.v, s.v)) {
      is->Add(s.metric.String() + ": expected " + FormatSeq({want}) + ", got " + FormatValue(s.v));
    }
  }
  for (const auto& s : ev.series)
    if (!seen.count(s.labels))
      is->Add("missing series " + s.labels.String() + " " + FormatSeq(s.values));
}

void CompareValue(const EvalCmd& ev, const pq::QueryResult& r, Grid g, Issues* is) {
  switch (r.type) {
    case pq::ValueType::kMatrix:
      CompareMatrix(ev, r.matrix, g, is);
      return;
    case pq::ValueType::kVector:
      CompareVector(ev, r.vector, is);
      return;
    case pq::ValueType::kScalar:
      if (!ev.expect_scalar) {
        is->Add("expected a vector or matrix, got scalar " + FormatValue(r.scalar.v));
      } else if (IsStaleNaN(r.scalar.v) || !FloatsAlmostEqual(ev.expect_scalar->v, r.scalar.v)) {
        is->Add("expected scalar " + FormatValue(ev.expect_scalar->v) + ", got " +
                FormatValue(r.scalar.v));
      }
      return;
    case pq::ValueType::kString:
      if (ev.expect_string.value_or("") != r.str)
        is->Add("expected string \"" + ev.expect_string.value_or("") + "\", got \"" + r.str + "\"");
      return;
    case pq::ValueType::kNone:
      is->Add("the result has no value type");
      return;
  }
}

// "" when the answer is right, else the differences.
std::string Check(const EvalCmd& ev, const Result<pq::QueryResult>& r, const pq::QueryError& qe,
                  Grid g, size_t max_issues, bool check_annotations = true) {
  Issues is(max_issues);
  if (!r.ok()) {
    const std::string& msg = r.status().message();
    if (!ev.IsFail()) return "    - unexpected error: " + msg + "\n";
    CheckFailure(ev, msg, qe.message == msg ? std::string() : qe.message, &is);
    return is.Text();
  }
  if (ev.IsFail()) return "    - expected an error, got a result\n";
  if (check_annotations) CheckAnnotations(ev, *r, &is);
  CompareValue(ev, *r, g, &is);
  return is.Text();
}

// ---- running the cases -----------------------------------------------------

struct FileState {
  std::unique_ptr<Storage> storage = NewStorage();
  std::vector<Labels> start_ts_series;
};

enum class Verdict { kPass, kFail, kSkipHistogram, kSkipStartTs };

struct CaseResult {
  Verdict verdict = Verdict::kPass;
  std::string detail;  // for failures: what differed, already indented
};

// Engine calls must not take the run down with them.
template <class F>
Result<pq::QueryResult> Guarded(F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Internal(std::string("engine threw: ") + e.what());
  } catch (...) {
    return Internal("engine threw a non-standard exception");
  }
}

class Runner {
 public:
  explicit Runner(const Options& o) : opts_(o), engine_(EngineOpts()) {}

  static pq::EngineOptions EngineOpts() {
    pq::EngineOptions eo;
    eo.lookback_ms = 5 * 60 * 1000;           // the reference's lookback delta
    eo.default_eval_interval_ms = 60 * 1000;  // subqueries without a step
    eo.experimental = true;                   // the files cover experimental features
    return eo;
  }

  CaseResult Run(const EvalCmd& ev, FileState& fs) {
    if (!ev.broken.empty())
      return {Verdict::kFail, "    - test case not understood: " + ev.broken + "\n"};
    auto parsed = pq::Parse(ev.expr);
    if (parsed.ok()) {
      std::vector<const pq::VectorSelector*> sels;
      CollectSelectors(**parsed, &sels);
      if (Touches(sels, fs.start_ts_series)) return {Verdict::kSkipStartTs, ""};
    }
    return ev.is_range ? RunRange(ev, fs) : RunInstant(ev, fs, parsed.ok());
  }

 private:
  static bool Touches(const std::vector<const pq::VectorSelector*>& sels,
                      const std::vector<Labels>& series) {
    for (const auto* vs : sels)
      for (const auto& ls : series)
        if (MatchesAll(ls, vs->matchers)) return true;
    return false;
  }

  CaseResult Fail(std::string what, const std::string& detail) {
    return {Verdict::kFail, what.empty() ? detail : "    " + what + ":\n" + detail};
  }

  CaseResult RunRange(const EvalCmd& ev, FileState& fs) {
    auto q = fs.storage->NewQuerier();
    pq::QueryError qe{};
    auto r = Guarded(
        [&] { return engine_.Range(*q, ev.expr, ev.start_ms, ev.end_ms, ev.step_ms, &qe); });
    std::string why = Check(ev, r, qe, {ev.start_ms, ev.end_ms, ev.step_ms}, opts_.max_issues);
    if (!why.empty()) return Fail("", why);
    return {};
  }

  CaseResult RunInstant(const EvalCmd& ev, FileState& fs, bool parses) {
    int64_t t = ev.start_ms;
    Grid g =
        ev.expect_range_vector ? Grid{ev.rv_start_ms, ev.rv_end_ms, ev.rv_step_ms} : Grid{t, t, 0};
    {
      auto q = fs.storage->NewQuerier();
      pq::QueryError qe{};
      auto r = Guarded([&] { return engine_.Instant(*q, ev.expr, t, &qe); });
      std::string why = Check(ev, r, qe, g, opts_.max_issues);
      if (!why.empty()) return Fail("", why);
      if (opts_.range_check && r.ok() && parses) {
        auto tree = pq::Parse(ev.expr);
        std::string rc = RangeCheck(ev, fs, **tree, *r, t);
        if (!rc.empty()) return Fail("in range mode (t-1m..t+1m step 1m)", rc);
      }
    }
    // The original failed to parse: it failed as expected (else we returned
    // above), and there is no tree to pin.
    if (!parses || UsesStepOrRange(ev.expr)) return {};
    auto pinned = pq::Parse(ev.expr);
    if (!pinned.ok()) return {};
    bool unsafe = false;
    PinAt(**pinned, t, &unsafe);
    if (unsafe) return {};
    for (int64_t et : AtVariantTimes(t)) {
      auto q = fs.storage->NewQuerier();
      pq::QueryError qe{};
      auto r = Guarded([&] { return engine_.InstantExpr(*q, **pinned, et, &qe); });
      std::string why = Check(ev, r, qe, g, opts_.max_issues);
      std::string what =
          "with every selector pinned by @ " + FormatMs(t) + ", evaluated at " + FormatMs(et);
      if (!why.empty()) return Fail(what, why);
      if (opts_.range_check && r.ok()) {
        std::string rc = RangeCheck(ev, fs, **pinned, *r, et);
        if (!rc.empty()) return Fail(what + ", in range mode", rc);
      }
    }
    return {};
  }

  // The reference also runs each instant case as a range query t-1m..t+1m
  // step 1m and compares the middle step with the expectation. Opt-in here
  // (--range-check): it tests the engine's range path, not the case itself.
  std::string RangeCheck(const EvalCmd& ev, FileState& fs, const pq::Expr& e,
                         const pq::QueryResult& instant, int64_t t) {
    if (ev.IsFail() || ev.IsOrdered() || ev.ExcludeFromRangeCheck() ||
        ev.expr.find("range()") != std::string::npos)
      return "";
    if (instant.type != pq::ValueType::kVector && instant.type != pq::ValueType::kScalar) return "";
    auto q = fs.storage->NewQuerier();
    pq::QueryError qe{};
    auto r = Guarded([&] { return engine_.RangeExpr(*q, e, t - 60000, t + 60000, 60000, &qe); });
    if (!r.ok()) return "    - range query failed: " + r.status().message() + "\n";
    pq::QueryResult mid;
    mid.type = pq::ValueType::kVector;
    for (const auto& s : r->matrix)
      for (const auto& p : s.points)
        if (p.t == t) mid.vector.push_back({s.metric, p.t, p.v, p.h});
    if (instant.type == pq::ValueType::kScalar) {
      mid.type = pq::ValueType::kScalar;
      mid.scalar = {t, mid.vector.empty() ? std::nan("") : mid.vector[0].v};
    }
    return Check(ev, mid, qe, {t, t, 0}, opts_.max_issues, /*check_annotations=*/false);
  }

  const Options& opts_;
  pq::Engine engine_;
};

struct FileCounts {
  int total = 0, passed = 0, failed = 0, skip_hist = 0, skip_st = 0;
  int skipped() const { return skip_hist + skip_st; }
};

std::string EvalHeader(const EvalCmd& ev) {
  if (ev.is_range)
    return "eval range from " + FormatMs(ev.start_ms) + " to " + FormatMs(ev.end_ms) + " step " +
           FormatMs(ev.step_ms) + " " + ev.expr;
  return "eval instant at " + FormatMs(ev.start_ms) + " " + ev.expr;
}

FileCounts RunFile(const TestFile& f, Runner& runner, const Options& opts) {
  FileCounts c;
  FileState fs;
  for (const auto& p : f.problems)
    if (opts.verbose) std::printf("PROBLEM %s: %s\n", f.name.c_str(), p.c_str());
  for (const Command& cmd : f.cmds) {
    if (std::holds_alternative<ClearCmd>(cmd)) {
      fs = FileState();
    } else if (const auto* l = std::get_if<LoadCmd>(&cmd)) {
      LoadStats st;
      Status s = LoadInto(*l, *fs.storage, &st);
      if (!s.ok() && opts.verbose)
        std::printf("LOAD FAILED %s:%d: %s\n", f.name.c_str(), l->line, s.message().c_str());
      fs.start_ts_series.insert(fs.start_ts_series.end(), st.start_ts_series.begin(),
                                st.start_ts_series.end());
    } else if (const auto* ev = std::get_if<EvalCmd>(&cmd)) {
      c.total++;
      CaseResult r = runner.Run(*ev, fs);
      switch (r.verdict) {
        case Verdict::kPass:
          c.passed++;
          break;
        case Verdict::kSkipHistogram:
          c.skip_hist++;
          break;
        case Verdict::kSkipStartTs:
          c.skip_st++;
          break;
        case Verdict::kFail:
          c.failed++;
          if (opts.verbose)
            std::printf("FAIL %s:%d: %s\n%s", f.name.c_str(), ev->line, EvalHeader(*ev).c_str(),
                        r.detail.c_str());
          break;
      }
    }
  }
  return c;
}

int Usage() {
  std::fprintf(stderr,
               "usage: promql_conformance [--verbose] [--file NAME] [--parse-only] "
               "[--range-check] [--min-pass NAME=N]... DIR\n"
               "  NAME in --min-pass is a file name (literals.test) or 'total'.\n");
  return 2;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--verbose" || a == "-v") {
      o.verbose = true;
    } else if (a == "--parse-only") {
      o.parse_only = true;
    } else if (a == "--range-check") {
      o.range_check = true;
    } else if (a == "--file") {
      if (!value(&o.file)) return Usage();
    } else if (a == "--min-pass" || a == "--require-file") {
      if (!value(&v)) return Usage();
      size_t eq = v.rfind('=');
      if (eq == std::string::npos || eq == 0) return Usage();
      char* end = nullptr;
      long n = std::strtol(v.c_str() + eq + 1, &end, 10);
      if (*end || end == v.c_str() + eq + 1) return Usage();
      o.min_pass.push_back({v.substr(0, eq), static_cast<int>(n)});
    } else if (!a.empty() && a[0] != '-' && o.dir.empty()) {
      o.dir = a;
    } else {
      return Usage();
    }
  }
  if (o.dir.empty()) return Usage();
  if (o.parse_only) return RunParseOnly(o.dir, o.file, o.verbose) == 2 ? 2 : 0;

  auto files = ListTestFiles(o.dir);
  if (!files.ok()) {
    std::fprintf(stderr, "%s\n", files.status().message().c_str());
    return 2;
  }
  if (files->empty()) {
    std::fprintf(stderr, "no *.test files in %s\n", o.dir.c_str());
    return 2;
  }
  Runner runner(o);
  std::map<std::string, FileCounts> per_file;
  FileCounts tot;
  for (const std::string& name : *files) {
    if (!o.file.empty() && name != o.file) continue;
    auto text = ReadFile(o.dir + "/" + name);
    if (!text.ok()) {
      std::fprintf(stderr, "%s\n", text.status().message().c_str());
      return 2;
    }
    TestFile f = ParseTestFile(name, *text);
    FileCounts c = RunFile(f, runner, o);
    std::printf("%-26s %4d/%-4d  (skipped %d)\n", name.c_str(), c.passed, c.total, c.skipped());
    std::fflush(stdout);
    per_file[name] = c;
    tot.total += c.total, tot.passed += c.passed, tot.failed += c.failed;
    tot.skip_hist += c.skip_hist, tot.skip_st += c.skip_st;
  }
  if (!o.file.empty() && per_file.empty()) {
    std::fprintf(stderr, "no file %s in %s\n", o.file.c_str(), o.dir.c_str());
    return 2;
  }
  std::printf(
      "%-26s %4d/%-4d  (skipped %d: %d native histograms, %d start timestamps; failed %d)\n",
      "total", tot.passed, tot.total, tot.skipped(), tot.skip_hist, tot.skip_st, tot.failed);

  int rc = 0;
  for (const auto& [name, min] : o.min_pass) {
    int got;
    if (name == "total") {
      got = tot.passed;
    } else if (auto it = per_file.find(name); it != per_file.end()) {
      got = it->second.passed;
    } else {
      // A threshold for a file that was not run (missing, or filtered out by
      // --file) must not pass silently.
      std::fprintf(stderr, "min-pass: %s was not run\n", name.c_str());
      rc = 1;
      continue;
    }
    if (got < min) {
      std::fprintf(stderr, "min-pass: %s passed %d, required %d\n", name.c_str(), got, min);
      rc = 1;
    }
  }
  return rc;
}

}  // namespace
}  // namespace berth::monitor::conformance

int main(int argc, char** argv) { return berth::monitor::conformance::Main(argc, argv); }
