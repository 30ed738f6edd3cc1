#include "testfile.h"

#include <dirent.h>
#include <re2/re2.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

// The unit tests' in-memory head (the conformance build does not put
// tests/unit on the include path).
#include "testing/memory_head.h"

namespace berth::monitor::conformance {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Splits off the first whitespace-separated word.
std::string_view NextWord(std::string_view& s) {
  s = Trim(s);
  size_t i = 0;
  while (i < s.size() && !IsSpace(s[i])) i++;
  std::string_view w = s.substr(0, i);
  s = Trim(s.substr(i));
  return w;
}

// Scans a float at the start of s the way the test files write them: an
// optionally signed decimal (exponent allowed) or Inf/NaN in
// any case. Returns the bytes used, 0 when there is no number. `signed_ok`
// is false for the increment of `a+bxn`, whose sign is the operator.
size_t ScanFloat(std::string_view s, bool signed_ok, double* out) {
  size_t i = 0;
  bool neg = false;
  if (signed_ok && i < s.size() && (s[i] == '+' || s[i] == '-')) {
    neg = s[i] == '-';
    i++;
  }
  auto word = [&](std::string_view w) {
    if (s.size() - i < w.size()) return false;
    return Lower(s.substr(i, w.size())) == w &&
           (s.size() - i == w.size() || !IsNameChar(s[i + w.size()]) || s[i + w.size()] == 'x');
  };
  if (word("inf")) {
    *out = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return i + 3;
  }
  if (word("nan")) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return i + 3;
  }
  size_t start = i;
  // No hex here: in "0+0x10" the x is the repeat operator, as in Prometheus's
  // series-description lexer.
  size_t digits = 0;
  while (i < s.size() && IsDigit(s[i])) i++, digits++;
  if (i < s.size() && s[i] == '.') {
    i++;
    while (i < s.size() && IsDigit(s[i])) i++, digits++;
  }
  if (digits == 0) return 0;
  // An exponent only when digits follow, so "1e" stays an error and "2+3x4"
  // is not misread.
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) j++;
    if (j < s.size() && IsDigit(s[j])) {
      while (j < s.size() && IsDigit(s[j])) j++;
      i = j;
    }
  }
  std::string num(s.substr(start, i - start));
  double v = std::strtod(num.c_str(), nullptr);
  *out = neg ? -v : v;
  return i;
}

// Scans a Prometheus duration (optionally signed when signed_ok) at the start
// of s, in milliseconds. A bare 0 is allowed, as model.ParseDuration allows.
size_t ScanDuration(std::string_view s, bool signed_ok, double* out) {
  size_t i = 0;
  bool neg = false;
  if (signed_ok && i < s.size() && (s[i] == '+' || s[i] == '-')) {
    neg = s[i] == '-';
    i++;
  }
  size_t start = i;
  int64_t total = 0;
  // Units must appear in decreasing order, each at most once.
  static constexpr struct {
    const char* unit;
    int64_t ms;
  } kUnits[] = {{"y", 365LL * 24 * 3600 * 1000},
                {"w", 7LL * 24 * 3600 * 1000},
                {"d", 24LL * 3600 * 1000},
                {"h", 3600 * 1000},
                {"m", 60 * 1000},
                {"s", 1000},
                {"ms", 1}};
  size_t next_unit = 0;
  bool any = false;
  while (i < s.size() && IsDigit(s[i])) {
    size_t d0 = i;
    while (i < s.size() && IsDigit(s[i])) i++;
    int64_t n = std::strtoll(std::string(s.substr(d0, i - d0)).c_str(), nullptr, 10);
    size_t u = next_unit;
    for (; u < std::size(kUnits); u++) {
      std::string_view unit = kUnits[u].unit;
      if (s.substr(i, unit.size()) != unit) continue;
      // "m" must not swallow the "m" of "ms".
      if (unit == "m" && s.substr(i, 2) == "ms") continue;
      break;
    }
    if (u == std::size(kUnits)) {
      // A bare number: only "0" is a duration.
      if (!any && n == 0 && i - d0 >= 1) {
        *out = 0;
        return i;
      }
      return 0;
    }
    i += std::string_view(kUnits[u].unit).size();
    total += n * kUnits[u].ms;
    next_unit = u + 1;
    any = true;
  }
  if (!any || i == start) return 0;
  *out = neg ? -static_cast<double>(total) : static_cast<double>(total);
  return i;
}

