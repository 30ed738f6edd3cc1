#include "monitor/scrape/exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "core/strings.h"

namespace berth::monitor::scrape {
namespace {

// Character classes as tables: the hot loops test one byte at a time and a
// table lookup beats a chain of comparisons.
struct CharTables {
  bool metric_first[256] = {};
  bool metric_rest[256] = {};
  bool label_first[256] = {};
  bool label_rest[256] = {};
  constexpr CharTables() {
    for (int c = 0; c < 256; ++c) {
      bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
      bool digit = c >= '0' && c <= '9';
      label_first[c] = alpha;
      label_rest[c] = alpha || digit;
      metric_first[c] = alpha || c == ':';
      metric_rest[c] = alpha || digit || c == ':';
    }
  }
};
constexpr CharTables kChars;

inline unsigned char U(char c) { return static_cast<unsigned char>(c); }

size_t Runes(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if ((U(c) & 0xC0) != 0x80) ++n;
  return n;
}

// Resolves \\, \n and (when `quote`) \" escapes. Other backslash sequences are
// kept as written, which is what Prometheus does with them.
std::string Unescape(std::string_view s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      char e = s[i + 1];
      if (e == '\\') {
        out += '\\';
        ++i;
        continue;
      }
      if (e == 'n') {
        out += '\n';
        ++i;
        continue;
      }
      if (e == '"' && quote) {
        out += '"';
        ++i;
        continue;
      }
    }
    out += c;
  }
  return out;
}

// A short, printable excerpt of what the parser found instead of what it
// expected, for error messages.
std::string Got(std::string_view l, size_t i) {
  if (i >= l.size()) return "end of line";
  size_t j = i + 1;
  while (j < l.size() && j - i < 24 && l[j] != ' ' && l[j] != '\t') ++j;
  return "\"" + std::string(l.substr(i, j - i)) + "\"";
}

std::optional<MetricType> TypeFromName(std::string_view s, ExpositionFormat f) {
  if (s == "counter") return MetricType::kCounter;
  if (s == "gauge") return MetricType::kGauge;
  if (s == "histogram") return MetricType::kHistogram;
  if (s == "summary") return MetricType::kSummary;
  if (f == ExpositionFormat::kText) {
    if (s == "untyped") return MetricType::kUnknown;
    return std::nullopt;
  }
  if (s == "unknown") return MetricType::kUnknown;
  if (s == "gaugehistogram") return MetricType::kGaugeHistogram;
  if (s == "info") return MetricType::kInfo;
  if (s == "stateset") return MetricType::kStateset;
  return std::nullopt;
}

bool EqualsFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

ExpositionFormat FormatForContentType(std::string_view ct) {
  std::string_view base = Trim(ct.substr(0, std::min(ct.find(';'), ct.size())));
  return EqualsFold(base, "application/openmetrics-text") ? ExpositionFormat::kOpenMetrics
                                                          : ExpositionFormat::kText;
}

std::string_view MetricTypeName(MetricType t) {
  switch (t) {
    case MetricType::kUnknown:
      return "unknown";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kSummary:
      return "summary";
    case MetricType::kGaugeHistogram:
      return "gaugehistogram";
    case MetricType::kInfo:
      return "info";
    case MetricType::kStateset:
      return "stateset";
  }
  return "unknown";
}

ExpositionParser::ExpositionParser(std::string_view body, ExpositionFormat format,
                                   ParseOptions options)
    : body_(body), format_(format), options_(options) {}

Status ExpositionParser::Fail(std::string msg) {
  return Invalid("line " + std::to_string(line_no_) + ": " + msg);
}

