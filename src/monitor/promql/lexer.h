// PromQL tokens. The lexer is pulled by the parser one token at a time and
// switches modes on its own as it meets '{' (label matchers) and '[' (range
// and subquery durations), so that the parser may look ahead freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace berth::monitor::promql {

enum class Tok {
  kEOF,
  kError,
  kIdentifier,        // also keywords (by, offset, sum, ...): the parser decides by context
  kMetricIdentifier,  // an identifier containing ':'
  kNumber,
  kDuration,
  kString,
  kLParen,
  kRParen,
  kLBrace,
  kRBrace,
  kLBracket,
  kRBracket,
  kComma,
  kColon,
  kAt,
  kEql,  // '=' (label matching; also an error in expressions)
  kEqlRegex,
  kNeqRegex,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEqlc,
  kNeq,
  kLte,
  kLss,
  kGte,
  kGtr,
  kTrimUpper,
  kTrimLower,  // "</" and ">/"
};

struct Token {
  Tok type = Tok::kEOF;
  int pos = 0;       // byte offset of the first character
  int end = 0;       // one past the last character
  std::string text;  // the source text; the message for kError
  std::string str;   // kString: the unquoted value
};

class Lexer {
 public:
  explicit Lexer(std::string_view input) : in_(input) {}
  Token Next();

 private:
  enum class Mode { kNormal, kBraces, kDuration };

  Token Make(Tok t, int start, int end);
  Token Error(int pos, std::string msg);
  Token LexNumberOrDuration(int start);
  Token LexString(int start);
  Token LexWord(int start);
  int Peek(int k = 0) const {
    return pos_ + k < static_cast<int>(in_.size()) ? static_cast<unsigned char>(in_[pos_ + k]) : -1;
  }

  std::string_view in_;
  int pos_ = 0;
  Mode mode_ = Mode::kNormal;
  int paren_depth_ = 0;
  bool done_ = false;  // an error or EOF was returned; keep returning it
  Token last_;
};

// Describes a token the way Prometheus does in "unexpected ..." messages:
// `identifier "foo"`, `<op:*>`, `<aggr:sum>`, `<by>`, `"("`, `end of input`.
std::string DescribeToken(const Token& t);

// Go's strconv.Quote: the double-quoted form with Go escapes.
std::string GoQuote(std::string_view s);

// Lower-case ASCII copy, for case-insensitive keywords.
std::string AsciiLower(std::string_view s);

}  // namespace berth::monitor::promql