Result<std::shared_ptr<const HistogramLiteral>> ParseHistogram(std::string_view s, size_t* used) {
  // s starts with "{{".
  size_t end = s.find("}}");
  if (end == std::string_view::npos) return Invalid("unterminated histogram literal");
  auto h = std::make_shared<HistogramLiteral>();
  h->text = std::string(s.substr(0, end + 2));
  std::string_view body = s.substr(2, end - 2);
  static const std::set<std::string> kScalars = {"schema",     "sum",    "count",   "z_bucket",
                                                 "z_bucket_w", "offset", "n_offset"};
  static const std::set<std::string> kLists = {"buckets", "n_buckets", "custom_values"};
  while (true) {
    body = Trim(body);
    if (body.empty()) break;
    size_t colon = body.find(':');
    if (colon == std::string_view::npos)
      return Invalid("histogram field without ':' in " + h->text);
    std::string key(Trim(body.substr(0, colon)));
    body = Trim(body.substr(colon + 1));
    if (kLists.count(key)) {
      if (body.empty() || body[0] != '[') return Invalid("histogram field " + key + " needs [..]");
      size_t close = body.find(']');
      if (close == std::string_view::npos) return Invalid("unterminated [ in " + h->text);
      std::string_view items = body.substr(1, close - 1);
      std::vector<double> vals;
      while (true) {
        std::string_view w = NextWord(items);
        if (w.empty()) break;
        double v;
        if (ScanFloat(w, true, &v) != w.size())
          return Invalid("bad number '" + std::string(w) + "' in " + h->text);
        vals.push_back(v);
      }
      h->lists[key] = std::move(vals);
      body = body.substr(close + 1);
    } else {
      std::string_view w = NextWord(body);
      if (key == "counter_reset_hint") {
        if (w != "unknown" && w != "reset" && w != "not_reset" && w != "gauge")
          return Invalid("bad counter_reset_hint in " + h->text);
        h->counter_reset_hint = std::string(w);
      } else if (kScalars.count(key)) {
        double v;
        if (w.empty() || ScanFloat(w, true, &v) != w.size())
          return Invalid("bad value for " + key + " in " + h->text);
        h->scalars[key] = v;
      } else {
        return Invalid("unknown histogram field '" + key + "' in " + h->text);
      }
    }
  }
  *used = end + 2;
  return std::shared_ptr<const HistogramLiteral>(std::move(h));
}

}  // namespace

FloatHistogram ToFloatHistogram(const HistogramLiteral& lit) {
  FloatHistogram h;
  auto scalar = [&](const char* k, double def) {
    auto it = lit.scalars.find(k);
    return it == lit.scalars.end() ? def : it->second;
  };
  h.schema = static_cast<int32_t>(scalar("schema", 0));
  h.sum = scalar("sum", 0);
  h.count = scalar("count", 0);
  h.zero_count = scalar("z_bucket", 0);
  h.zero_threshold = scalar("z_bucket_w", 0);
  auto list = [&](const char* k) {
    auto it = lit.lists.find(k);
    return it == lit.lists.end() ? std::vector<double>{} : it->second;
  };
  h.positive_buckets = list("buckets");
  if (!h.positive_buckets.empty())
    h.positive_spans.push_back({static_cast<int32_t>(scalar("offset", 0)),
                                static_cast<uint32_t>(h.positive_buckets.size())});
  h.negative_buckets = list("n_buckets");
  if (!h.negative_buckets.empty())
    h.negative_spans.push_back({static_cast<int32_t>(scalar("n_offset", 0)),
                                static_cast<uint32_t>(h.negative_buckets.size())});
  h.custom_values = list("custom_values");
  const std::string& hint = lit.counter_reset_hint;
  h.counter_reset_hint = hint == "reset"       ? CounterResetHint::kCounterReset
                         : hint == "not_reset" ? CounterResetHint::kNotCounterReset
                         : hint == "gauge"     ? CounterResetHint::kGauge
                                               : CounterResetHint::kUnknown;
  return h;
}

namespace {

// "xN" at the start of s: the repeat count.
size_t ScanRepeat(std::string_view s, int64_t* n) {
  if (s.empty() || s[0] != 'x') return 0;
  size_t i = 1;
  while (i < s.size() && IsDigit(s[i])) i++;
  if (i == 1) return 0;
  *n = std::strtoll(std::string(s.substr(1, i - 1)).c_str(), nullptr, 10);
  return i;
}

// Go's strconv.Unquote for the three quote styles the files use.
Result<std::string> Unquote(std::string_view s) {
  if (s.size() < 2 || s.front() != s.back())
    return Invalid("not a quoted string: " + std::string(s));
  char q = s.front();
  std::string_view body = s.substr(1, s.size() - 2);
  if (q == '`') {
    if (body.find('`') != std::string_view::npos) return Invalid("bad raw string");
    return std::string(body);
  }
  if (q != '"' && q != '\'') return Invalid("not a quoted string: " + std::string(s));
  std::string out;
  for (size_t i = 0; i < body.size(); i++) {
    char c = body[i];
    if (c == q) return Invalid("unescaped quote in " + std::string(s));
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= body.size()) return Invalid("trailing backslash in " + std::string(s));
    switch (body[i]) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      case '\'':
        out += '\'';
        break;
      case 'x': {
        if (i + 2 >= body.size()) return Invalid("bad \\x escape");
        std::string hex(body.substr(i + 1, 2));
        out += static_cast<char>(std::strtol(hex.c_str(), nullptr, 16));
        i += 2;
        break;
      }
      case 'u':
      case 'U': {
        size_t n = body[i] == 'u' ? 4 : 8;
        if (i + n >= body.size()) return Invalid("bad unicode escape");
        uint32_t cp = static_cast<uint32_t>(
            std::strtoul(std::string(body.substr(i + 1, n)).c_str(), nullptr, 16));
        i += n;
        // UTF-8 encode.
        if (cp < 0x80) {
          out += static_cast<char>(cp);
        } else if (cp < 0x800) {
          out += static_cast<char>(0xC0 | (cp >> 6));
          out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
          out += static_cast<char>(0xE0 | (cp >> 12));
          out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
          out += static_cast<char>(0xF0 | (cp >> 18));
          out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
          out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (cp & 0x3F));
        }
        break;
      }
      default:
        if (body[i] >= '0' && body[i] <= '7' && i + 2 < body.size()) {
          out += static_cast<char>(std::strtol(std::string(body.substr(i, 3)).c_str(), nullptr, 8));
          i += 2;
          break;
        }
        return Invalid("unknown escape in " + std::string(s));
    }
  }
  return out;
}