Result<ExpositionParser::Entry> ExpositionParser::Next() {
  if (!error_.ok()) return error_;
  if (done_) return Entry::kEnd;
  const bool om = format_ == ExpositionFormat::kOpenMetrics;
  for (;;) {
    if (pos_ >= body_.size()) {
      if (om && !saw_eof_) {
        if (line_no_ == 0) line_no_ = 1;
        error_ = Fail("data does not end with # EOF");
        return error_;
      }
      done_ = true;
      entry_line_ = line_no_;
      return Entry::kEnd;
    }
    ++line_no_;
    if (saw_eof_) {
      error_ = Fail("unexpected data after # EOF");
      return error_;
    }
    const char* start = body_.data() + pos_;
    const void* nl = std::memchr(start, '\n', body_.size() - pos_);
    size_t len = nl ? static_cast<const char*>(nl) - start : body_.size() - pos_;
    std::string_view l(start, len);
    pos_ += len + (nl ? 1 : 0);
    entry_line_ = line_no_;
    // kEnd from ParseLine means "nothing to report": a blank line, a comment,
    // # EOF or a skipped _created sample.
    Entry e = Entry::kEnd;
    Status st = ParseLine(l, &e);
    if (!st.ok()) {
      error_ = std::move(st);
      return error_;
    }
    if (e != Entry::kEnd) return e;
  }
}

Status ExpositionParser::ParseLine(std::string_view l, Entry* out) {
  size_t i = 0;
  if (format_ == ExpositionFormat::kText) {
    // Tolerate CRLF bodies and indentation: they carry no meaning in 0.0.4.
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    while (i < l.size() && (l[i] == ' ' || l[i] == '\t')) ++i;
    if (i == l.size()) return Status::Ok();
  } else if (l.empty()) {
    return Fail("unexpected empty line");
  }
  if (l[i] == '#') return ParseComment(l, i, out);
  BERTH_RETURN_IF_ERROR(ParseSample(l, i));
  if (!SkipCreated()) *out = Entry::kSample;
  return Status::Ok();
}

Status ExpositionParser::ParseComment(std::string_view l, size_t i, Entry* out) {
  const bool om = format_ == ExpositionFormat::kOpenMetrics;
  size_t j = i + 1;
  if (om) {
    if (l.substr(i) == "# EOF") {
      saw_eof_ = true;
      return Status::Ok();
    }
    if (j >= l.size() || l[j] != ' ') return Fail("expected a space after \"#\", got " + Got(l, j));
    ++j;
  } else {
    // Any other comment is free text.
    if (j >= l.size() || (l[j] != ' ' && l[j] != '\t')) return Status::Ok();
    while (j < l.size() && (l[j] == ' ' || l[j] == '\t')) ++j;
  }
  size_t w = j;
  while (w < l.size() && l[w] >= 'A' && l[w] <= 'Z') ++w;
  std::string_view word = l.substr(j, w - j);
  bool blank_after = w < l.size() && (l[w] == ' ' || (!om && l[w] == '\t'));
  Entry kind;
  if (word == "HELP") {
    kind = Entry::kHelp;
  } else if (word == "TYPE") {
    kind = Entry::kType;
  } else if (word == "UNIT" && om) {
    kind = Entry::kUnit;
  } else {
    if (!om) return Status::Ok();
    return Fail("expected HELP, TYPE, UNIT or EOF after \"# \", got " + Got(l, j));
  }
  if (!blank_after) {
    if (!om) return Status::Ok();  // e.g. "# HELPFUL hint" is just a comment
    return Fail("expected a space after " + std::string(word) + ", got " + Got(l, w));
  }
  j = w + 1;
  if (!om)
    while (j < l.size() && (l[j] == ' ' || l[j] == '\t')) ++j;
  BERTH_RETURN_IF_ERROR(ParseName(l, &j, true, &meta_name_, "metric name"));
  std::string name = meta_name_.escaped ? Unescape(meta_name_.s, true) : std::string(meta_name_.s);
  if (name != cur_family_) {
    cur_family_ = std::move(name);
    cur_type_ = MetricType::kUnknown;
  }

  bool at_end = j == l.size();
  if (!at_end && l[j] != ' ' && (om || l[j] != '\t'))
    return Fail("expected a space after the metric name, got " + Got(l, j));
  if (!at_end) ++j;
  if (kind == Entry::kHelp) {
    if (!om)
      while (j < l.size() && (l[j] == ' ' || l[j] == '\t')) ++j;
    std::string_view text = l.substr(std::min(j, l.size()));
    meta_text_ = {text, text.find('\\') != std::string_view::npos};
    if (!IsValidUtf8(text)) return Fail("invalid UTF-8 in HELP");
  } else if (kind == Entry::kType) {
    while (j < l.size() && (l[j] == ' ' || (!om && l[j] == '\t'))) ++j;
    std::string_view t = Trim(l.substr(std::min(j, l.size())));
    if (t.empty()) return Fail("expected a metric type after TYPE " + cur_family_);
    auto type = TypeFromName(t, format_);
    if (!type) return Fail("invalid metric type \"" + std::string(t) + "\"");
    type_ = *type;
    cur_type_ = *type;
  } else {
    std::string_view unit = l.substr(std::min(j, l.size()));
    for (char c : unit)
      if (!kChars.metric_rest[U(c)])
        return Fail("invalid character in unit \"" + std::string(unit) + "\"");
    meta_text_ = {unit, false};
    if (!unit.empty()) {
      std::string suffix = "_" + std::string(unit);
      if (cur_family_.size() < suffix.size() ||
          cur_family_.compare(cur_family_.size() - suffix.size(), suffix.size(), suffix) != 0)
        return Fail("unit \"" + std::string(unit) + "\" is not a suffix of metric \"" +
                    cur_family_ + "\"");
    }
  }
  *out = kind;
  return Status::Ok();
}

