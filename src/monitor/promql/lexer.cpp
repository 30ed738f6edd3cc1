#include "monitor/promql/lexer.h"

#include <cstdio>
#include <unordered_set>

#include "monitor/labels.h"

namespace berth::monitor::promql {
namespace {

bool IsAlpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(int c) { return c >= '0' && c <= '9'; }
bool IsAlnum(int c) { return IsAlpha(c) || IsDigit(c); }
bool IsHex(int c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsSpace(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
int HexVal(int c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid.
int Utf8Len(std::string_view s, size_t i, uint32_t* rune = nullptr) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  int n;
  uint32_t r;
  if (c < 0x80) {
    if (rune) *rune = c;
    return 1;
  }
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    r = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    r = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    r = c & 0x07;
  } else
    return 0;
  if (i + n > s.size()) return 0;
  for (int k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    r = (r << 6) | (b(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and out-of-range runes are invalid as in Go.
  if ((n == 2 && r < 0x80) || (n == 3 && r < 0x800) || (n == 4 && r < 0x10000) || r > 0x10FFFF ||
      (r >= 0xD800 && r < 0xE000))
    return 0;
  if (rune) *rune = r;
  return n;
}

void AppendUtf8(std::string& out, uint32_t r) {
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xC0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xE0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  }
}

// Go's %q of a single rune: 'c', '\n', '\x00'.
std::string QuoteRune(std::string_view s, size_t i) {
  uint32_t r = 0;
  int n = i < s.size() ? Utf8Len(s, i, &r) : 0;
  if (n == 0) {
    char buf[16];
    snprintf(buf, sizeof buf, "'\\x%02x'", i < s.size() ? static_cast<unsigned char>(s[i]) : 0);
    return buf;
  }
  switch (r) {
    case '\n':
      return "'\\n'";
    case '\t':
      return "'\\t'";
    case '\r':
      return "'\\r'";
    case '\'':
      return "'\\''";
    case '\\':
      return "'\\\\'";
  }
  if (r < 0x20 || r == 0x7F) {
    char buf[16];
    snprintf(buf, sizeof buf, "'\\x%02x'", r);
    return buf;
  }
  return "'" + std::string(s.substr(i, n)) + "'";
}

// Go's %#U: U+0063 'c'.
std::string RuneDescription(std::string_view s, size_t i) {
  uint32_t r = 0;
  int n = Utf8Len(s, i, &r);
  if (n == 0) r = 0xFFFD;
  char buf[32];
  snprintf(buf, sizeof buf, "U+%04X", r);
  std::string out = buf;
  if (n > 0 && r >= 0x20 && r != 0x7F) out += " '" + std::string(s.substr(i, n)) + "'";
  return out;
}

const std::unordered_set<std::string>& BinaryKeywords() {
  static const std::unordered_set<std::string> k = {"and", "or", "unless", "atan2"};
  return k;
}
const std::unordered_set<std::string>& AggregatorKeywords() {
  static const std::unordered_set<std::string> k = {
      "sum",    "avg",  "count",   "min",          "max",      "group",  "stddev",
      "stdvar", "topk", "bottomk", "count_values", "quantile", "limitk", "limit_ratio"};
  return k;
}
const std::unordered_set<std::string>& OtherKeywords() {
  static const std::unordered_set<std::string> k = {
      "offset", "by",  "without",  "on",       "ignoring", "group_left", "group_right", "bool",
      "start",  "end", "anchored", "smoothed", "fill",     "fill_left",  "fill_right"};
  return k;
}

std::string QuoteItem(const std::string& text) {
  // Prometheus shortens long literals to ten characters in messages.
  if (text.size() > 10) return GoQuote(text.substr(0, 10)) + "...";
  return GoQuote(text);
}

}  // namespace

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string GoQuote(std::string_view s) { return QuoteString(s); }

std::string DescribeToken(const Token& t) {
  switch (t.type) {
    case Tok::kEOF:
      return "end of input";
    case Tok::kError:
      return t.text;
    case Tok::kIdentifier: {
      std::string lower = AsciiLower(t.text);
      if (BinaryKeywords().count(lower)) return "<op:" + t.text + ">";
      if (AggregatorKeywords().count(lower)) return "<aggr:" + t.text + ">";
      if (OtherKeywords().count(lower)) return "<" + t.text + ">";
      return "identifier " + GoQuote(t.text);
    }
    case Tok::kMetricIdentifier:
      return "metric identifier " + GoQuote(t.text);
    case Tok::kNumber:
      return "number " + QuoteItem(t.text);
    case Tok::kDuration:
      return "duration " + QuoteItem(t.text);
    case Tok::kString:
      return "string " + QuoteItem(t.text);
    case Tok::kLParen:
    case Tok::kRParen:
    case Tok::kLBrace:
    case Tok::kRBrace:
    case Tok::kLBracket:
    case Tok::kRBracket:
    case Tok::kComma:
    case Tok::kColon:
    case Tok::kEql:
      return GoQuote(t.text);
    default:
      return "<op:" + t.text + ">";
  }
}

Token Lexer::Make(Tok t, int start, int end) {
  Token tok;
  tok.type = t;
  tok.pos = start;
  tok.end = end;
  tok.text = std::string(in_.substr(start, end - start));
  pos_ = end;
  return tok;
}

Token Lexer::Error(int pos, std::string msg) {
  Token tok;
  tok.type = Tok::kError;
  tok.pos = pos;
  tok.end = pos;
  tok.text = std::move(msg);
  done_ = true;
  last_ = tok;
  return tok;
}

Token Lexer::Next() {
  if (done_) return last_;
  const int n = static_cast<int>(in_.size());
  // Whitespace and comments; Prometheus does not allow comments inside braces.
  while (pos_ < n) {
    if (IsSpace(Peek())) {
      ++pos_;
    } else if (Peek() == '#' && mode_ != Mode::kBraces) {
      while (pos_ < n && in_[pos_] != '\n') ++pos_;
    } else {
      break;
    }
  }
  if (pos_ >= n) {
    if (mode_ == Mode::kBraces) return Error(pos_, "unexpected end of input inside braces");
    if (mode_ == Mode::kDuration)
      return Error(pos_, "unexpected end of input in duration expression");
    if (paren_depth_ > 0) return Error(pos_, "unclosed left parenthesis");
    Token eof = Make(Tok::kEOF, pos_, pos_);
    done_ = true;
    last_ = eof;
    return eof;
  }
  const int start = pos_;
  const int c = Peek();
  const int c1 = Peek(1);

  if (mode_ == Mode::kBraces) {
    if (IsAlpha(c)) {
      int p = start;
      while (p < n && IsAlnum(static_cast<unsigned char>(in_[p]))) ++p;
      return Make(Tok::kIdentifier, start, p);
    }
    switch (c) {
      case '"':
      case '\'':
      case '`':
        return LexString(start);
      case ',':
        return Make(Tok::kComma, start, start + 1);
      case '}':
        mode_ = Mode::kNormal;
        return Make(Tok::kRBrace, start, start + 1);
      case '=':
        if (c1 == '~') return Make(Tok::kEqlRegex, start, start + 2);
        return Make(Tok::kEql, start, start + 1);
      case '!':
        if (c1 == '=') return Make(Tok::kNeq, start, start + 2);
        if (c1 == '~') return Make(Tok::kNeqRegex, start, start + 2);
        break;
    }
    return Error(start, "unexpected character inside braces: " + QuoteRune(in_, start));
  }

  if (IsDigit(c) || (c == '.' && IsDigit(c1))) return LexNumberOrDuration(start);

  if (mode_ == Mode::kDuration) {
    if (IsAlpha(c)) {
      int p = start;
      while (p < n && IsAlnum(static_cast<unsigned char>(in_[p]))) ++p;
      std::string lower = AsciiLower(in_.substr(start, p - start));
      if (lower == "step" || lower == "range" || lower == "min_of" || lower == "max_of")
        return Make(Tok::kIdentifier, start, p);
      return Error(start, "unexpected character: " + QuoteRune(in_, start) + ", expected ':'");
    }
    switch (c) {
      case '+':
        return Make(Tok::kAdd, start, start + 1);
      case '-':
        return Make(Tok::kSub, start, start + 1);
      case '*':
        return Make(Tok::kMul, start, start + 1);
      case '/':
        return Make(Tok::kDiv, start, start + 1);
      case '%':
        return Make(Tok::kMod, start, start + 1);
      case '^':
        return Make(Tok::kPow, start, start + 1);
      case ',':
        return Make(Tok::kComma, start, start + 1);
      case ':':
        return Make(Tok::kColon, start, start + 1);
      case '(':
        ++paren_depth_;
        return Make(Tok::kLParen, start, start + 1);
      case ')':
        if (paren_depth_ == 0) return Error(start + 1, "unexpected right parenthesis ')'");
        --paren_depth_;
        return Make(Tok::kRParen, start, start + 1);
      case ']':
        mode_ = Mode::kNormal;
        return Make(Tok::kRBracket, start, start + 1);
    }
    return Error(start, "unexpected character in duration expression: " + QuoteRune(in_, start));
  }

  if (IsAlpha(c) || c == ':') return LexWord(start);
  switch (c) {
    case '"':
    case '\'':
    case '`':
      return LexString(start);
    case '(':
      ++paren_depth_;
      return Make(Tok::kLParen, start, start + 1);
    case ')':
      // Prometheus reports this one just past the parenthesis.
      if (paren_depth_ == 0) return Error(start + 1, "unexpected right parenthesis ')'");
      --paren_depth_;
      return Make(Tok::kRParen, start, start + 1);
    case '{':
      mode_ = Mode::kBraces;
      return Make(Tok::kLBrace, start, start + 1);
    case '[':
      mode_ = Mode::kDuration;
      return Make(Tok::kLBracket, start, start + 1);
    case ']':
      return Error(start, "unexpected right bracket ']'");
    case ',':
      return Make(Tok::kComma, start, start + 1);
    case '@':
      return Make(Tok::kAt, start, start + 1);
    case '+':
      return Make(Tok::kAdd, start, start + 1);
    case '-':
      return Make(Tok::kSub, start, start + 1);
    case '*':
      return Make(Tok::kMul, start, start + 1);
    case '/':
      return Make(Tok::kDiv, start, start + 1);
    case '%':
      return Make(Tok::kMod, start, start + 1);
    case '^':
      return Make(Tok::kPow, start, start + 1);
    case '=':
      if (c1 == '=') return Make(Tok::kEqlc, start, start + 2);
      if (c1 == '~') return Error(start, "unexpected character after '=': '~'");
      return Make(Tok::kEql, start, start + 1);
    case '!':
      if (c1 == '=') return Make(Tok::kNeq, start, start + 2);
      if (c1 < 0) return Error(start, "unexpected end of input after '!'");
      return Error(start, "unexpected character after '!': " + QuoteRune(in_, start + 1));
    case '<':
      if (c1 == '=') return Make(Tok::kLte, start, start + 2);
      if (c1 == '/') return Make(Tok::kTrimUpper, start, start + 2);
      return Make(Tok::kLss, start, start + 1);
    case '>':
      if (c1 == '=') return Make(Tok::kGte, start, start + 2);
      if (c1 == '/') return Make(Tok::kTrimLower, start, start + 2);
      return Make(Tok::kGtr, start, start + 1);
  }
  return Error(start, "unexpected character: " + QuoteRune(in_, start));
}

Token Lexer::LexWord(int start) {
  const int n = static_cast<int>(in_.size());
  int p = start;
  bool colon = false;
  while (p < n && (IsAlnum(static_cast<unsigned char>(in_[p])) || in_[p] == ':')) {
    colon |= in_[p] == ':';
    ++p;
  }
  std::string lower = AsciiLower(in_.substr(start, p - start));
  if (!colon && (lower == "inf" || lower == "nan")) return Make(Tok::kNumber, start, p);
  return Make(colon ? Tok::kMetricIdentifier : Tok::kIdentifier, start, p);
}

Token Lexer::LexNumberOrDuration(int start) {
  const int n = static_cast<int>(in_.size());
  auto at = [&](int p) { return p < n ? static_cast<unsigned char>(in_[p]) : -1; };
  int p = start;
  bool plain = true;  // only decimal digits: the only form a duration may start with
  if (at(p) == '0' && (at(p + 1) == 'x' || at(p + 1) == 'X') && IsHex(at(p + 2))) {
    p += 2;
    while (IsHex(at(p)) || at(p) == '_') ++p;
    plain = false;
  } else {
    while (IsDigit(at(p)) || at(p) == '_') ++p;
    if (at(p) == '.') {
      plain = false;
      ++p;
      while (IsDigit(at(p))) ++p;
    }
    if ((at(p) == 'e' || at(p) == 'E') &&
        (IsDigit(at(p + 1)) || ((at(p + 1) == '+' || at(p + 1) == '-') && IsDigit(at(p + 2))))) {
      plain = false;
      p += 2;
      while (IsDigit(at(p))) ++p;
    }
  }
  auto bad = [&](int upto) {
    // Like Prometheus, the message shows the text up to and including the
    // character that made the literal invalid, when it could continue one.
    int e = upto < n && (IsAlnum(at(upto)) || at(upto) == '.') ? upto + 1 : upto;
    pos_ = e;
    return Error(start, "bad number or duration syntax: " + GoQuote(in_.substr(start, e - start)));
  };
  int c = at(p);
  if (!IsAlnum(c) && c != '.') return Make(Tok::kNumber, start, p);
  if (c == '.' || !plain) return bad(p);
  // A duration: <int><unit>[<int><unit>...]; the unit order is checked when
  // the duration is parsed, so "5m1h" lexes and then fails with a clear text.
  auto unit = [&](const char* units) {
    int u = at(p);
    for (const char* s = units; *s; ++s)
      if (u == *s) {
        ++p;
        if (at(p) == 's') ++p;  // "ms" (and bad ones such as "hs")
        return true;
      }
    return false;
  };
  if (!unit("smhdwy")) return bad(p);
  while (IsDigit(at(p))) {
    while (IsDigit(at(p))) ++p;
    if (!unit("smhdwy")) return bad(p);
  }
  if (IsAlnum(at(p))) return bad(p);
  return Make(Tok::kDuration, start, p);
}

Token Lexer::LexString(int start) {
  const int n = static_cast<int>(in_.size());
  const char q = in_[start];
  std::string val;
  int p = start + 1;
  if (q == '`') {
    while (p < n && in_[p] != '`') {
      int len = Utf8Len(in_, p);
      if (len == 0) return Error(start, "invalid UTF-8 rune");
      val.append(in_.substr(p, len));
      p += len;
    }
    if (p >= n) return Error(start, "unterminated raw string");
    Token t = Make(Tok::kString, start, p + 1);
    t.str = std::move(val);
    return t;
  }
  while (true) {
    if (p >= n || in_[p] == '\n') return Error(start, "unterminated quoted string");
    char c = in_[p];
    if (c == q) break;
    if (c != '\\') {
      int len = Utf8Len(in_, p);
      if (len == 0) return Error(start, "invalid UTF-8 rune");
      val.append(in_.substr(p, len));
      p += len;
      continue;
    }
    ++p;
    if (p >= n) return Error(start, "escape sequence not terminated");
    char e = in_[p];
    switch (e) {
      case 'a':
        val += '\a';
        ++p;
        continue;
      case 'b':
        val += '\b';
        ++p;
        continue;
      case 'f':
        val += '\f';
        ++p;
        continue;
      case 'n':
        val += '\n';
        ++p;
        continue;
      case 'r':
        val += '\r';
        ++p;
        continue;
      case 't':
        val += '\t';
        ++p;
        continue;
      case 'v':
        val += '\v';
        ++p;
        continue;
      case '\\':
        val += '\\';
        ++p;
        continue;
    }
    if (e == q) {
      val += q;
      ++p;
      continue;
    }
    int digits, base;
    uint32_t max;
    bool raw_byte = false;
    if (e >= '0' && e <= '7') {
      digits = 3, base = 8, max = 255, raw_byte = true;
    } else if (e == 'x') {
      digits = 2, base = 16, max = 255, raw_byte = true, ++p;
    } else if (e == 'u') {
      digits = 4, base = 16, max = 0x10FFFF, ++p;
    } else if (e == 'U') {
      digits = 8, base = 16, max = 0x10FFFF, ++p;
    } else {
      return Error(start, "unknown escape sequence " + RuneDescription(in_, p));
    }
    uint32_t x = 0;
    for (int i = 0; i < digits; ++i, ++p) {
      if (p >= n) return Error(start, "escape sequence not terminated");
      int d = HexVal(static_cast<unsigned char>(in_[p]));
      if (d >= base)
        return Error(start, "illegal character " + RuneDescription(in_, p) + " in escape sequence");
      x = x * base + d;
    }
    if (x > max || (x >= 0xD800 && x < 0xE000))
      return Error(start, "escape sequence is an invalid Unicode code point");
    if (raw_byte) {
      val += static_cast<char>(x);
    } else {
      AppendUtf8(val, x);
    }
  }
  Token t = Make(Tok::kString, start, p + 1);
  t.str = std::move(val);
  return t;
}

}  // namespace berth::monitor::promql