// The length of a quoted string starting at s[0] (a quote char), or 0.
size_t QuotedLen(std::string_view s) {
  char q = s[0];
  for (size_t i = 1; i < s.size(); i++) {
    if (q != '`' && s[i] == '\\') {
      i++;
      continue;
    }
    if (s[i] == q) return i + 1;
  }
  return 0;
}

// Go's parseNumber: an integer in any base strconv accepts with base 0, or
// a float.
bool ParseNumber(std::string_view s, double* out) {
  if (s.empty()) return false;
  std::string str(s);
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(str.c_str(), &end, 0);
  if (errno == 0 && end == str.c_str() + str.size()) {
    *out = static_cast<double>(n);
    return true;
  }
  // strtod would also take "infinity", hex floats and "nan(..)", which Go's
  // ParseFloat takes too (bar the last); good enough for a number-only line.
  double v;
  if (ScanFloat(s, true, &v) == s.size()) {
    *out = v;
    return true;
  }
  return false;
}

struct Line {
  int no;                 // 1-based
  std::string_view text;  // trimmed; "" for blank and comment lines
};

std::vector<Line> GetLines(std::string_view input) {
  std::vector<Line> out;
  int no = 0;
  while (!input.empty() || no == 0) {
    size_t nl = input.find('\n');
    std::string_view l = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    l = Trim(l);
    if (StartsWith(l, "#")) l = {};
    out.push_back({++no, l});
    if (nl == std::string_view::npos) break;
  }
  return out;
}

// "<series> <values>" (series may carry "@st" when allow_st).
Result<SeriesDef> ParseSeriesLine(std::string_view l, bool allow_st, bool durations_if_st) {
  auto sel = ParseSeriesSelector(l);
  if (!sel.ok()) return sel.status();
  SeriesDef def;
  def.labels = std::move(sel->first);
  std::string_view rest = l.substr(sel->second);
  if (StartsWith(rest, "@st")) {
    if (!allow_st) return Invalid("@st is only allowed on load lines");
    def.start_timestamps = true;
    rest = rest.substr(3);
  }
  if (!rest.empty() && !IsSpace(rest[0]))
    return Invalid("unexpected '" + std::string(rest.substr(0, 1)) + "' after series selector");
  auto vals = ParseSequence(Trim(rest), def.start_timestamps && durations_if_st);
  if (!vals.ok()) return vals.status();
  def.values = std::move(*vals);
  return def;
}

// Applies problems to the eval being built.
struct Parser {
  TestFile* f;
  void Problem(int line, const std::string& why, std::string_view text) {
    f->problems.push_back("line " + std::to_string(line) + ": " + why + ": " + std::string(text));
  }
};

bool ParseExpect(std::string_view l, Expectation* e, std::string* err) {
  std::string_view rest = l;
  NextWord(rest);  // "expect"
  std::string_view kind = NextWord(rest);
  static const std::map<std::string_view, ExpectKind> kKinds = {
      {"fail", ExpectKind::kFail},      {"warn", ExpectKind::kWarn},
      {"no_warn", ExpectKind::kNoWarn}, {"info", ExpectKind::kInfo},
      {"no_info", ExpectKind::kNoInfo}, {"ordered", ExpectKind::kOrdered}};
  auto it = kKinds.find(kind);
  if (it == kKinds.end()) {
    *err = "unknown expect type '" + std::string(kind) + "'";
    return false;
  }
  e->kind = it->second;
  if (rest.empty()) {
    e->match = Expectation::Match::kAny;
    return true;
  }
  // The message is everything after "msg:" / "regex:" (spaces trimmed), so it
  // may itself contain colons.
  size_t colon = rest.find(':');
  std::string_view mt = colon == std::string_view::npos ? rest : rest.substr(0, colon);
  std::string_view text =
      colon == std::string_view::npos ? std::string_view() : Trim(rest.substr(colon + 1));
  if ((mt != "msg" && mt != "regex") || text.empty()) {
    *err = "expected 'msg: TEXT' or 'regex: PATTERN' after expect " + std::string(kind);
    return false;
  }
  if (e->kind == ExpectKind::kOrdered || e->kind == ExpectKind::kNoWarn ||
      e->kind == ExpectKind::kNoInfo) {
    *err = "expect " + std::string(kind) + " takes no message";
    return false;
  }
  e->match = mt == "msg" ? Expectation::Match::kMsg : Expectation::Match::kRegex;
  e->text = std::string(text);
  if (e->match == Expectation::Match::kRegex) {
    RE2 re(e->text);
    if (!re.ok()) {
      *err = "bad regex: " + re.error();
      return false;
    }
  }
  return true;
}