Status ExpositionParser::ParseName(std::string_view l, size_t* i, bool metric, Piece* out,
                                   const char* what) {
  size_t j = *i;
  if (j < l.size() && l[j] == '"') {
    BERTH_RETURN_IF_ERROR(ParseString(l, i, out));
    if (out->s.empty()) return Fail(std::string("empty ") + what);
    return Status::Ok();
  }
  const bool* first = metric ? kChars.metric_first : kChars.label_first;
  const bool* rest = metric ? kChars.metric_rest : kChars.label_rest;
  if (j >= l.size() || !first[U(l[j])])
    return Fail(std::string("expected ") + what + ", got " + Got(l, j));
  ++j;
  while (j < l.size() && rest[U(l[j])]) ++j;
  *out = {l.substr(*i, j - *i), false};
  *i = j;
  return Status::Ok();
}

Status ExpositionParser::ParseString(std::string_view l, size_t* i, Piece* out) {
  size_t j = *i + 1;  // past the opening quote
  const size_t start = j;
  bool escaped = false;
  bool high = false;
  for (;;) {
    if (j >= l.size()) return Fail("unterminated quoted string");
    char c = l[j];
    if (c == '"') break;
    if (c == '\\') {
      escaped = true;
      if (++j >= l.size()) return Fail("unterminated quoted string");
      c = l[j];
    }
    if (U(c) >= 0x80) high = true;
    ++j;
  }
  *out = {l.substr(start, j - start), escaped};
  *i = j + 1;
  if (high && !IsValidUtf8(out->s)) return Fail("invalid UTF-8 in quoted string");
  return Status::Ok();
}

