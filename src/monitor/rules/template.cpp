#include "monitor/rules/template.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>

#include "monitor/promql/parser.h"
#include "monitor/regex_template.h"

namespace berth::monitor::rules {

// ---------------------------------------------------------------------------
// Go number formatting.

namespace {

// The shortest decimal digits that read back as `v` (v finite, > 0), and the
// position of the decimal point relative to them (value = 0.DIGITS × 10^dp).
void ShortestDigits(double v, std::string* digits, int* dp) {
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
    if (std::strtod(buf, nullptr) == v || prec == 17) break;
  }
  std::string s(buf);
  size_t e = s.find('e');
  std::string mant = s.substr(0, e);
  int exp = std::atoi(s.c_str() + e + 1);
  digits->clear();
  for (char c : mant)
    if (c != '.') digits->push_back(c);
  while (digits->size() > 1 && digits->back() == '0') digits->pop_back();
  *dp = exp + 1;
}

std::string ExpText(int exp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  return buf;
}

std::string SpecialFloat(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+Inf" : "-Inf";
}

}  // namespace

std::string GoFormatV(double v) {
  if (!std::isfinite(v)) return SpecialFloat(v);
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  std::string sign = v < 0 ? "-" : "";
  std::string d;
  int dp = 0;
  ShortestDigits(std::fabs(v), &d, &dp);
  int exp = dp - 1;
  int nd = static_cast<int>(d.size());
  // strconv's shortest %g decides on the exponent form as if the precision
  // were 6, whatever the number of digits.
  if (exp < -4 || exp >= 6) {
    std::string m = d.substr(0, 1);
    if (nd > 1) m += "." + d.substr(1);
    return sign + m + ExpText(exp);
  }
  if (dp <= 0) return sign + "0." + std::string(static_cast<size_t>(-dp), '0') + d;
  if (dp >= nd) return sign + d + std::string(static_cast<size_t>(dp - nd), '0');
  return sign + d.substr(0, static_cast<size_t>(dp)) + "." + d.substr(static_cast<size_t>(dp));
}