// Parses the header "eval[_x] instant at T EXPR" / "eval[_x] range from A to B step S EXPR".
bool ParseEvalHeader(std::string_view l, EvalCmd* ev, std::string* err) {
  std::string_view rest = l;
  std::string head = Lower(NextWord(rest));
  if (head == "eval_fail")
    ev->legacy_fail = true;
  else if (head == "eval_warn")
    ev->legacy_warn = true;
  else if (head == "eval_info")
    ev->legacy_info = true;
  else if (head == "eval_ordered")
    ev->legacy_ordered = true;
  else if (head != "eval") {
    *err = "unknown command '" + head + "'";
    return false;
  }
  std::string_view mode = NextWord(rest);
  auto dur = [&](std::string_view w, int64_t* out) {
    auto d = ParseDurationMs(w);
    if (!d.ok()) {
      *err = d.status().message();
      return false;
    }
    *out = *d;
    return true;
  };
  if (mode == "instant") {
    if (NextWord(rest) != "at") {
      *err = "expected 'at <time>'";
      return false;
    }
    if (!dur(NextWord(rest), &ev->start_ms)) return false;
    ev->end_ms = ev->start_ms;
  } else if (mode == "range") {
    if (ev->legacy_ordered) {
      *err = "eval_ordered is for instant queries only";
      return false;
    }
    ev->is_range = true;
    if (NextWord(rest) != "from" || !dur(NextWord(rest), &ev->start_ms) || NextWord(rest) != "to" ||
        !dur(NextWord(rest), &ev->end_ms) || NextWord(rest) != "step" ||
        !dur(NextWord(rest), &ev->step_ms)) {
      if (err->empty()) *err = "expected 'from <time> to <time> step <duration>'";
      return false;
    }
    if (ev->end_ms < ev->start_ms) {
      *err = "end before start";
      return false;
    }
  } else {
    *err = "expected 'instant' or 'range'";
    return false;
  }
  ev->expr = std::string(rest);
  if (ev->expr.empty()) {
    *err = "no expression";
    return false;
  }
  return true;
}

void ParseEvalBody(const std::vector<Line>& lines, size_t* i, EvalCmd* ev, Parser* p) {
  auto bad = [&](const Line& l, const std::string& why) {
    p->Problem(l.no, why, l.text);
    if (ev->broken.empty()) ev->broken = "line " + std::to_string(l.no) + ": " + why;
  };
  while (*i + 1 < lines.size() && !lines[*i + 1].text.empty()) {
    const Line& l = lines[++*i];
    std::string_view t = l.text;
    if (StartsWith(t, "expected_fail_message") || StartsWith(t, "expected_fail_regexp")) {
      bool msg = StartsWith(t, "expected_fail_message");
      std::string v(Trim(t.substr(msg ? 21 : 20)));
      if (!ev->legacy_fail) bad(l, "expected_fail_* needs eval_fail");
      (msg ? ev->legacy_fail_message : ev->legacy_fail_regexp) = v;
      continue;
    }
    if (StartsWith(t, "expect range vector")) {
      std::string_view rest = t.substr(19);
      std::string err;
      int64_t a = 0, b = 0, s = 0;
      auto dur = [&](std::string_view w, int64_t* out) {
        auto d = ParseDurationMs(w);
        if (!d.ok()) return false;
        *out = *d;
        return true;
      };
      if (NextWord(rest) != "from" || !dur(NextWord(rest), &a) || NextWord(rest) != "to" ||
          !dur(NextWord(rest), &b) || NextWord(rest) != "step" || !dur(NextWord(rest), &s) ||
          !rest.empty() || b < a) {
        bad(l, "bad 'expect range vector from A to B step S'");
        continue;
      }
      if (ev->is_range) {
        bad(l, "expect range vector is for instant queries");
        continue;
      }
      ev->expect_range_vector = true;
      ev->rv_start_ms = a;
      ev->rv_end_ms = b;
      ev->rv_step_ms = s;
      continue;
    }
    if (StartsWith(t, "expect string")) {
      std::string_view q = Trim(t.substr(13));
      auto s = Unquote(q);
      if (!s.ok()) {
        bad(l, "expect string needs a quoted string literal");
        continue;
      }
      ev->expect_string = *s;
      continue;
    }
    {
      std::string_view rest = t;
      if (NextWord(rest) == "expect") {
        Expectation e;
        std::string err;
        if (!ParseExpect(t, &e, &err)) {
          bad(l, err);
          continue;
        }
        ev->expects.push_back(std::move(e));
        continue;
      }
    }
    double num;
    if (ParseNumber(t, &num)) {
      if (ev->expect_scalar || !ev->series.empty()) bad(l, "a scalar must be the only result");
      SeqValue v;
      v.v = num;
      ev->expect_scalar = v;
      continue;
    }
    auto def = ParseSeriesLine(t, false, false);
    if (!def.ok()) {
      bad(l, def.status().message());
      continue;
    }
    if (ev->expect_scalar) bad(l, "a scalar must be the only result");
    if (def->values.empty()) {
      bad(l, "expected series without a value");
      continue;
    }
    if (!ev->is_range && !ev->expect_range_vector && def->values.size() > 1) {
      bad(l, "several values for an instant query without 'expect range vector'");
      continue;
    }
    for (const auto& s : ev->series)
      if (s.labels == def->labels) bad(l, "series listed twice");
    ev->series.push_back({l.no, std::move(def->labels), std::move(def->values)});
  }
  int fails = 0;
  bool warn = false, no_warn = false, info = false, no_info = false;
  for (const auto& e : ev->expects) {
    fails += e.kind == ExpectKind::kFail;
    warn |= e.kind == ExpectKind::kWarn;
    no_warn |= e.kind == ExpectKind::kNoWarn;
    info |= e.kind == ExpectKind::kInfo;
    no_info |= e.kind == ExpectKind::kNoInfo;
  }
  auto whole = [&](const std::string& why) {
    p->Problem(ev->line, why, ev->expr);
    if (ev->broken.empty()) ev->broken = why;
  };
  if (fails > 1) whole("more than one 'expect fail'");
  if (warn && no_warn) whole("'expect warn' together with 'expect no_warn'");
  if (info && no_info) whole("'expect info' together with 'expect no_info'");
  if (ev->is_range && ev->IsOrdered()) whole("'ordered' on a range query");
}

}  // namespace