Status ExpositionParser::ParseLabelSet(std::string_view l, size_t* i, bool allow_name, Piece* name,
                                       std::vector<LabelPiece>* out) {
  const bool om = format_ == ExpositionFormat::kOpenMetrics;
  auto blank = [&](char c) { return c == ' ' || (!om && c == '\t'); };
  size_t j = *i + 1;  // past '{'
  bool first = true;
  for (;;) {
    while (j < l.size() && blank(l[j])) ++j;
    if (j >= l.size()) return Fail("unexpected end of line in label set");
    if (l[j] == '}') break;
    Piece lname;
    bool quoted = l[j] == '"';
    BERTH_RETURN_IF_ERROR(ParseName(l, &j, false, &lname, "label name"));
    while (j < l.size() && blank(l[j])) ++j;
    if (j < l.size() && l[j] == '=') {
      ++j;
      while (j < l.size() && blank(l[j])) ++j;
      if (j >= l.size() || l[j] != '"')
        return Fail("expected a quoted label value, got " + Got(l, j));
      Piece value;
      BERTH_RETURN_IF_ERROR(ParseString(l, &j, &value));
      out->push_back({lname, value});
    } else if (quoted && first && allow_name) {
      // {"my.metric", a="b"}: a quoted metric name may open the label set.
      *name = lname;
    } else if (quoted && first && !name->s.empty()) {
      return Fail("metric name given twice, got " + Got(l, *i));
    } else {
      return Fail("expected equal after label name \"" + std::string(lname.s) + "\", got " +
                  Got(l, j));
    }
    first = false;
    while (j < l.size() && blank(l[j])) ++j;
    if (j < l.size() && l[j] == ',') {
      ++j;
      continue;
    }
    if (j < l.size() && l[j] == '}') break;
    return Fail("expected comma or closing brace in label set, got " + Got(l, j));
  }
  *i = j + 1;
  return Status::Ok();
}

Status ExpositionParser::ParseValue(std::string_view tok, double* out, const char* what) {
  std::string_view s = tok;
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty() || s[0] == '+' || (s[0] == '-' && tok[0] == '+'))
    return Fail(std::string("invalid ") + what + " \"" + std::string(tok) + "\"");
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out, std::chars_format::general);
  if (r.ec == std::errc::result_out_of_range && r.ptr == s.data() + s.size()) {
    // Underflow reads as the nearest representable value; overflow is an
    // error, as in Prometheus.
    std::string copy(s);
    *out = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(*out))
      return Fail(std::string(what) + " out of range \"" + std::string(tok) + "\"");
    return Status::Ok();
  }
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() ||
      (std::isnan(*out) && s.find('(') != std::string_view::npos))
    return Fail(std::string("invalid ") + what + " \"" + std::string(tok) + "\"");
  return Status::Ok();
}

Status ExpositionParser::ParseTimestamp(std::string_view tok, int64_t* out) {
  if (format_ == ExpositionFormat::kText) {
    std::string_view s = tok;
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size())
      return Fail("invalid timestamp \"" + std::string(tok) + "\"");
    return Status::Ok();
  }
  double secs;
  BERTH_RETURN_IF_ERROR(ParseValue(tok, &secs, "timestamp"));
  double ms = secs * 1000;
  if (!std::isfinite(ms) || std::fabs(ms) >= 9.2e18)
    return Fail("invalid timestamp \"" + std::string(tok) + "\"");
  *out = std::llround(ms);
  return Status::Ok();
}