std::string GoFormatG(double v, int precision) {
  if (!std::isfinite(v)) return SpecialFloat(v);
  if (precision < 0) return GoFormatV(v);
  // For finite values C's %.Ng and Go's agree (both drop trailing zeros and
  // pick the exponent form by the same rule).
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

std::string GoFormatEShortest(double v) {
  if (!std::isfinite(v)) return SpecialFloat(v);
  if (v == 0) return std::signbit(v) ? "-0e+00" : "0e+00";
  std::string d;
  int dp = 0;
  ShortestDigits(std::fabs(v), &d, &dp);
  std::string m = d.substr(0, 1);
  if (d.size() > 1) m += "." + d.substr(1);
  return (v < 0 ? "-" : "") + m + ExpText(dp - 1);
}

// ---------------------------------------------------------------------------
// The humanize family.

namespace {
std::string G4(double v) { return GoFormatG(v, 4); }
}  // namespace

std::string Humanize(double v) {
  if (v == 0 || !std::isfinite(v)) return G4(v);
  if (std::fabs(v) >= 1) {
    const char* prefix = "";
    for (const char* p : {"k", "M", "G", "T", "P", "E", "Z", "Y"}) {
      if (std::fabs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return G4(v) + prefix;
  }
  const char* prefix = "";
  for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return G4(v) + prefix;
}

std::string Humanize1024(double v) {
  if (std::fabs(v) <= 1 || !std::isfinite(v)) return G4(v);
  const char* prefix = "";
  for (const char* p : {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"}) {
    if (std::fabs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return G4(v) + prefix;
}

std::string HumanizeDuration(double v) {
  if (!std::isfinite(v)) return G4(v);
  if (v == 0) return G4(v) + "s";
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    auto whole = static_cast<int64_t>(v);
    int64_t seconds = whole % 60, minutes = (whole / 60) % 60, hours = (whole / 3600) % 24,
            days = whole / 86400;
    auto n = [](int64_t x) { return std::to_string(x); };
    if (days != 0)
      return sign + n(days) + "d " + n(hours) + "h " + n(minutes) + "m " + n(seconds) + "s";
    if (hours != 0) return sign + n(hours) + "h " + n(minutes) + "m " + n(seconds) + "s";
    if (minutes != 0) return sign + n(minutes) + "m " + n(seconds) + "s";
    return sign + G4(v) + "s";
  }
  const char* prefix = "";
  for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return G4(v) + prefix + "s";
}

std::string HumanizePercentage(double v) { return G4(v * 100) + "%"; }

std::string FormatMillisUtc(int64_t ms, char date_time_sep, std::string_view suffix) {
  int64_t secs = ms / 1000, frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, date_time_sep, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (frac != 0) {
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(frac));
    std::string f = buf;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out += suffix;
  return out;
}

namespace {

// Go's time.Time.String() in UTC for a millisecond timestamp.
std::string GoTimeString(int64_t ms) { return FormatMillisUtc(ms, ' ', " +0000 UTC"); }

Result<std::string> TimestampText(double v) {
  if (!std::isfinite(v)) return G4(v);
  double ns = v * 1e9;
  if (ns >= 9223372036854775807.0 || ns < -9223372036854775808.0)
    return Invalid(GoFormatV(v) +
                   " cannot be represented as a nanoseconds timestamp since it overflows int64");
  // Prometheus goes through model.Time: nanoseconds truncated to milliseconds.
  return GoTimeString(static_cast<int64_t>(ns) / 1'000'000);
}

}  // namespace

std::string HumanizeTimestamp(double v) {
  auto r = TimestampText(v);
  return r.ok() ? *r : r.status().message();
}

// ---------------------------------------------------------------------------
// Values and the syntax tree.

namespace {

struct Val {
  enum class K { kNil, kBool, kInt, kFloat, kString, kMap, kSample, kSamples, kData };
  K k = K::kNil;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::shared_ptr<const Labels> map;
  std::shared_ptr<const TemplateSample> sample;
  std::shared_ptr<const std::vector<TemplateSample>> samples;
  const TemplateData* data = nullptr;

  static Val Bool(bool v) {
    Val x;
    x.k = K::kBool;
    x.b = v;
    return x;
  }
  static Val Int(int64_t v) {
    Val x;
    x.k = K::kInt;
    x.i = v;
    return x;
  }
  static Val Float(double v) {
    Val x;
    x.k = K::kFloat;
    x.f = v;
    return x;
  }
  static Val Str(std::string v) {
    Val x;
    x.k = K::kString;
    x.s = std::move(v);
    return x;
  }
  static Val Map(Labels ls) {
    Val x;
    x.k = K::kMap;
    x.map = std::make_shared<const Labels>(std::move(ls));
    return x;
  }
  static Val Sample(TemplateSample s) {
    Val x;
    x.k = K::kSample;
    x.sample = std::make_shared<const TemplateSample>(std::move(s));
    return x;
  }
  static Val Samples(std::vector<TemplateSample> s) {
    Val x;
    x.k = K::kSamples;
    x.samples = std::make_shared<const std::vector<TemplateSample>>(std::move(s));
    return x;
  }
  bool IsNumber() const { return k == K::kInt || k == K::kFloat; }
  double Num() const { return k == K::kInt ? static_cast<double>(i) : f; }
};

const char* GoTypeName(const Val& v) {
  switch (v.k) {
    case Val::K::kNil:
      return "<nil>";
    case Val::K::kBool:
      return "bool";
    case Val::K::kInt:
      return "int";
    case Val::K::kFloat:
      return "float64";
    case Val::K::kString:
      return "string";
    case Val::K::kMap:
      return "map[string]string";
    case Val::K::kSample:
      return "*template.sample";
    case Val::K::kSamples:
      return "template.queryResult";
    case Val::K::kData:
      return "struct";
  }
  return "?";
}

std::string MapText(const Labels& ls) {
  std::string out = "map[";
  bool first = true;
  for (const auto& l : ls) {
    if (!first) out += " ";
    first = false;
    ((out += l.name) += ":") += l.value;
  }
  return out + "]";
}

// fmt's %v.
std::string Print(const Val& v) {
  switch (v.k) {
    case Val::K::kNil:
      return "<no value>";
    case Val::K::kBool:
      return v.b ? "true" : "false";
    case Val::K::kInt:
      return std::to_string(v.i);
    case Val::K::kFloat:
      return GoFormatV(v.f);
    case Val::K::kString:
      return v.s;
    case Val::K::kMap:
      return MapText(*v.map);
    case Val::K::kSample:
      return "{" + MapText(v.sample->labels) + " " + GoFormatV(v.sample->value) + "}";
    case Val::K::kSamples: {
      std::string out = "[";
      for (size_t i = 0; i < v.samples->size(); ++i) {
        if (i) out += " ";
        const auto& s = (*v.samples)[i];
        out += "{" + MapText(s.labels) + " " + GoFormatV(s.value) + "}";
      }
      return out + "]";
    }
    case Val::K::kData:
      return "{" + MapText(v.data->labels) + " " + MapText(v.data->external_labels) + " " +
             v.data->external_url + " " + GoFormatV(v.data->value) + "}";
  }
  return "";
}

bool Truth(const Val& v) {
  switch (v.k) {
    case Val::K::kNil:
      return false;
    case Val::K::kBool:
      return v.b;
    case Val::K::kInt:
      return v.i != 0;
    case Val::K::kFloat:
      return v.f != 0;
    case Val::K::kString:
      return !v.s.empty();
    case Val::K::kMap:
      return !v.map->empty();
    case Val::K::kSamples:
      return !v.samples->empty();
    default:
      return true;
  }
}

struct Pipeline;

struct Operand {
  enum class K { kDot, kField, kVar, kLiteral, kFunc, kPipe };
  K k = K::kDot;
  std::string name;                // variable ("$x") or function name
  std::vector<std::string> chain;  // field names after it
  Val lit;
  std::shared_ptr<Pipeline> pipe;
};

struct Command {
  std::vector<Operand> args;
  int line = 1, col = 0;
  std::string text;  // for error texts: Go's "at <...>"
};

struct Pipeline {
  std::vector<std::string> decl;  // variables declared (":=") or assigned ("=")
  bool assign = false;
  std::vector<Command> cmds;
};

}  // namespace

struct TemplateNode {
  enum class K { kList, kText, kAction, kIf, kRange, kWith };
  K k = K::kList;
  std::string text;
  std::shared_ptr<Pipeline> pipe;
  std::vector<std::shared_ptr<TemplateNode>> list, else_list;
};

namespace {

using NodePtr = std::shared_ptr<TemplateNode>;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsAlnum(char c) { return IsAlpha(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

const char* const kFunctions[] = {
    // Prometheus
    "humanize", "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp",
    "query", "first", "label", "value", "strvalue", "sortByLabel", "title", "toUpper", "toLower",
    "match", "reReplaceAll", "safeHtml", "stripPort", "stripDomain", "externalURL", "pathPrefix",
    "graphLink", "tableLink", "parseDuration", "toTime",
    // Go builtins
    "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index", "print", "printf",
    "println", "urlquery"};

bool KnownFunction(std::string_view n) {
  for (const char* f : kFunctions)
    if (n == f) return true;
  return false;
}

class Parser {
 public:
  Parser(std::string_view src, std::string name) : src_(src), name_(std::move(name)) {
    vars_ = {"$", "$labels", "$externalLabels", "$externalURL", "$value"};
  }

  Result<NodePtr> Run(bool* plain) {
    auto root = std::make_shared<TemplateNode>();
    std::string stop;
    if (!ParseList(&root->list, &stop)) return Invalid(err_);
    if (!stop.empty()) {
      Fail("unexpected {{" + stop + "}}");
      return Invalid(err_);
    }
    *plain = !saw_action_;
    return root;
  }

 private:
  int Line(size_t pos) const {
    return 1 + static_cast<int>(std::count(src_.begin(), src_.begin() + pos, '\n'));
  }
  int Col(size_t pos) const {
    size_t nl = src_.rfind('\n', pos == 0 ? 0 : pos - 1);
    return static_cast<int>(nl == std::string_view::npos || pos == 0 ? pos : pos - nl - 1);
  }
  bool Fail(const std::string& msg) {
    if (err_.empty())
      err_ =
          "template: " + name_ + ":" + std::to_string(Line(std::min(p_, src_.size()))) + ": " + msg;
    return false;
  }
  void SkipSpace() {
    while (p_ < src_.size() && IsSpace(src_[p_])) ++p_;
  }
  bool AtActionEnd() const {
    return src_.compare(p_, 2, "}}") == 0 || src_.compare(p_, 3, "-}}") == 0;
  }
  // Consumes "}}" or " -}}" (the space already skipped).
  bool EndAction() {
    SkipSpace();
    if (src_.compare(p_, 3, "-}}") == 0) {
      p_ += 3;
      trim_next_ = true;
      return true;
    }
    if (src_.compare(p_, 2, "}}") == 0) {
      p_ += 2;
      return true;
    }
    if (p_ >= src_.size()) return Fail("unclosed action");
    return Fail(std::string("unexpected \"") + src_[p_] + "\" in command");
  }

  // Parses nodes up to EOF or a {{end}}/{{else ...}}; *stop names which
  // ("end", "else", "else if", "else with", or "" at EOF).
  bool ParseList(std::vector<NodePtr>* out, std::string* stop) {
    stop->clear();
    while (p_ < src_.size()) {
      size_t open = src_.find("{{", p_);
      std::string_view text =
          src_.substr(p_, open == std::string_view::npos ? std::string_view::npos : open - p_);
      bool trim_left = open != std::string_view::npos && src_.compare(open + 2, 1, "-") == 0 &&
                       open + 3 < src_.size() && IsSpace(src_[open + 3]);
      if (trim_next_) {
        while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
        trim_next_ = false;
      }
      if (trim_left)
        while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
      if (!text.empty()) {
        auto n = std::make_shared<TemplateNode>();
        n->k = TemplateNode::K::kText;
        n->text = std::string(text);
        out->push_back(n);
      }
      if (open == std::string_view::npos) {
        p_ = src_.size();
        break;
      }
      saw_action_ = true;
      p_ = open + 2 + (trim_left ? 2 : 0);
      SkipSpace();
      if (src_.compare(p_, 2, "/*") == 0) {
        size_t close = src_.find("*/", p_ + 2);
        if (close == std::string_view::npos) return Fail("unclosed comment");
        p_ = close + 2;
        if (!EndAction()) return false;
        continue;
      }
      size_t word_start = p_;
      while (p_ < src_.size() && IsAlnum(src_[p_])) ++p_;
      std::string word(src_.substr(word_start, p_ - word_start));
      if (word == "end") {
        if (!EndAction()) return false;
        *stop = "end";
        return true;
      }
      if (word == "else") {
        SkipSpace();
        size_t s2 = p_;
        while (p_ < src_.size() && IsAlnum(src_[p_])) ++p_;
        std::string w2(src_.substr(s2, p_ - s2));
        if (w2 == "if" || w2 == "with") {
          *stop = "else " + w2;
          return true;  // the caller parses the chained control
        }
        p_ = s2;
        if (!EndAction()) return false;
        *stop = "else";
        return true;
      }
      if (word == "if" || word == "range" || word == "with") {
        NodePtr n;
        if (!ParseControl(word, &n)) return false;
        out->push_back(n);
        continue;
      }
      if (word == "define" || word == "template" || word == "block" || word == "break" ||
          word == "continue")
        return Fail("{{" + word + "}} is not supported in rule templates");
      p_ = word_start;
      auto n = std::make_shared<TemplateNode>();
      n->k = TemplateNode::K::kAction;
      if (!ParsePipeline(false, &n->pipe)) return false;
      if (!EndAction()) return false;
      out->push_back(n);
    }
    return true;
  }

  // After the keyword: pipeline, action end, body, optional else, end.
  bool ParseControl(const std::string& kw, NodePtr* out) {
    auto n = std::make_shared<TemplateNode>();
    n->k = kw == "if" ? TemplateNode::K::kIf
                      : (kw == "range" ? TemplateNode::K::kRange : TemplateNode::K::kWith);
    size_t scope = vars_.size();
    if (!ParsePipeline(kw == "range", &n->pipe)) return false;
    if (!EndAction()) return false;
    std::string stop;
    if (!ParseList(&n->list, &stop)) return false;
    vars_.resize(scope);
    if (stop.empty()) return Fail("unexpected EOF");
    if (stop == "else if" || stop == "else with") {
      NodePtr chained;
      // The chained control consumes the shared {{end}}.
      if (!ParseControl(stop.substr(5), &chained)) return false;
      n->else_list.push_back(chained);
    } else if (stop == "else") {
      if (!ParseList(&n->else_list, &stop)) return false;
      vars_.resize(scope);
      if (stop != "end")
        return stop.empty() ? Fail("unexpected EOF") : Fail("expected end; found {{" + stop + "}}");
    }
    *out = n;
    return true;
  }

  bool ParsePipeline(bool allow_two_vars, std::shared_ptr<Pipeline>* out) {
    auto pipe = std::make_shared<Pipeline>();
    SkipSpace();
    size_t save = p_;
    // Declarations: `$x :=`, `$x =`, and for range `$i, $e :=`.
    std::vector<std::string> names;
    while (p_ < src_.size() && src_[p_] == '$') {
      size_t s = p_++;
      while (p_ < src_.size() && IsAlnum(src_[p_])) ++p_;
      names.emplace_back(src_.substr(s, p_ - s));
      SkipSpace();
      if (allow_two_vars && names.size() == 1 && p_ < src_.size() && src_[p_] == ',') {
        ++p_;
        SkipSpace();
        continue;
      }
      break;
    }
    bool declared = false;
    if (!names.empty()) {
      if (src_.compare(p_, 2, ":=") == 0) {
        p_ += 2;
        declared = true;
      } else if (src_.compare(p_, 1, "=") == 0 && src_.compare(p_, 2, "==") != 0) {
        p_ += 1;
        declared = true;
        pipe->assign = true;
        for (const auto& n : names)
          if (std::find(vars_.begin(), vars_.end(), n) == vars_.end())
            return Fail("undefined variable \"" + n + "\"");
      }
    }
    if (declared) {
      pipe->decl = names;
    } else {
      p_ = save;
    }
    while (true) {
      Command c;
      if (!ParseCommand(&c)) return false;
      pipe->cmds.push_back(std::move(c));
      SkipSpace();
      if (p_ < src_.size() && src_[p_] == '|') {
        ++p_;
        continue;
      }
      break;
    }
    if (declared && !pipe->assign)
      for (const auto& n : names) vars_.push_back(n);
    *out = pipe;
    return true;
  }

  bool ParseCommand(Command* c) {
    SkipSpace();
    c->line = Line(p_);
    c->col = Col(p_);
    size_t start = p_;
    while (true) {
      SkipSpace();
      if (p_ >= src_.size()) return Fail("unclosed action");
      if (AtActionEnd() || src_[p_] == ')' || src_[p_] == '|') break;
      Operand o;
      if (!ParseOperand(&o)) return false;
      c->args.push_back(std::move(o));
      if (p_ < src_.size() && !IsSpace(src_[p_]) && !AtActionEnd() && src_[p_] != ')' &&
          src_[p_] != '|')
        return Fail(std::string("unexpected \"") + src_[p_] + "\" in operand");
    }
    if (c->args.empty()) return Fail("missing value for command");
    c->text = std::string(src_.substr(start, p_ - start));
    while (!c->text.empty() && IsSpace(c->text.back())) c->text.pop_back();
    return true;
  }

  void ParseChain(Operand* o) {
    while (p_ + 1 < src_.size() && src_[p_] == '.' && IsAlpha(src_[p_ + 1])) {
      size_t s = ++p_;
      while (p_ < src_.size() && IsAlnum(src_[p_])) ++p_;
      o->chain.emplace_back(src_.substr(s, p_ - s));
    }
  }

  bool ParseString(std::string* out) {
    char q = src_[p_++];
    out->clear();
    while (p_ < src_.size() && src_[p_] != q) {
      char c = src_[p_++];
      if (q == '`' || c != '\\') {
        if (q != '`' && c == '\n') return Fail("unterminated quoted string");
        out->push_back(c);
        continue;
      }
      if (p_ >= src_.size()) break;
      char e = src_[p_++];
      switch (e) {
        case 'n':
          out->push_back('\n');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 'a':
          out->push_back('\a');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'v':
          out->push_back('\v');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '"':
          out->push_back('"');
          break;
        case '\'':
          out->push_back('\'');
          break;
        case 'x': {
          if (p_ + 2 > src_.size()) return Fail("invalid syntax in string");
          out->push_back(
              static_cast<char>(std::strtol(std::string(src_.substr(p_, 2)).c_str(), nullptr, 16)));
          p_ += 2;
          break;
        }
        case 'u': {
          if (p_ + 4 > src_.size()) return Fail("invalid syntax in string");
          long cp = std::strtol(std::string(src_.substr(p_, 4)).c_str(), nullptr, 16);
          p_ += 4;
          // UTF-8 encode (BMP only).
          if (cp < 0x80) {
            out->push_back(static_cast<char>(cp));
          } else if (cp < 0x800) {
            out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          } else {
            out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
          }
          break;
        }
        default:
          return Fail("invalid syntax in quoted string");
      }
    }
    if (p_ >= src_.size()) return Fail("unterminated quoted string");
    ++p_;
    return true;
  }

  bool ParseOperand(Operand* o) {
    char c = src_[p_];
    if (c == '"' || c == '`') {
      o->k = Operand::K::kLiteral;
      std::string s;
      if (!ParseString(&s)) return false;
      o->lit = Val::Str(std::move(s));
      return true;
    }
    if (IsDigit(c) ||
        ((c == '-' || c == '+' || c == '.') && p_ + 1 < src_.size() && IsDigit(src_[p_ + 1]))) {
      size_t s = p_;
      ++p_;
      while (p_ < src_.size() && (IsAlnum(src_[p_]) || src_[p_] == '.' ||
                                  ((src_[p_] == '-' || src_[p_] == '+') &&
                                   (src_[p_ - 1] == 'e' || src_[p_ - 1] == 'E'))))
        ++p_;
      std::string num(src_.substr(s, p_ - s));
      o->k = Operand::K::kLiteral;
      char* end = nullptr;
      bool hex = num.find("0x") != std::string::npos || num.find("0X") != std::string::npos;
      if (hex || num.find_first_of(".eE") == std::string::npos) {
        long long v = std::strtoll(num.c_str(), &end, 0);
        if (end && *end == '\0') {
          o->lit = Val::Int(v);
          return true;
        }
      }
      double d = std::strtod(num.c_str(), &end);
      if (!end || *end != '\0') return Fail("bad number syntax: \"" + num + "\"");
      o->lit = Val::Float(d);
      return true;
    }
    if (c == '.') {
      ++p_;
      if (p_ < src_.size() && IsAlpha(src_[p_])) {
        --p_;
        o->k = Operand::K::kField;
        ParseChain(o);
      } else {
        o->k = Operand::K::kDot;
      }
      return true;
    }
    if (c == '$') {
      size_t s = p_++;
      while (p_ < src_.size() && IsAlnum(src_[p_])) ++p_;
      o->k = Operand::K::kVar;
      o->name = std::string(src_.substr(s, p_ - s));
      if (std::find(vars_.begin(), vars_.end(), o->name) == vars_.end())
        return Fail("undefined variable \"" + o->name + "\"");
      ParseChain(o);
      return true;
    }
    if (c == '(') {
      ++p_;
      o->k = Operand::K::kPipe;
      if (!ParsePipeline(false, &o->pipe)) return false;
      SkipSpace();
      if (p_ >= src_.size() || src_[p_] != ')') return Fail("unclosed left paren");
      ++p_;
      ParseChain(o);
      return true;
    }
    if (IsAlpha(c)) {
      size_t s = p_;
      while (p_ < src_.size() && IsAlnum(src_[p_])) ++p_;
      std::string w(src_.substr(s, p_ - s));
      o->k = Operand::K::kLiteral;
      if (w == "true" || w == "false") {
        o->lit = Val::Bool(w == "true");
        return true;
      }
      if (w == "nil") {
        o->lit = Val();
        return true;
      }
      if (w == "end" || w == "else" || w == "if" || w == "range" || w == "with")
        return Fail("unexpected <" + w + "> in command");
      if (!KnownFunction(w)) return Fail("function \"" + w + "\" not defined");
      o->k = Operand::K::kFunc;
      o->name = w;
      return true;
    }
    return Fail(std::string("unexpected \"") + c + "\" in command");
  }

  std::string_view src_;
  std::string name_;
  size_t p_ = 0;
  bool trim_next_ = false;
  bool saw_action_ = false;
  std::vector<std::string> vars_;
  std::string err_;
};

// ---------------------------------------------------------------------------
// Functions.

Result<double> ToFloat(const Val& v) {
  switch (v.k) {
    case Val::K::kFloat:
      return v.f;
    case Val::K::kInt:
      return static_cast<double>(v.i);
    case Val::K::kString: {
      const std::string& s = v.s;
      char* end = nullptr;
      double d = s.empty() || IsSpace(s[0]) ? 0 : std::strtod(s.c_str(), &end);
      if (s.empty() || IsSpace(s[0]) || !end || *end != '\0')
        return Invalid("strconv.ParseFloat: parsing " + QuoteString(s) + ": invalid syntax");
      return d;
    }
    default:
      return Invalid(std::string("can't convert ") + GoTypeName(v) + " to float");
  }
}

Result<std::string> ToStr(const Val& v) {
  if (v.k == Val::K::kString) return v.s;
  return Invalid(std::string("wrong type for value; expected string; got ") + GoTypeName(v));
}

// Go's url.QueryEscape.
std::string QueryEscape(std::string_view s) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (IsAlnum(static_cast<char>(c)) || c == '-' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

// Go's regexp ReplaceAllString with $-expansion.
std::string ExpandGo(const re2::RE2& re, const std::vector<re2::StringPiece>& groups,
                     std::string_view tmpl) {
  std::string out;
  ExpandTemplate(tmpl, re, groups.data(), static_cast<int>(groups.size()), &out);
  return out;
}

Result<std::string> ReplaceAll(const std::string& pattern, const std::string& repl,
                               const std::string& text) {
  re2::RE2::Options o;
  o.set_log_errors(false);
  re2::RE2 re(pattern, o);
  if (!re.ok()) return Invalid("error parsing regexp: " + re.error());
  int n = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> g(static_cast<size_t>(n));
  std::string out;
  size_t search = 0, last_end = 0;
  re2::StringPiece sp(text);
  while (search <= text.size()) {
    if (!re.Match(sp, search, text.size(), re2::RE2::UNANCHORED, g.data(), n)) break;
    size_t ms = static_cast<size_t>(g[0].data() - text.data());
    size_t me = ms + g[0].size();
    out.append(text, last_end, ms - last_end);
    // No replacement for an empty match right after the previous match.
    if (me > last_end || ms == 0) out += ExpandGo(re, g, repl);
    last_end = me;
    if (search + 1 > me)
      search += 1;
    else
      search = me;
  }
  out.append(text, std::min(last_end, text.size()), std::string::npos);
  return out;
}

// Go's fmt.Sprintf for the verbs templates use.
std::string Sprintf(const std::string& fmt, const std::vector<Val>& args) {
  std::string out;
  size_t ai = 0;
  auto bad = [](char verb, const Val& v) {
    return std::string("%!") + verb + "(" + GoTypeName(v) + "=" + Print(v) + ")";
  };
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    size_t s = i++;
    std::string flags;
    while (i < fmt.size() && std::string_view("+-# 0").find(fmt[i]) != std::string_view::npos)
      flags.push_back(fmt[i++]);
    int width = -1, prec = -1;
    if (i < fmt.size() && IsDigit(fmt[i])) {
      width = 0;
      while (i < fmt.size() && IsDigit(fmt[i])) width = width * 10 + (fmt[i++] - '0');
    }
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      prec = 0;
      while (i < fmt.size() && IsDigit(fmt[i])) prec = prec * 10 + (fmt[i++] - '0');
    }
    if (i >= fmt.size()) {
      out += "%!(NOVERB)";
      break;
    }
    char verb = fmt[i];
    if (verb == '%') {
      out.push_back('%');
      continue;
    }
    if (ai >= args.size()) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    const Val& a = args[ai++];
    std::string spec = "%" + flags + (width >= 0 ? std::to_string(width) : "") +
                       (prec >= 0 ? "." + std::to_string(prec) : "");
    auto pad = [&](std::string body) {
      if (width < 0 || static_cast<int>(body.size()) >= width) return body;
      std::string fill(static_cast<size_t>(width) - body.size(), ' ');
      return flags.find('-') != std::string::npos ? body + fill : fill + body;
    };
    char buf[512];
    switch (verb) {
      case 'v':
        out += pad(Print(a));
        break;
      case 's':
      case 'q':
        if (a.k != Val::K::kString && verb == 'q') {
          out += bad(verb, a);
        } else if (a.k == Val::K::kString || a.k == Val::K::kMap || a.k == Val::K::kSamples ||
                   a.k == Val::K::kSample) {
          std::string body = verb == 'q' ? QuoteString(a.s) : Print(a);
          if (prec >= 0 && verb == 's' && static_cast<int>(body.size()) > prec)
            body.resize(static_cast<size_t>(prec));
          out += pad(body);
        } else {
          out += bad(verb, a);
        }
        break;
      case 'd':
      case 'x':
      case 'X':
      case 'o':
        if (a.k == Val::K::kInt) {
          std::snprintf(buf, sizeof buf, (spec + "ll" + verb).c_str(), static_cast<long long>(a.i));
          out += buf;
        } else {
          out += bad(verb, a);
        }
        break;
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G':
        if (a.k == Val::K::kFloat) {
          if (!std::isfinite(a.f)) {
            out += pad(SpecialFloat(a.f));
          } else if ((verb == 'g' || verb == 'G') && prec < 0) {
            out += pad(GoFormatV(a.f));
          } else {
            std::snprintf(buf, sizeof buf, (spec + verb).c_str(), a.f);
            out += buf;
          }
        } else {
          out += bad(verb, a);
        }
        break;
      case 'c':
        if (a.k == Val::K::kInt && a.i >= 0 && a.i < 128)
          out += pad(std::string(1, static_cast<char>(a.i)));
        else
          out += bad(verb, a);
        break;
      case 't':
        out += a.k == Val::K::kBool ? pad(Print(a)) : bad(verb, a);
        break;
      default:
        out += bad(verb, a);
        (void)s;
    }
  }
  if (ai < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = ai; k < args.size(); ++k) {
      if (k > ai) out += ", ";
      out += std::string(GoTypeName(args[k])) + "=" + Print(args[k]);
    }
    out += ")";
  }
  return out;
}

// fmt.Sprint: spaces between operands when neither is a string.
std::string Sprint(const std::vector<Val>& args, bool ln) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0 && (ln || (args[i].k != Val::K::kString && args[i - 1].k != Val::K::kString)))
      out += " ";
    out += Print(args[i]);
  }
  if (ln) out += "\n";
  return out;
}

Result<int> Compare(const Val& a, const Val& b) {
  if (a.IsNumber() && b.IsNumber()) {
    if (a.k == Val::K::kInt && b.k == Val::K::kInt) return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    double x = a.Num(), y = b.Num();
    if (x < y) return -1;
    if (x > y) return 1;
    if (x == y) return 0;
    return 2;  // NaN: unordered
  }
  if (a.k == Val::K::kString && b.k == Val::K::kString)
    return a.s.compare(b.s) < 0 ? -1 : (a.s == b.s ? 0 : 1);
  if (a.k == Val::K::kBool && b.k == Val::K::kBool) return a.b == b.b ? 0 : 3;  // only eq/ne
  if (a.k == Val::K::kNil || b.k == Val::K::kNil) return Invalid("invalid type for comparison");
  return Invalid("incompatible types for comparison");
}

bool IsIpHost(std::string_view h) {
  if (h.find(':') != std::string_view::npos) return true;
  return !h.empty() &&
         std::all_of(h.begin(), h.end(), [](char c) { return IsDigit(c) || c == '.'; });
}

// net.SplitHostPort's success case.
bool SplitHostPort(const std::string& hp, std::string* host, std::string* port) {
  if (!hp.empty() && hp[0] == '[') {
    size_t close = hp.find("]:");
    if (close == std::string::npos) return false;
    *host = hp.substr(1, close - 1);
    *port = hp.substr(close + 2);
    return true;
  }
  size_t colon = hp.rfind(':');
  if (colon == std::string::npos || hp.find(':') != colon) return false;
  *host = hp.substr(0, colon);
  *port = hp.substr(colon + 1);
  return true;
}

std::string TitleCase(std::string s) {
  bool prev_sep = true;
  for (char& c : s) {
    auto u = static_cast<unsigned char>(c);
    bool sep = u < 0x80 && !IsAlnum(c);
    if (prev_sep && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    prev_sep = sep;
  }
  return s;
}

class Exec {
 public:
  Exec(const TemplateData& data, const TemplateQueryFunc& query, const std::string& name)
      : data_(data), query_(query), name_(name) {
    Val root;
    root.k = Val::K::kData;
    root.data = &data_;
    root_ = root;
    vars_ = {{"$", root},
             {"$labels", Val::Map(data.labels)},
             {"$externalLabels", Val::Map(data.external_labels)},
             {"$externalURL", Val::Str(data.external_url)},
             {"$value", Val::Float(data.value)}};
  }

  Status Run(const TemplateNode& n, std::string* out) {
    out_ = out;
    return Walk(n, root_);
  }

 private:
  Status Walk(const TemplateNode& n, const Val& dot) {
    switch (n.k) {
      case TemplateNode::K::kList:
        for (const auto& c : n.list) BERTH_RETURN_IF_ERROR(Walk(*c, dot));
        return Status::Ok();
      case TemplateNode::K::kText:
        *out_ += n.text;
        return Status::Ok();
      case TemplateNode::K::kAction: {
        auto v = EvalPipe(*n.pipe, dot);
        if (!v.ok()) return v.status();
        if (n.pipe->decl.empty()) *out_ += Print(*v);
        return Status::Ok();
      }
      case TemplateNode::K::kIf:
      case TemplateNode::K::kWith: {
        size_t scope = vars_.size();
        auto v = EvalPipe(*n.pipe, dot);
        if (!v.ok()) return v.status();
        Status st;
        if (Truth(*v)) {
          st = WalkList(n.list, n.k == TemplateNode::K::kWith ? *v : dot);
        } else {
          st = WalkList(n.else_list, dot);
        }
        vars_.resize(scope);
        return st;
      }
      case TemplateNode::K::kRange:
        return WalkRange(n, dot);
    }
    return Status::Ok();
  }

  Status WalkList(const std::vector<NodePtr>& list, const Val& dot) {
    for (const auto& c : list) BERTH_RETURN_IF_ERROR(Walk(*c, dot));
    return Status::Ok();
  }

  Status WalkRange(const TemplateNode& n, const Val& dot) {
    size_t scope = vars_.size();
    // The range pipeline's declarations bind per element, not to the value.
    Pipeline p = *n.pipe;
    std::vector<std::string> decl = p.decl;
    p.decl.clear();
    auto v = EvalPipe(p, dot);
    if (!v.ok()) return v.status();
    std::vector<std::pair<Val, Val>> items;  // (key/index, element)
    if (v->k == Val::K::kSamples) {
      for (size_t i = 0; i < v->samples->size(); ++i)
        items.push_back({Val::Int(static_cast<int64_t>(i)), Val::Sample((*v->samples)[i])});
    } else if (v->k == Val::K::kMap) {
      for (const auto& l : *v->map)
        items.push_back({Val::Str(std::string(l.name)), Val::Str(std::string(l.value))});
    } else if (v->k == Val::K::kInt) {
      for (int64_t i = 0; i < v->i; ++i) items.push_back({Val::Int(i), Val::Int(i)});
    } else if (v->k != Val::K::kNil) {
      return Invalid("range can't iterate over " + Print(*v));
    }
    if (items.empty()) {
      Status st = WalkList(n.else_list, dot);
      vars_.resize(scope);
      return st;
    }
    for (const auto& [k, e] : items) {
      vars_.resize(scope);
      if (decl.size() == 1) vars_.push_back({decl[0], e});
      if (decl.size() == 2) {
        vars_.push_back({decl[0], k});
        vars_.push_back({decl[1], e});
      }
      Status st = WalkList(n.list, e);
      if (!st.ok()) {
        vars_.resize(scope);
        return st;
      }
    }
    vars_.resize(scope);
    return Status::Ok();
  }

  Result<Val> EvalPipe(const Pipeline& p, const Val& dot) {
    Val v;
    bool have = false;
    for (const auto& c : p.cmds) {
      auto r = EvalCommand(c, dot, have ? &v : nullptr);
      if (!r.ok()) return r;
      v = std::move(r).value();
      have = true;
    }
    if (!p.decl.empty()) {
      if (p.assign) {
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
          if (it->first == p.decl[0]) {
            it->second = v;
            break;
          }
      } else {
        vars_.push_back({p.decl[0], v});
      }
    }
    return v;
  }

  Status Fail(const Command& c, const std::string& msg) {
    return Invalid("template: " + name_ + ":" + std::to_string(c.line) + ":" +
                   std::to_string(c.col) + ": executing \"" + name_ + "\" at <" + c.text +
                   ">: " + msg);
  }

  Result<Val> EvalCommand(const Command& c, const Val& dot, const Val* piped) {
    const Operand& head = c.args[0];
    if (head.k == Operand::K::kFunc) {
      std::vector<Val> args;
      for (size_t i = 1; i < c.args.size(); ++i) {
        auto a = EvalOperand(c.args[i], dot, c);
        if (!a.ok()) return a;
        args.push_back(std::move(a).value());
      }
      if (piped) args.push_back(*piped);
      auto r = Call(head.name, args);
      if (!r.ok()) {
        const std::string& m = r.status().message();
        if (m.rfind("template: ", 0) == 0) return r;
        return Fail(
            c, (m.rfind("wrong number", 0) == 0 ? "" : "error calling " + head.name + ": ") + m);
      }
      return r;
    }
    if (c.args.size() > 1 || piped) return Fail(c, "can't give argument to non-function " + c.text);
    return EvalOperand(head, dot, c);
  }

  Result<Val> EvalOperand(const Operand& o, const Val& dot, const Command& c) {
    Val base;
    switch (o.k) {
      case Operand::K::kDot:
      case Operand::K::kField:
        base = dot;
        break;
      case Operand::K::kVar: {
        bool found = false;
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
          if (it->first == o.name) {
            base = it->second;
            found = true;
            break;
          }
        if (!found) return Fail(c, "undefined variable: " + o.name);
        break;
      }
      case Operand::K::kLiteral:
        return o.lit;
      case Operand::K::kFunc: {
        Command sub;
        sub.args = {o};
        sub.line = c.line;
        sub.col = c.col;
        sub.text = o.name;
        return EvalCommand(sub, dot, nullptr);
      }
      case Operand::K::kPipe: {
        auto r = EvalPipe(*o.pipe, dot);
        if (!r.ok()) return r;
        base = std::move(r).value();
        break;
      }
    }
    for (const auto& f : o.chain) {
      auto r = Field(base, f);
      if (!r.ok()) return Fail(c, r.status().message());
      base = std::move(r).value();
    }
    return base;
  }

  Result<Val> Field(const Val& v, const std::string& f) {
    switch (v.k) {
      case Val::K::kData:
        if (f == "Labels") return Val::Map(v.data->labels);
        if (f == "ExternalLabels") return Val::Map(v.data->external_labels);
        if (f == "ExternalURL") return Val::Str(v.data->external_url);
        if (f == "Value") return Val::Float(v.data->value);
        return Invalid("can't evaluate field " + f + " in type *template.tmplData");
      case Val::K::kMap:
        if (!v.map->Has(f)) return Val();  // printed as "<no value>", as Go does
        return Val::Str(std::string(v.map->Get(f)));
      case Val::K::kSample:
        if (f == "Labels") return Val::Map(v.sample->labels);
        if (f == "Value") return Val::Float(v.sample->value);
        return Invalid("can't evaluate field " + f + " in type *template.sample");
      case Val::K::kNil:
        return Invalid("nil pointer evaluating interface {}." + f);
      default:
        return Invalid("can't evaluate field " + f + " in type " + GoTypeName(v));
    }
  }

  static Status Arity(const std::string& fn, const std::vector<Val>& a, size_t want) {
    if (a.size() != want)
      return Invalid("wrong number of args for " + fn + ": want " + std::to_string(want) + " got " +
                     std::to_string(a.size()));
    return Status::Ok();
  }

  Result<Val> Call(const std::string& fn, const std::vector<Val>& a) {
    using F = std::string (*)(double);
    static const std::map<std::string, F> kHumanize = {{"humanize", &Humanize},
                                                       {"humanize1024", &Humanize1024},
                                                       {"humanizeDuration", &HumanizeDuration},
                                                       {"humanizePercentage", &HumanizePercentage}};
    if (auto it = kHumanize.find(fn); it != kHumanize.end()) {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 1));
      auto f = ToFloat(a[0]);
      if (!f.ok()) return f.status();
      return Val::Str(it->second(*f));
    }
    if (fn == "humanizeTimestamp" || fn == "toTime") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 1));
      auto f = ToFloat(a[0]);
      if (!f.ok()) return f.status();
      auto t = TimestampText(*f);
      if (!t.ok()) return t.status();
      return Val::Str(*t);
    }
    if (fn == "title" || fn == "toUpper" || fn == "toLower" || fn == "safeHtml" ||
        fn == "stripPort" || fn == "stripDomain" || fn == "graphLink" || fn == "tableLink" ||
        fn == "parseDuration") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 1));
      auto s = ToStr(a[0]);
      if (!s.ok()) return s.status();
      std::string v = *s;
      if (fn == "title") return Val::Str(TitleCase(v));
      if (fn == "toUpper" || fn == "toLower") {
        for (char& ch : v)
          ch = fn == "toUpper" ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch)))
                               : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return Val::Str(v);
      }
      if (fn == "safeHtml") return Val::Str(v);
      if (fn == "graphLink") return Val::Str("/graph?g0.expr=" + QueryEscape(v) + "&g0.tab=0");
      if (fn == "tableLink") return Val::Str("/graph?g0.expr=" + QueryEscape(v) + "&g0.tab=1");
      if (fn == "parseDuration") {
        auto d = promql::ParseDuration(v);
        if (!d.ok()) return d.status();
        return Val::Float(static_cast<double>(*d) / 1000.0);
      }
      std::string host, port;
      bool split = SplitHostPort(v, &host, &port);
      if (fn == "stripPort") return Val::Str(split ? host : v);
      if (!split) host = v;
      if (IsIpHost(host)) return Val::Str(v);
      host = host.substr(0, host.find('.'));
      if (!port.empty())
        return Val::Str(host.find(':') != std::string::npos ? "[" + host + "]:" + port
                                                            : host + ":" + port);
      return Val::Str(host);
    }
    if (fn == "match") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 2));
      auto pat = ToStr(a[0]);
      auto text = ToStr(a[1]);
      if (!pat.ok()) return pat.status();
      if (!text.ok()) return text.status();
      re2::RE2::Options o;
      o.set_log_errors(false);
      re2::RE2 re(*pat, o);
      if (!re.ok()) return Invalid("error parsing regexp: " + re.error());
      return Val::Bool(re2::RE2::PartialMatch(*text, re));
    }
    if (fn == "reReplaceAll") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 3));
      auto pat = ToStr(a[0]);
      auto repl = ToStr(a[1]);
      auto text = ToStr(a[2]);
      if (!pat.ok()) return pat.status();
      if (!repl.ok()) return repl.status();
      if (!text.ok()) return text.status();
      auto r = ReplaceAll(*pat, *repl, *text);
      if (!r.ok()) return r.status();
      return Val::Str(*r);
    }
    if (fn == "externalURL") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 0));
      return Val::Str(data_.external_url);
    }
    if (fn == "pathPrefix") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 0));
      const std::string& u = data_.external_url;
      size_t scheme = u.find("://");
      size_t path = u.find('/', scheme == std::string::npos ? 0 : scheme + 3);
      return Val::Str(path == std::string::npos ? "" : u.substr(path));
    }
    if (fn == "query") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 1));
      auto q = ToStr(a[0]);
      if (!q.ok()) return q.status();
      if (!query_) return Invalid("no query function available");
      auto r = query_(*q);
      if (!r.ok()) return r.status();
      return Val::Samples(std::move(r).value());
    }
    if (fn == "first") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 1));
      if (a[0].k != Val::K::kSamples) return Invalid("first() called on a non-query result");
      if (a[0].samples->empty()) return Invalid("first() called on vector with no elements");
      return Val::Sample(a[0].samples->front());
    }
    if (fn == "label") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 2));
      auto name = ToStr(a[0]);
      if (!name.ok()) return name.status();
      if (a[1].k != Val::K::kSample) return Invalid("label() called on a non-sample");
      return Val::Str(std::string(a[1].sample->labels.Get(*name)));
    }
    if (fn == "value" || fn == "strvalue") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 1));
      if (a[0].k != Val::K::kSample) return Invalid(fn + "() called on a non-sample");
      if (fn == "strvalue") return Val::Str(std::string(a[0].sample->labels.Get("__value__")));
      return Val::Float(a[0].sample->value);
    }
    if (fn == "sortByLabel") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 2));
      auto name = ToStr(a[0]);
      if (!name.ok()) return name.status();
      if (a[1].k != Val::K::kSamples) return Invalid("sortByLabel() called on a non-query result");
      std::vector<TemplateSample> v = *a[1].samples;
      std::stable_sort(v.begin(), v.end(), [&](const TemplateSample& x, const TemplateSample& y) {
        return x.labels.Get(*name) < y.labels.Get(*name);
      });
      return Val::Samples(std::move(v));
    }
    if (fn == "and" || fn == "or") {
      if (a.empty()) return Invalid("wrong number of args for " + fn + ": want at least 1 got 0");
      for (size_t i = 0; i + 1 < a.size(); ++i)
        if (Truth(a[i]) == (fn == "or")) return a[i];
      return a.back();
    }
    if (fn == "not") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 1));
      return Val::Bool(!Truth(a[0]));
    }
    if (fn == "eq") {
      if (a.size() < 2) return Invalid("missing argument for comparison");
      for (size_t i = 1; i < a.size(); ++i) {
        auto c = Compare(a[0], a[i]);
        if (!c.ok()) return c.status();
        if (*c == 0) return Val::Bool(true);
      }
      return Val::Bool(false);
    }
    if (fn == "ne" || fn == "lt" || fn == "le" || fn == "gt" || fn == "ge") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 2));
      auto c = Compare(a[0], a[1]);
      if (!c.ok()) return c.status();
      if (fn == "ne") return Val::Bool(*c != 0);
      if (*c == 3) return Invalid("invalid type for comparison");
      if (fn == "lt") return Val::Bool(*c == -1);
      if (fn == "le") return Val::Bool(*c == -1 || *c == 0);
      if (fn == "gt") return Val::Bool(*c == 1);
      return Val::Bool(*c == 1 || *c == 0);
    }
    if (fn == "len") {
      BERTH_RETURN_IF_ERROR(Arity(fn, a, 1));
      if (a[0].k == Val::K::kString) return Val::Int(static_cast<int64_t>(a[0].s.size()));
      if (a[0].k == Val::K::kMap) return Val::Int(static_cast<int64_t>(a[0].map->size()));
      if (a[0].k == Val::K::kSamples) return Val::Int(static_cast<int64_t>(a[0].samples->size()));
      return Invalid(std::string("len of type ") + GoTypeName(a[0]));
    }
    if (fn == "index") {
      if (a.empty()) return Invalid("wrong number of args for index: want at least 1 got 0");
      Val v = a[0];
      for (size_t i = 1; i < a.size(); ++i) {
        if (v.k == Val::K::kMap && a[i].k == Val::K::kString) {
          v = Val::Str(std::string(v.map->Get(a[i].s)));
        } else if (v.k == Val::K::kSamples && a[i].k == Val::K::kInt) {
          if (a[i].i < 0 || a[i].i >= static_cast<int64_t>(v.samples->size()))
            return Invalid("index out of range: " + std::to_string(a[i].i));
          v = Val::Sample((*v.samples)[static_cast<size_t>(a[i].i)]);
        } else {
          return Invalid(std::string("can't index item of type ") + GoTypeName(v));
        }
      }
      return v;
    }
    if (fn == "print" || fn == "println") return Val::Str(Sprint(a, fn == "println"));
    if (fn == "printf") {
      if (a.empty()) return Invalid("wrong number of args for printf: want at least 1 got 0");
      auto f = ToStr(a[0]);
      if (!f.ok()) return f.status();
      return Val::Str(Sprintf(*f, std::vector<Val>(a.begin() + 1, a.end())));
    }
    if (fn == "urlquery") return Val::Str(QueryEscape(Sprint(a, false)));
    return Invalid("function \"" + fn + "\" not defined");
  }

  const TemplateData& data_;
  const TemplateQueryFunc& query_;
  const std::string& name_;
  Val root_;
  std::vector<std::pair<std::string, Val>> vars_;
  std::string* out_ = nullptr;
};

}  // namespace

Result<Template> Template::Parse(std::string_view text, std::string_view name) {
  Parser p(text, std::string(name));
  bool plain = true;
  auto root = p.Run(&plain);
  if (!root.ok()) return root.status();
  Template t;
  t.root_ = *root;
  t.name_ = std::string(name);
  t.plain_ = plain;
  return t;
}

Result<std::string> Template::Execute(const TemplateData& data,
                                      const TemplateQueryFunc& query) const {
  std::string out;
  if (!root_) return out;
  Exec e(data, query, name_);
  Status st = e.Run(*root_, &out);
  if (!st.ok()) return st;
  return out;
}

}  // namespace berth::monitor::rules