bool Expectation::Matches(std::string_view s) const {
  switch (match) {
    case Match::kAny:
      return true;
    case Match::kMsg:
      return s == text;
    case Match::kRegex: {
      RE2 re(text);
      return re.ok() && RE2::PartialMatch(s, re);
    }
  }
  return false;
}

bool EvalCmd::HasExpect(ExpectKind k) const {
  for (const auto& e : expects)
    if (e.kind == k) return true;
  return false;
}
bool EvalCmd::IsFail() const { return legacy_fail || HasExpect(ExpectKind::kFail); }
bool EvalCmd::IsOrdered() const { return legacy_ordered || HasExpect(ExpectKind::kOrdered); }
bool EvalCmd::ExpectsHistogram() const {
  if (expect_scalar && expect_scalar->kind == SeqValue::Kind::kHistogram) return true;
  for (const auto& s : series)
    for (const auto& v : s.values)
      if (v.kind == SeqValue::Kind::kHistogram) return true;
  return false;
}

Result<int64_t> ParseDurationMs(std::string_view s) {
  double v;
  if (s.empty() || ScanDuration(s, false, &v) != s.size())
    return Invalid("bad duration '" + std::string(s) + "'");
  return static_cast<int64_t>(v);
}

Result<std::vector<SeqValue>> ParseSequence(std::string_view s, bool durations) {
  std::vector<SeqValue> out;
  auto scan = [&](std::string_view t, bool signed_ok, double* v) {
    return durations ? ScanDuration(t, signed_ok, v) : ScanFloat(t, signed_ok, v);
  };
  while (true) {
    s = Trim(s);
    if (s.empty()) break;
    size_t tok_end = 0;
    while (tok_end < s.size() && !IsSpace(s[tok_end])) tok_end++;
    std::string_view tok = s.substr(0, tok_end);
    if (StartsWith(s, "{{")) {
      if (durations) return Invalid("histogram on a start-timestamp line");
      size_t used = 0;
      auto h = ParseHistogram(s, &used);
      if (!h.ok()) return h.status();
      std::string_view rest = s.substr(used);
      SeqValue hv;
      hv.kind = SeqValue::Kind::kHistogram;
      hv.h = *h;
      hv.fh = std::make_shared<const FloatHistogram>(ToFloatHistogram(**h));
      int64_t n = 0;
      size_t r;
      if ((r = ScanRepeat(rest, &n))) {
        for (int64_t k = 0; k <= n; k++) out.push_back(hv);
        rest = rest.substr(r);
      } else if (!rest.empty() && (rest[0] == '+' || rest[0] == '-') &&
                 StartsWith(rest.substr(1), "{{")) {
        // {{a}}+{{b}}xN: N+1 histograms a, a+b, a+2b, ... (added the way
        // Prometheus adds histograms, reset hints included).
        const bool minus = rest[0] == '-';
        size_t used2 = 0;
        auto inc = ParseHistogram(rest.substr(1), &used2);
        if (!inc.ok()) return inc.status();
        FloatHistogram step = ToFloatHistogram(**inc);
        rest = rest.substr(1 + used2);
        if (!(r = ScanRepeat(rest, &n))) return Invalid("expected xN after histogram increment");
        rest = rest.substr(r);
        out.push_back(hv);
        FloatHistogram cur = *hv.fh;
        for (int64_t k = 1; k <= n; k++) {
          if (cur.schema > step.schema && !cur.UsesCustomBuckets())
            return Invalid("error combining histograms: cannot merge from schema " +
                           std::to_string(cur.schema) + " to " + std::to_string(step.schema));
          HistogramOpInfo info = minus ? HistogramSub(cur, step) : HistogramAdd(cur, step);
          if (info.incompatible) return Invalid("error combining histograms: incompatible schemas");
          SeqValue next = hv;
          next.fh = std::make_shared<const FloatHistogram>(cur);
          out.push_back(std::move(next));
        }
      } else {
        out.push_back(hv);
      }
      if (!rest.empty() && !IsSpace(rest[0]))
        return Invalid("unexpected text after histogram: " + std::string(rest.substr(0, 20)));
      s = rest;
      continue;
    }
    s = s.substr(tok_end);
    if (tok == "_") {
      out.push_back({SeqValue::Kind::kOmitted, 0, nullptr});
      continue;
    }
    if (StartsWith(tok, "_x")) {
      int64_t n = 0;
      // `_xN` is N missing samples, not N+1: nothing to increment.
      if (ScanRepeat(tok.substr(1), &n) != tok.size() - 1)
        return Invalid("bad token '" + std::string(tok) + "'");
      for (int64_t k = 0; k < n; k++) out.push_back({SeqValue::Kind::kOmitted, 0, nullptr});
      continue;
    }
    if (tok == "stale") {
      if (durations) return Invalid("stale on a start-timestamp line");
      out.push_back({SeqValue::Kind::kStale, StaleNaN(), nullptr});
      continue;
    }
    double a = 0;
    size_t i = scan(tok, true, &a);
    if (i == 0) return Invalid("bad value '" + std::string(tok) + "'");
    std::string_view rest = tok.substr(i);
    if (rest.empty()) {
      out.push_back({SeqValue::Kind::kFloat, a, nullptr});
      continue;
    }
    int64_t n = 0;
    double b = 0;
    if (size_t r = ScanRepeat(rest, &n); r == rest.size()) {
      b = 0;  // axN == a+0xN
    } else if (rest[0] == '+' || rest[0] == '-') {
      bool minus = rest[0] == '-';
      size_t j = scan(rest.substr(1), false, &b);
      if (j == 0) return Invalid("bad increment in '" + std::string(tok) + "'");
      std::string_view rep = rest.substr(1 + j);
      if (ScanRepeat(rep, &n) != rep.size() || rep.empty())
        return Invalid("expected xN in '" + std::string(tok) + "'");
      if (minus) b = -b;
    } else {
      return Invalid("bad value '" + std::string(tok) + "'");
    }
    if (n > 10'000'000) return Invalid("repeat count too large in '" + std::string(tok) + "'");
    // a + k*b rather than a running sum, so long sequences do not drift.
    for (int64_t k = 0; k <= n; k++)
      out.push_back({SeqValue::Kind::kFloat, a + static_cast<double>(k) * b, nullptr});
  }
  return out;
}