Status ExpositionParser::ParseSample(std::string_view l, size_t i) {
  const bool om = format_ == ExpositionFormat::kOpenMetrics;
  auto blank = [&](char c) { return c == ' ' || (!om && c == '\t'); };
  const size_t start = i;
  name_ = {};
  labels_.clear();
  timestamp_.reset();
  has_exemplar_ = false;
  labels_skipped_ = MatchesExpected(l, i);

  if (labels_skipped_) {
    // The text before any brace or blank is the (plain) metric name.
    i += expect_.size();
    series_ = l.substr(start, i - start);
    // (A loop: find_first_of would call memchr once per character.)
    size_t end = 0;
    while (end < series_.size() && series_[end] != '{' && series_[end] != ' ' &&
           series_[end] != '\t')
      ++end;
    name_ = {series_.substr(0, end), false};
  } else {
    // A quoted name belongs inside the braces: {"my.metric", a="b"}.
    if (l[i] == '"') return Fail("expected metric name or label set, got " + Got(l, i));
    if (l[i] != '{') BERTH_RETURN_IF_ERROR(ParseName(l, &i, true, &name_, "metric name"));
    size_t k = i;
    if (!om)
      while (k < l.size() && blank(l[k])) ++k;
    if (k < l.size() && l[k] == '{') {
      i = k;
      BERTH_RETURN_IF_ERROR(ParseLabelSet(l, &i, name_.s.empty(), &name_, &labels_));
    }
    series_ = l.substr(start, i - start);

    // Duplicate names are an error rather than "last wins": the target is
    // broken and silently picking a value would hide it.
    const Piece* name_label = nullptr;
    for (size_t a = 0; a < labels_.size(); ++a) {
      if (labels_[a].name.s == kMetricName) name_label = &labels_[a].value;
      for (size_t b = a + 1; b < labels_.size(); ++b)
        if (labels_[a].name.s == labels_[b].name.s)
          return Fail("duplicate label name \"" + std::string(labels_[a].name.s) + "\"");
    }
    if (name_label && !name_.s.empty()) return Fail("duplicate label name \"__name__\"");
    if (name_.s.empty() && (!name_label || name_label->s.empty()))
      return Fail("metric name missing");
  }

  if (i >= l.size() || !blank(l[i])) return Fail("expected value after metric, got " + Got(l, i));
  while (i < l.size() && blank(l[i])) ++i;
  size_t v = i;
  while (i < l.size() && !blank(l[i])) ++i;
  if (v == i) return Fail("expected value after metric, got end of line");
  BERTH_RETURN_IF_ERROR(ParseValue(l.substr(v, i - v), &value_, "value"));

  while (i < l.size() && blank(l[i])) ++i;
  if (i == l.size()) return Status::Ok();
  if (om && l[i] == '#') return ParseExemplar(l, i);
  size_t t = i;
  while (i < l.size() && !blank(l[i])) ++i;
  int64_t ts;
  BERTH_RETURN_IF_ERROR(ParseTimestamp(l.substr(t, i - t), &ts));
  timestamp_ = ts;
  while (i < l.size() && blank(l[i])) ++i;
  if (i == l.size()) return Status::Ok();
  if (om && l[i] == '#') return ParseExemplar(l, i);
  return Fail("expected end of line after timestamp, got " + Got(l, i));
}

Status ExpositionParser::ParseExemplar(std::string_view l, size_t i) {
  ex_labels_.clear();
  ex_timestamp_.reset();
  ++i;  // '#'
  if (i >= l.size() || l[i] != ' ') return Fail("expected a space after \"#\", got " + Got(l, i));
  while (i < l.size() && l[i] == ' ') ++i;
  if (i >= l.size() || l[i] != '{')
    return Fail("expected a label set for the exemplar, got " + Got(l, i));
  Piece none;
  BERTH_RETURN_IF_ERROR(ParseLabelSet(l, &i, false, &none, &ex_labels_));
  size_t raw = 0;
  for (const auto& lp : ex_labels_) raw += lp.name.s.size() + lp.value.s.size();
  if (raw > 128) {
    // The OpenMetrics limit counts code points of the unescaped text.
    size_t runes = 0;
    for (const auto& lp : ex_labels_)
      runes += Runes(lp.name.escaped ? Unescape(lp.name.s, true) : lp.name.s) +
               Runes(lp.value.escaped ? Unescape(lp.value.s, true) : lp.value.s);
    if (runes > 128)
      return Fail("exemplar labels have " + std::to_string(runes) +
                  " characters, more than the limit of 128");
  }
  if (i >= l.size() || l[i] != ' ')
    return Fail("expected exemplar value after labels, got " + Got(l, i));
  while (i < l.size() && l[i] == ' ') ++i;
  size_t v = i;
  while (i < l.size() && l[i] != ' ') ++i;
  if (v == i) return Fail("expected exemplar value after labels, got end of line");
  BERTH_RETURN_IF_ERROR(ParseValue(l.substr(v, i - v), &ex_value_, "exemplar value"));
  while (i < l.size() && l[i] == ' ') ++i;
  if (i < l.size()) {
    size_t t = i;
    while (i < l.size() && l[i] != ' ') ++i;
    int64_t ts;
    BERTH_RETURN_IF_ERROR(ParseTimestamp(l.substr(t, i - t), &ts));
    ex_timestamp_ = ts;
    while (i < l.size() && l[i] == ' ') ++i;
    if (i < l.size()) return Fail("expected end of line after exemplar, got " + Got(l, i));
  }
  has_exemplar_ = true;
  return Status::Ok();
}

bool ExpositionParser::SkipCreated() const {
  if (format_ != ExpositionFormat::kOpenMetrics || !options_.skip_created_series) return false;
  if (cur_type_ != MetricType::kCounter && cur_type_ != MetricType::kHistogram &&
      cur_type_ != MetricType::kSummary)
    return false;
  constexpr std::string_view kCreated = "_created";
  std::string unescaped;
  std::string_view n = name_.s;
  if (name_.escaped) n = unescaped = Unescape(name_.s, true);
  return n.size() == cur_family_.size() + kCreated.size() && n.starts_with(cur_family_) &&
         n.ends_with(kCreated);
}

Labels ExpositionParser::BuildLabels(const Piece* name, const std::vector<LabelPiece>& ls) {
  auto str = [](const Piece& p) { return p.escaped ? Unescape(p.s, true) : std::string(p.s); };
  std::vector<Label> v;
  v.reserve(ls.size() + 1);
  if (name && !name->s.empty()) v.push_back({std::string(kMetricName), str(*name)});
  for (const auto& lp : ls) v.push_back({str(lp.name), str(lp.value)});
  return Labels(std::move(v));
}

std::string ExpositionParser::metric_name() const {
  if (name_.s.empty()) {
    for (const auto& lp : labels_)
      if (lp.name.s == kMetricName)
        return lp.value.escaped ? Unescape(lp.value.s, true) : std::string(lp.value.s);
  }
  return name_.escaped ? Unescape(name_.s, true) : std::string(name_.s);
}

bool ExpositionParser::MatchesExpected(std::string_view l, size_t i) const {
  // Only series that start with a plain name: the name is then the text up
  // to a brace or blank, with no escapes to resolve.
  if (expect_.empty() || expect_[0] == '{' || expect_[0] == '"') return false;
  if (l.size() - i <= expect_.size() || l.compare(i, expect_.size(), expect_) != 0) return false;
  const bool om = format_ == ExpositionFormat::kOpenMetrics;
  auto blank = [&](char c) { return c == ' ' || (!om && c == '\t'); };
  size_t k = i + expect_.size();
  if (!blank(l[k])) return false;
  // A label set ends the series at its brace, whatever follows. A bare name
  // does only if no brace follows (0.0.4 allows blanks before one).
  if (expect_.back() == '}' || om) return true;
  while (k < l.size() && blank(l[k])) ++k;
  return k == l.size() || l[k] != '{';
}

Labels ExpositionParser::labels() const {
  if (!labels_skipped_) return BuildLabels(&name_, labels_);
  // Parse the series again, alone on a line of its own.
  std::string line(series_);
  line += " 0\n";
  ExpositionParser again(line, format_);
  auto e = again.Next();
  return e.ok() ? again.labels() : Labels();
}

Exemplar ExpositionParser::exemplar() const {
  Exemplar e;
  if (!has_exemplar_) return e;
  e.labels = BuildLabels(nullptr, ex_labels_);
  e.value = ex_value_;
  e.timestamp_ms = ex_timestamp_;
  return e;
}

std::string ExpositionParser::metadata_name() const {
  std::string buf;
  return std::string(metadata_name(&buf));
}

std::string_view ExpositionParser::metadata_name(std::string* buf) const {
  if (!meta_name_.escaped) return meta_name_.s;
  *buf = Unescape(meta_name_.s, true);
  return *buf;
}

std::string ExpositionParser::help() const {
  std::string buf;
  return std::string(help(&buf));
}

std::string_view ExpositionParser::help(std::string* buf) const {
  if (!meta_text_.escaped) return meta_text_.s;
  // The text format escapes only \\ and \n in HELP; OpenMetrics adds \".
  *buf = Unescape(meta_text_.s, format_ == ExpositionFormat::kOpenMetrics);
  return *buf;
}