Result<std::pair<Labels, size_t>> ParseSeriesSelector(std::string_view s) {
  std::vector<Label> ls;
  size_t i = 0;
  std::string name;
  while (i < s.size() && (i == 0 ? IsNameStart(s[i]) : IsNameChar(s[i]))) i++;
  name = std::string(s.substr(0, i));
  if (i < s.size() && s[i] == '{') {
    i++;
    auto skip = [&] {
      while (i < s.size() && IsSpace(s[i])) i++;
    };
    auto ident_or_quoted = [&](std::string* out) -> Status {
      skip();
      if (i < s.size() && (s[i] == '"' || s[i] == '\'' || s[i] == '`')) {
        size_t n = QuotedLen(s.substr(i));
        if (n == 0) return Invalid("unterminated string");
        auto u = Unquote(s.substr(i, n));
        if (!u.ok()) return u.status();
        *out = *u;
        i += n;
        return Status::Ok();
      }
      size_t st = i;
      while (i < s.size() && (i == st ? IsNameStart(s[i]) : IsNameChar(s[i]))) i++;
      if (i == st)
        return Invalid("expected a label name at '" + std::string(s.substr(st, 10)) + "'");
      *out = std::string(s.substr(st, i - st));
      return Status::Ok();
    };
    while (true) {
      skip();
      if (i >= s.size()) return Invalid("unterminated '{'");
      if (s[i] == '}') {
        i++;
        break;
      }
      bool quoted_name = s[i] == '"' || s[i] == '\'' || s[i] == '`';
      std::string key;
      BERTH_RETURN_IF_ERROR(ident_or_quoted(&key));
      skip();
      if (i < s.size() && (s[i] == ',' || s[i] == '}') && quoted_name) {
        // {"metric.name", ...}: a lone quoted string is the metric name.
        if (!name.empty()) return Invalid("metric name given twice");
        name = key;
      } else {
        if (i >= s.size() || s[i] != '=') return Invalid("expected '=' after label " + key);
        if (i + 1 < s.size() && (s[i + 1] == '~' || s[i + 1] == '='))
          return Invalid("only '=' is allowed in a series description");
        i++;
        skip();
        if (i >= s.size() || (s[i] != '"' && s[i] != '\'' && s[i] != '`'))
          return Invalid("expected a quoted value for label " + key);
        size_t n = QuotedLen(s.substr(i));
        if (n == 0) return Invalid("unterminated string");
        auto u = Unquote(s.substr(i, n));
        if (!u.ok()) return u.status();
        i += n;
        if (key == kMetricName) {
          name = *u;
        } else {
          for (const Label& l : ls)
            if (l.name == key) return Invalid("label " + key + " given twice");
          ls.push_back({key, *u});
        }
      }
      skip();
      if (i < s.size() && s[i] == ',') {
        i++;
        continue;
      }
      if (i < s.size() && s[i] == '}') continue;
      return Invalid("expected ',' or '}' in series selector");
    }
  } else if (name.empty()) {
    return Invalid("expected a series selector");
  }
  if (!name.empty()) ls.push_back({std::string(kMetricName), name});
  return std::make_pair(Labels(std::move(ls)), i);
}

TestFile ParseTestFile(std::string name, std::string_view text) {
  TestFile f;
  f.name = std::move(name);
  Parser p{&f};
  std::vector<Line> lines = GetLines(text);
  for (size_t i = 0; i < lines.size(); i++) {
    const Line& l = lines[i];
    if (l.text.empty()) continue;
    std::string_view rest = l.text;
    std::string cmd = Lower(NextWord(rest));
    if (cmd == "clear") {
      f.cmds.push_back(ClearCmd{l.no});
    } else if (StartsWith(cmd, "load")) {
      LoadCmd load;
      load.line = l.no;
      load.with_nhcb = cmd == "load_with_nhcb";
      bool ok = cmd == "load" || load.with_nhcb;
      auto d = ParseDurationMs(NextWord(rest));
      if (!ok || !d.ok() || !rest.empty() || *d <= 0) {
        p.Problem(l.no, "bad load command (load[_with_nhcb] <interval>)", l.text);
      } else {
        load.interval_ms = *d;
      }
      // A load block ends at the first blank (or comment) line.
      while (i + 1 < lines.size() && !lines[i + 1].text.empty()) {
        const Line& sl = lines[++i];
        auto def = ParseSeriesLine(sl.text, true, true);
        if (!def.ok()) {
          p.Problem(sl.no, def.status().message(), sl.text);
          continue;
        }
        def->line = sl.no;
        load.series.push_back(std::move(*def));
      }
      f.cmds.push_back(std::move(load));
    } else if (StartsWith(cmd, "eval")) {
      EvalCmd ev;
      ev.line = l.no;
      std::string err;
      if (!ParseEvalHeader(l.text, &ev, &err)) {
        p.Problem(l.no, err, l.text);
        ev.broken = "line " + std::to_string(l.no) + ": " + err;
        if (ev.expr.empty()) ev.expr = std::string(l.text);
      }
      ParseEvalBody(lines, &i, &ev, &p);
      f.cmds.push_back(std::move(ev));
    } else {
      p.Problem(l.no, "unknown command", l.text);
    }
  }
  return f;
}