std::string ExpositionParser::unit() const { return std::string(meta_text_.s); }

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

bool TypeHasSuffix(MetricType t, std::string_view suffix) {
  switch (t) {
    case MetricType::kCounter:
      return suffix == "_total" || suffix == "_created";
    case MetricType::kHistogram:
      return suffix == "_bucket" || suffix == "_count" || suffix == "_sum" || suffix == "_created";
    case MetricType::kGaugeHistogram:
      return suffix == "_bucket" || suffix == "_gcount" || suffix == "_gsum";
    case MetricType::kSummary:
      return suffix == "_count" || suffix == "_sum" || suffix == "_created";
    case MetricType::kInfo:
      return suffix == "_info";
    default:
      return false;
  }
}

}  // namespace

Result<ParsedScrape> ParseExposition(std::string_view body, std::string_view content_type,
                                     ParseOptions options) {
  std::string_view base =
      Trim(content_type.substr(0, std::min(content_type.find(';'), content_type.size())));
  // Reading a protobuf body as text would only produce a confusing line error.
  if (EqualsFold(base, "application/vnd.google.protobuf"))
    return Status(Code::kUnsupportedMediaType,
                  "unsupported exposition Content-Type \"" + std::string(base) + "\"");
  ParsedScrape out;
  out.format = FormatForContentType(content_type);
  ExpositionParser p(body, out.format, options);
  // One sample per line is the common case; reserving saves the reallocation
  // copies that otherwise dominate large scrapes.
  out.samples.reserve(static_cast<size_t>(std::count(body.begin(), body.end(), '\n')));
  std::unordered_map<std::string, int, StringHash, std::equal_to<>> index;
  auto family = [&](std::string name) -> MetricFamily& {
    auto it = index.find(name);
    if (it != index.end()) return out.families[it->second];
    index.emplace(name, static_cast<int>(out.families.size()));
    out.families.push_back({std::move(name), MetricType::kUnknown, "", ""});
    return out.families.back();
  };
  // Consecutive samples mostly share a name, so remember the last answer.
  std::string last_name;
  int last_family = -1;
  auto lookup = [&](std::string_view name) -> int {
    if (name == last_name) return last_family;
    last_name.assign(name);
    last_family = -1;
    if (auto it = index.find(name); it != index.end()) return last_family = it->second;
    static constexpr std::string_view kSuffixes[] = {"_total", "_created", "_bucket", "_count",
                                                     "_sum",   "_gcount",  "_gsum",   "_info"};
    for (std::string_view s : kSuffixes) {
      if (!name.ends_with(s)) continue;
      auto it = index.find(name.substr(0, name.size() - s.size()));
      if (it != index.end() && TypeHasSuffix(out.families[it->second].type, s))
        return last_family = it->second;
    }
    return -1;
  };
  for (;;) {
    auto e = p.Next();
    if (!e.ok()) return e.status();
    if (*e != ExpositionParser::Entry::kSample) {
      last_name.clear();
      last_family = -1;
    }
    switch (*e) {
      case ExpositionParser::Entry::kEnd:
        return out;
      case ExpositionParser::Entry::kHelp:
        family(p.metadata_name()).help = p.help();
        break;
      case ExpositionParser::Entry::kType:
        family(p.metadata_name()).type = p.type();
        break;
      case ExpositionParser::Entry::kUnit:
        family(p.metadata_name()).unit = p.unit();
        break;
      case ExpositionParser::Entry::kSample: {
        ScrapedSample s;
        s.labels = p.labels();
        s.value = p.value();
        s.timestamp_ms = p.timestamp();
        if (p.has_exemplar()) s.exemplar = p.exemplar();
        s.family = index.empty() ? -1 : lookup(s.labels.Name());
        out.samples.push_back(std::move(s));
        break;
      }
    }
  }
}

}  // namespace berth::monitor::scrape