std::optional<Labels> NhcbSeriesFor(const Labels& ls) {
  std::string_view name = ls.Name();
  auto strip = [&](std::string_view suffix) -> std::optional<std::string> {
    if (name.size() <= suffix.size() || name.substr(name.size() - suffix.size()) != suffix)
      return std::nullopt;
    return std::string(name.substr(0, name.size() - suffix.size()));
  };
  if (auto base = strip("_bucket")) {
    if (!ls.Has("le")) return std::nullopt;
    double le;
    std::string_view v = ls.Get("le");
    if (ScanFloat(v, true, &le) != v.size() || std::isnan(le)) return std::nullopt;
    return ls.Without("le").With(kMetricName, *base);
  }
  if (auto base = strip("_count")) return ls.With(kMetricName, *base);
  if (auto base = strip("_sum")) return ls.With(kMetricName, *base);
  return std::nullopt;
}

std::unique_ptr<tsdb::Head> NewMemoryHead() { return berth::testing::NewMemoryHead(); }

namespace {

// load_with_nhcb: one classic histogram (x_bucket{le=..}, x_count, x_sum)
// at one timestamp, collected series by series.
struct TempHistogram {
  std::map<double, double> buckets;  // le -> cumulative count
  std::optional<double> count, sum;
};

// The native histogram with custom buckets a classic one converts to, as
// Prometheus's convertnhcb does: the +Inf bucket is added when missing (with
// the count, or the highest bucket's count), bucket counts become the
// differences of the cumulative ones.
std::optional<FloatHistogram> ConvertNhcb(const TempHistogram& t) {
  std::vector<std::pair<double, double>> b(t.buckets.begin(), t.buckets.end());
  double count = t.count.value_or(0);
  if (b.empty() || !std::isinf(b.back().first)) {
    if (!t.count && !b.empty()) count = b.back().second;
    b.push_back({std::numeric_limits<double>::infinity(), count});
  }
  if (!t.count) count = b.back().second;
  FloatHistogram h;
  h.schema = kCustomBucketsSchema;
  h.count = count;
  h.sum = t.sum.value_or(0);
  double prev = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i + 1 < b.size()) h.custom_values.push_back(b[i].first);
    double c = b[i].second - prev;
    if (c < 0) return std::nullopt;  // not cumulative: Prometheus refuses it
    h.positive_buckets.push_back(c);
    prev = b[i].second;
  }
  h.positive_spans.push_back({0, static_cast<uint32_t>(h.positive_buckets.size())});
  HistogramCompact(h);
  return h;
}

}  // namespace

Status LoadInto(const LoadCmd& load, Storage& storage, LoadStats* stats) {
  auto app = storage.NewAppender();
  std::set<Labels> st;
  // A series given twice in one block is defined by its last line, as in the
  // reference (aggregators.test relies on it).
  std::map<std::pair<Labels, bool>, size_t> last;
  for (size_t k = 0; k < load.series.size(); k++)
    last[{load.series[k].labels, load.series[k].start_timestamps}] = k;
  std::map<Labels, std::map<int64_t, TempHistogram>> nhcb;
  for (size_t idx = 0; idx < load.series.size(); idx++) {
    const SeriesDef& def = load.series[idx];
    if (last[{def.labels, def.start_timestamps}] != idx) continue;
    if (def.start_timestamps) {
      st.insert(def.labels);
      continue;
    }
    // For load_with_nhcb, what this series contributes to a classic histogram.
    std::optional<Labels> nh = load.with_nhcb ? NhcbSeriesFor(def.labels) : std::nullopt;
    std::string_view name = def.labels.Name();
    auto ends = [&](std::string_view suf) {
      return name.size() > suf.size() && name.substr(name.size() - suf.size()) == suf;
    };
    double le = 0;
    if (nh && ends("_bucket")) ScanFloat(def.labels.Get("le"), true, &le);
    bool any = false;
    for (size_t k = 0; k < def.values.size(); k++) {
      const SeqValue& v = def.values[k];
      int64_t t = static_cast<int64_t>(k) * load.interval_ms;
      if (v.kind == SeqValue::Kind::kOmitted) continue;
      Status s;
      if (v.kind == SeqValue::Kind::kHistogram) {
        // The head sets the reset hints Prometheus's TSDB hands out.
        s = app->AppendHistogram(def.labels, t, *v.fh);
        stats->histograms++;
      } else {
        s = app->Append(def.labels, t, v.kind == SeqValue::Kind::kStale ? StaleNaN() : v.v);
        stats->samples++;
        if (nh && v.kind == SeqValue::Kind::kFloat) {
          TempHistogram& th = nhcb[*nh][t];
          if (ends("_bucket")) {
            th.buckets[le] = v.v;
          } else if (ends("_count")) {
            th.count = v.v;
          } else {
            th.sum = v.v;
          }
        }
      }
      if (!s.ok()) {
        app->Rollback();
        return Status(s.code(), "line " + std::to_string(def.line) + ": " + s.message());
      }
      any = true;
    }
    stats->series += any;
  }
  for (const auto& [ls, by_t] : nhcb) {
    for (const auto& [t, th] : by_t) {
      auto h = ConvertNhcb(th);
      if (!h) continue;
      Status s = app->AppendHistogram(ls, t, *h);
      if (!s.ok()) {
        app->Rollback();
        return Status(s.code(), "nhcb " + ls.String() + ": " + s.message());
      }
      stats->histograms++;
    }
  }
  Status s = app->Commit();
  if (!s.ok()) return s;
  stats->start_ts_series.insert(stats->start_ts_series.end(), st.begin(), st.end());
  return Status::Ok();
}

std::string FormatValue(double v) {
  if (IsStaleNaN(v)) return "stale";
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

std::string FormatSeq(const std::vector<SeqValue>& vs, size_t max_items) {
  std::string out;
  for (size_t i = 0; i < vs.size(); i++) {
    if (i == max_items) {
      out += " ... (" + std::to_string(vs.size()) + " values)";
      break;
    }
    if (i) out += ' ';
    switch (vs[i].kind) {
      case SeqValue::Kind::kFloat:
        out += FormatValue(vs[i].v);
        break;
      case SeqValue::Kind::kOmitted:
        out += '_';
        break;
      case SeqValue::Kind::kStale:
        out += "stale";
        break;
      case SeqValue::Kind::kHistogram:
        out += vs[i].fh ? HistogramString(*vs[i].fh) : vs[i].h->text;
        break;
    }
  }
  return out;
}

Result<std::vector<std::string>> ListTestFiles(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return NotFound("cannot open directory " + dir);
  std::vector<std::string> out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.substr(n.size() - 5) == ".test") out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunParseOnly(const std::string& dir, const std::string& only_file, bool verbose) {
  auto files = ListTestFiles(dir);
  if (!files.ok()) {
    std::fprintf(stderr, "%s\n", files.status().message().c_str());
    return 2;
  }
  int64_t t_evals = 0, t_inst = 0, t_range = 0, t_hist = 0, t_loads = 0, t_series = 0,
          t_samples = 0, t_problems = 0, t_files = 0;
  std::printf("%-26s %6s %8s %6s %6s %6s %8s %9s %5s\n", "file", "evals", "instant", "range",
              "histexp", "loads", "series", "samples", "bad");
  for (const std::string& name : *files) {
    if (!only_file.empty() && name != only_file) continue;
    auto text = ReadFile(dir + "/" + name);
    if (!text.ok()) {
      std::fprintf(stderr, "%s\n", text.status().message().c_str());
      return 2;
    }
    TestFile f = ParseTestFile(name, *text);
    int64_t evals = 0, inst = 0, range = 0, hist = 0, loads = 0, series = 0, samples = 0;
    std::vector<std::string> problems = f.problems;
    auto storage = NewMemoryHead();
    for (const Command& c : f.cmds) {
      if (std::holds_alternative<ClearCmd>(c)) {
        storage = NewMemoryHead();
      } else if (const auto* l = std::get_if<LoadCmd>(&c)) {
        loads++;
        LoadStats st;
        Status s = LoadInto(*l, *storage, &st);
        if (!s.ok())
          problems.push_back("load at line " + std::to_string(l->line) + ": " + s.message());
        series += st.series;
        samples += st.samples;
      } else if (const auto* e = std::get_if<EvalCmd>(&c)) {
        evals++;
        (e->is_range ? range : inst)++;
        hist += e->ExpectsHistogram();
        if (verbose)
          std::printf("  %s:%d %s %s [%zu series%s%s]\n", name.c_str(), e->line,
                      e->is_range ? "range" : "instant", e->expr.c_str(), e->series.size(),
                      e->expect_scalar ? ", scalar" : "", e->IsFail() ? ", fail" : "");
      }
    }
    std::printf("%-26s %6lld %8lld %6lld %6lld %6lld %8lld %9lld %5zu\n", name.c_str(),
                static_cast<long long>(evals), static_cast<long long>(inst),
                static_cast<long long>(range), static_cast<long long>(hist),
                static_cast<long long>(loads), static_cast<long long>(series),
                static_cast<long long>(samples), problems.size());
    for (const std::string& pr : problems) std::printf("    %s: %s\n", name.c_str(), pr.c_str());
    t_evals += evals, t_inst += inst, t_range += range, t_hist += hist, t_loads += loads;
    t_series += series, t_samples += samples, t_problems += problems.size(), t_files++;
  }
  std::printf("%-26s %6lld %8lld %6lld %6lld %6lld %8lld %9lld %5lld\n",
              ("total (" + std::to_string(t_files) + " files)").c_str(),
              static_cast<long long>(t_evals), static_cast<long long>(t_inst),
              static_cast<long long>(t_range), static_cast<long long>(t_hist),
              static_cast<long long>(t_loads), static_cast<long long>(t_series),
              static_cast<long long>(t_samples), static_cast<long long>(t_problems));
  return t_problems == 0 ? 0 : 1;
}

}  // namespace berth::monitor::conformance
