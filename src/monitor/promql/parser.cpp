// A hand-written recursive-descent PromQL parser. Prometheus generates its
// parser with goyacc; we follow its grammar, precedence and error texts but
// not its structure. Parsing happens in two passes like Prometheus: syntax
// first (Parser), then types and semantic rules (Checker), so that a syntax
// error anywhere wins over a type error earlier in the text.

#include "monitor/promql/parser.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>

#include "monitor/promql/lexer.h"

namespace berth::monitor::promql {
namespace {

// Thrown inside this file only; Parse() turns it into a Status.
struct Failure {
  int pos;
  std::string msg;
};

[[noreturn]] void Fail(int pos, std::string msg) { throw Failure{pos, std::move(msg)}; }

// Durations are int64 nanoseconds in Prometheus; keep its range.
constexpr double kMaxDurationSeconds = 9223372036.854775807;
constexpr int kMaxDepth = 1000;

bool IsKeyword(const Token& t, std::string_view kw) {
  return t.type == Tok::kIdentifier && AsciiLower(t.text) == kw;
}

std::optional<AggOp> AggregatorOf(std::string_view lower) {
  static const std::pair<const char*, AggOp> kOps[] = {
      {"sum", AggOp::kSum},
      {"avg", AggOp::kAvg},
      {"count", AggOp::kCount},
      {"min", AggOp::kMin},
      {"max", AggOp::kMax},
      {"group", AggOp::kGroup},
      {"stddev", AggOp::kStddev},
      {"stdvar", AggOp::kStdvar},
      {"topk", AggOp::kTopk},
      {"bottomk", AggOp::kBottomk},
      {"count_values", AggOp::kCountValues},
      {"quantile", AggOp::kQuantile},
      {"limitk", AggOp::kLimitk},
      {"limit_ratio", AggOp::kLimitRatio},
  };
  for (const auto& [name, op] : kOps)
    if (lower == name) return op;
  return std::nullopt;
}

bool HasParam(AggOp op) {
  return op == AggOp::kTopk || op == AggOp::kBottomk || op == AggOp::kCountValues ||
         op == AggOp::kQuantile || op == AggOp::kLimitk || op == AggOp::kLimitRatio;
}

// Binding strength of a binary operator token; 0 when it is none.
int Precedence(const Token& t, BinOp* op) {
  switch (t.type) {
    case Tok::kAdd:
      *op = BinOp::kAdd;
      return 4;
    case Tok::kSub:
      *op = BinOp::kSub;
      return 4;
    case Tok::kMul:
      *op = BinOp::kMul;
      return 5;
    case Tok::kDiv:
      *op = BinOp::kDiv;
      return 5;
    case Tok::kMod:
      *op = BinOp::kMod;
      return 5;
    // The trim operators group with '/', whose glyph they borrow.
    case Tok::kTrimUpper:
      *op = BinOp::kTrimUpper;
      return 5;
    case Tok::kTrimLower:
      *op = BinOp::kTrimLower;
      return 5;
    case Tok::kPow:
      *op = BinOp::kPow;
      return 6;
    case Tok::kEqlc:
      *op = BinOp::kEql;
      return 3;
    case Tok::kNeq:
      *op = BinOp::kNeq;
      return 3;
    case Tok::kLte:
      *op = BinOp::kLte;
      return 3;
    case Tok::kLss:
      *op = BinOp::kLss;
      return 3;
    case Tok::kGte:
      *op = BinOp::kGte;
      return 3;
    case Tok::kGtr:
      *op = BinOp::kGtr;
      return 3;
    case Tok::kIdentifier: {
      std::string l = AsciiLower(t.text);
      if (l == "or") {
        *op = BinOp::kOr;
        return 1;
      }
      if (l == "and") {
        *op = BinOp::kAnd;
        return 2;
      }
      if (l == "unless") {
        *op = BinOp::kUnless;
        return 2;
      }
      if (l == "atan2") {
        *op = BinOp::kAtan2;
        return 5;
      }
      return 0;
    }
    default:
      return 0;
  }
}
constexpr int kPowPrecedence = 6;

// Prometheus reads numbers with Go's ParseInt(s, 0, 64) first (so 0755 is
// octal and 0x1f hex) and falls back to ParseFloat.
double ParseNumberToken(const Token& t) {
  std::string lower = AsciiLower(t.text);
  if (lower == "inf") return HUGE_VAL;
  if (lower == "nan") return std::nan("");
  std::string s;
  for (char c : t.text)
    if (c != '_') s += c;
  bool octal = s.size() > 1 && s[0] == '0';
  for (char c : s) octal &= c >= '0' && c <= '7';
  if (octal) {
    errno = 0;
    unsigned long long v = std::strtoull(s.c_str(), nullptr, 8);
    if (errno == 0) return static_cast<double>(v);
  }
  errno = 0;
  double v = std::strtod(s.c_str(), nullptr);
  if (errno == ERANGE && std::isinf(v))
    Fail(t.pos, "error parsing number: strconv.ParseFloat: parsing " + GoQuote(t.text) +
                    ": value out of range");
  return v;
}

int64_t ParseDurationToken(const Token& t) {
  Result<int64_t> d = ParseDuration(t.text);
  if (!d.ok()) Fail(t.pos, d.status().message());
  return *d;
}

std::string TimestampText(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[512];
  snprintf(buf, sizeof buf, "%f", v);
  return buf;
}

// The "matrix"/"vector" names Prometheus uses in a few messages.
const char* ShortTypeName(ValueType t) {
  switch (t) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "vector";
    case ValueType::kMatrix:
      return "matrix";
    case ValueType::kString:
      return "string";
    default:
      return "none";
  }
}

enum class DurContext { kRange, kOffset };

// A duration expression while it is parsed: the tree, and its value in
// seconds when it does not depend on step() or range().
struct Dur {
  ExprPtr node;
  std::optional<double> value;
  int depth = 1;  // of `node`
};

class Parser {
 public:
  Parser(std::string_view query, const ParseOptions& opts) : lex_(query), opts_(opts) {}

  ExprPtr ParseQuery() {
    if (Peek().type == Tok::kEOF) Fail(0, "no expression found in input");
    ExprPtr e = ParseBinary(0);
    if (Peek().type != Tok::kEOF) Unexpected(Peek());
    return e;
  }

  std::vector<Matcher> ParseSelectorOnly() {
    const Token& t = Peek();
    std::optional<Token> name;
    if (t.type == Tok::kIdentifier || t.type == Tok::kMetricIdentifier)
      name = Take();
    else if (t.type != Tok::kLBrace)
      Unexpected(t);
    ExprPtr e = ParseSelector(name);
    if (Peek().type != Tok::kEOF) Unexpected(Peek());
    return std::move(static_cast<VectorSelector&>(*e).matchers);
  }

 private:
  const Token& Peek(size_t k = 0) {
    while (buf_.size() <= k) buf_.push_back(lex_.Next());
    return buf_[k];
  }
  Token Take() {
    Peek();
    Token t = std::move(buf_.front());
    buf_.pop_front();
    if (t.type == Tok::kError) Fail(t.pos, t.text);
    last_end_ = t.end;
    return t;
  }
  Token Expect(Tok type, std::string_view context = "", std::string_view expected = "") {
    if (Peek().type != type) Unexpected(Peek(), context, expected);
    return Take();
  }

  [[noreturn]] void Unexpected(const Token& t, std::string_view context = "",
                               std::string_view expected = "") {
    if (t.type == Tok::kError) Fail(t.pos, t.text);
    std::string msg = "unexpected " + DescribeToken(t);
    if (!context.empty()) msg += " in " + std::string(context);
    if (!expected.empty()) msg += ", expected " + std::string(expected);
    Fail(t.pos, msg);
  }

  void RequireExperimental(int pos, const std::string& what) {
    if (!opts_.experimental) Fail(pos, what + " is experimental and not enabled");
  }

  // Trees are walked recursively (checks, printing, destruction), so their
  // depth is bounded; `depth` is that of a node about to be returned.
  int Deeper(int depth, int pos) {
    if (depth > kMaxDepth) Fail(pos, "expression nesting too deep");
    return depth;
  }

  struct DepthGuard {
    DepthGuard(int& d, int pos) : d_(d) {
      if (++d_ > kMaxDepth) Fail(pos, "expression nesting too deep");
    }
    ~DepthGuard() { --d_; }
    int& d_;
  };

  // ---- Expressions ----

  ExprPtr ParseBinary(int min_prec) {
    ExprPtr lhs = ParseUnary();
    int depth = last_depth_;
    while (true) {
      BinOp op;
      int prec = Precedence(Peek(), &op);
      if (prec == 0 || prec < min_prec) break;
      Take();
      auto b = std::make_unique<BinaryExpr>();
      b->op = op;
      VectorMatching vm;
      if (IsKeyword(Peek(), "bool")) {
        Take();
        b->return_bool = true;
      }
      if (IsKeyword(Peek(), "on") || IsKeyword(Peek(), "ignoring")) {
        vm.on = IsKeyword(Take(), "on");
        vm.labels = ParseLabelList();
        if (IsKeyword(Peek(), "group_left") || IsKeyword(Peek(), "group_right")) {
          vm.card =
              IsKeyword(Take(), "group_left") ? Cardinality::kManyToOne : Cardinality::kOneToMany;
          if (Peek().type == Tok::kLParen) vm.include = ParseLabelList();
        }
      }
      ParseFill(*b);
      b->matching = std::move(vm);  // the Checker drops it unless both sides are vectors
      // '^' is right-associative; everything else groups to the left.
      DepthGuard g(depth_, lhs->pos.start);
      ExprPtr rhs = ParseBinary(op == BinOp::kPow ? prec : prec + 1);
      depth = Deeper(std::max(depth, last_depth_) + 1, lhs->pos.start);
      b->pos = {lhs->pos.start, rhs->pos.end};
      b->lhs = std::move(lhs);
      b->rhs = std::move(rhs);
      lhs = std::move(b);
    }
    last_depth_ = depth;
    return lhs;
  }

  void ParseFill(BinaryExpr& b) {
    while ((IsKeyword(Peek(), "fill") || IsKeyword(Peek(), "fill_left") ||
            IsKeyword(Peek(), "fill_right")) &&
           Peek(1).type == Tok::kLParen) {
      Token kw = Take();
      RequireExperimental(kw.pos, "the fill modifier");
      std::string which = AsciiLower(kw.text);
      Take();  // (
      bool neg = false;
      while (Peek().type == Tok::kAdd || Peek().type == Tok::kSub) neg ^= Take().type == Tok::kSub;
      Token num = Expect(Tok::kNumber, "fill modifier", "number");
      double v = ParseNumberToken(num);
      if (neg) v = -v;
      Expect(Tok::kRParen, "fill modifier", "\")\"");
      bool left = which != "fill_right", right = which != "fill_left";
      if ((left && b.fill_left) || (right && b.fill_right))
        Fail(kw.pos, "fill modifier may not be set multiple times");
      if (left) b.fill_left = v;
      if (right) b.fill_right = v;
    }
  }

  ExprPtr ParseUnary() {
    const Token& t = Peek();
    if (t.type == Tok::kAdd || t.type == Tok::kSub) {
      Token op = Take();
      DepthGuard g(depth_, op.pos);
      // Unary minus binds like '*': only '^' is stronger (-a^b is -(a^b)).
      ExprPtr e = ParseBinary(kPowPrecedence);
      if (e->kind == NodeKind::kNumber) {
        auto& n = static_cast<NumberLiteral&>(*e);
        if (op.type == Tok::kSub) n.val = -n.val;
        n.pos.start = op.pos;
        return e;
      }
      auto u = std::make_unique<UnaryExpr>();
      last_depth_ = Deeper(last_depth_ + 1, op.pos);
      u->negate = op.type == Tok::kSub;
      u->pos = {op.pos, e->pos.end};
      u->expr = std::move(e);
      return u;
    }
    return ParsePostfix(ParsePrimary());
  }

  ExprPtr ParsePrimary() {
    const Token& t = Peek();
    switch (t.type) {
      case Tok::kNumber: {
        Token tok = Take();
        auto n = std::make_unique<NumberLiteral>();
        n->val = ParseNumberToken(tok);
        n->pos = {tok.pos, tok.end};
        last_depth_ = 1;
        return n;
      }
      case Tok::kDuration: {
        Token tok = Take();
        auto n = std::make_unique<NumberLiteral>();
        n->val = static_cast<double>(ParseDurationToken(tok)) / 1000.0;
        n->is_duration = true;
        n->pos = {tok.pos, tok.end};
        last_depth_ = 1;
        return n;
      }
      case Tok::kString: {
        Token tok = Take();
        auto s = std::make_unique<StringLiteral>();
        s->val = tok.str;
        s->pos = {tok.pos, tok.end};
        last_depth_ = 1;
        return s;
      }
      case Tok::kLParen: {
        Token lp = Take();
        DepthGuard g(depth_, lp.pos);
        auto p = std::make_unique<ParenExpr>();
        p->expr = ParseBinary(0);
        Token rp = Expect(Tok::kRParen);
        p->pos = {lp.pos, rp.end};
        last_depth_ = Deeper(last_depth_ + 1, lp.pos);
        return p;
      }
      case Tok::kLBrace:
        return ParseSelector(std::nullopt);
      case Tok::kMetricIdentifier:
        return ParseSelector(Take());
      case Tok::kIdentifier: {
        std::string lower = AsciiLower(t.text);
        const Token& next = Peek(1);
        if (auto op = AggregatorOf(lower);
            op &&
            (next.type == Tok::kLParen || IsKeyword(next, "by") || IsKeyword(next, "without")))
          return ParseAggregate(*op);
        // Binary-operator modifiers never start an operand.
        if (lower == "on" || lower == "ignoring" || lower == "group_left" ||
            lower == "group_right" || lower == "bool")
          Unexpected(t);
        if (next.type == Tok::kLParen) return ParseCall();
        // Every other word, keywords included (offset, sum, start, ...), may
        // name a metric.
        return ParseSelector(Take());
      }
      default:
        Unexpected(t);
    }
  }

  ExprPtr ParsePostfix(ExprPtr e) {
    while (true) {
      const Token& t = Peek();
      if (t.type == Tok::kLBracket) {
        e = ParseBracket(std::move(e));  // sets last_depth_
      } else if (IsKeyword(t, "offset")) {
        int depth = last_depth_;
        ParseOffset(*e);
        last_depth_ = std::max(depth, last_depth_);
      } else if (t.type == Tok::kAt) {
        ParseAt(*e);
      } else if (IsKeyword(t, "anchored") || IsKeyword(t, "smoothed")) {
        ParseExtendedModifier(*e);
      } else {
        return e;
      }
    }
  }

  ExprPtr ParseCall() {
    Token name = Take();
    const FunctionInfo* f = LookupFunction(name.text);
    if (f == nullptr) Fail(name.pos, "unknown function with name " + GoQuote(name.text));
    if (f->experimental && !opts_.experimental)
      Fail(name.pos, "function " + GoQuote(name.text) + " is not enabled");
    Take();  // (
    DepthGuard g(depth_, name.pos);
    auto c = std::make_unique<Call>();
    c->func = f;
    int end = ParseArgs(&c->args);
    c->pos = {name.pos, end};
    last_depth_ = Deeper(last_depth_ + 1, name.pos);
    return c;
  }

  // After '(': arguments up to and including ')'. Returns the end position.
  // Leaves last_depth_ at the deepest argument's depth.
  int ParseArgs(std::vector<ExprPtr>* args) {
    int depth = 0;
    last_depth_ = 0;
    if (Peek().type == Tok::kRParen) return Take().end;
    while (true) {
      args->push_back(ParseBinary(0));
      depth = std::max(depth, last_depth_);
      last_depth_ = depth;
      if (Peek().type == Tok::kComma) {
        Token comma = Take();
        if (Peek().type == Tok::kRParen)
          Fail(comma.pos, "trailing commas not allowed in function call args");
        continue;
      }
      return Expect(Tok::kRParen).end;
    }
  }

  ExprPtr ParseAggregate(AggOp op) {
    Token kw = Take();
    if ((op == AggOp::kLimitk || op == AggOp::kLimitRatio) && !opts_.experimental)
      Fail(kw.pos,
           "limitk() and limit_ratio() are experimental and must be enabled with "
           "--enable-feature=promql-experimental-functions");
    auto a = std::make_unique<AggregateExpr>();
    a->op = op;
    bool grouped = false;
    if (IsKeyword(Peek(), "by") || IsKeyword(Peek(), "without")) {
      ParseGrouping(*a);
      grouped = true;
    }
    Expect(Tok::kLParen, "aggregation", "\"(\"");
    DepthGuard g(depth_, kw.pos);
    std::vector<ExprPtr> args;
    int end = ParseArgs(&args);
    int depth = Deeper(last_depth_ + 1, kw.pos);
    if (!grouped && (IsKeyword(Peek(), "by") || IsKeyword(Peek(), "without")))
      end = ParseGrouping(*a);
    a->pos = {kw.pos, end};
    if (args.empty()) Fail(kw.pos, "no arguments for aggregate expression provided");
    size_t want = HasParam(op) ? 2 : 1;
    if (args.size() != want)
      Fail(kw.pos, "wrong number of arguments for aggregate expression provided, expected " +
                       std::to_string(want) + ", got " + std::to_string(args.size()));
    if (want == 2) a->param = std::move(args[0]);
    a->expr = std::move(args.back());
    last_depth_ = depth;
    return a;
  }

  int ParseGrouping(AggregateExpr& a) {
    a.without = IsKeyword(Take(), "without");
    a.by = !a.without;
    a.grouping = ParseLabelList();
    return last_end_;
  }

  // '(' label, ... ')' for by/without/on/ignoring/group_x. Labels may be
  // quoted (UTF-8 names); a trailing comma is fine.
  std::vector<std::string> ParseLabelList() {
    Expect(Tok::kLParen, "grouping opts", "\"(\"");
    std::vector<std::string> labels;
    while (true) {
      const Token& t = Peek();
      if (t.type == Tok::kRParen) break;
      if (t.type == Tok::kIdentifier)
        labels.push_back(t.text);
      else if (t.type == Tok::kString)
        labels.push_back(t.str);
      else
        Unexpected(t, "grouping opts", "label");
      Take();
      if (Peek().type == Tok::kComma) {
        Take();
      } else if (Peek().type != Tok::kRParen) {
        Unexpected(Peek(), "grouping opts", "\",\" or \")\"");
      }
    }
    Take();
    return labels;
  }

  // A selector; `name` is the identifier before the braces, if any.
  ExprPtr ParseSelector(std::optional<Token> name) {
    auto vs = std::make_unique<VectorSelector>();
    int start = name ? name->pos : Peek().pos;
    int end = name ? name->end : start;
    if (Peek().type == Tok::kLBrace) {
      Take();
      while (true) {
        Token t = Peek();
        if (t.type == Tok::kRBrace) break;
        if (t.type != Tok::kIdentifier && t.type != Tok::kString)
          Unexpected(t, "label matching", "identifier or \"}\"");
        Take();
        std::string label = t.type == Tok::kString ? t.str : t.text;
        const Token& op = Peek();
        if (t.type == Tok::kString && (op.type == Tok::kComma || op.type == Tok::kRBrace)) {
          // A lone quoted string is the metric name (Prometheus 3 UTF-8 syntax).
          vs->matchers.push_back(
              MakeMatcher(t.pos, Matcher::Op::kEq, std::string(kMetricName), label));
        } else {
          Matcher::Op mop;
          switch (op.type) {
            case Tok::kEql:
              mop = Matcher::Op::kEq;
              break;
            case Tok::kNeq:
              mop = Matcher::Op::kNeq;
              break;
            case Tok::kEqlRegex:
              mop = Matcher::Op::kRe;
              break;
            case Tok::kNeqRegex:
              mop = Matcher::Op::kNre;
              break;
            default:
              Unexpected(op, "label matching", "label matching operator");
          }
          Take();
          Token val = Expect(Tok::kString, "label matching", "string");
          vs->matchers.push_back(MakeMatcher(t.pos, mop, label, val.str));
        }
        if (Peek().type == Tok::kComma) {
          Take();
        } else if (Peek().type != Tok::kRBrace) {
          Unexpected(Peek(), "label matching", "\",\" or \"}\"");
        }
      }
      end = Take().end;
    }
    if (name) {
      vs->name = name->text;
      vs->matchers.push_back(
          MakeMatcher(name->pos, Matcher::Op::kEq, std::string(kMetricName), name->text));
    }
    vs->pos = {start, end};
    last_depth_ = 1;
    return vs;
  }

  Matcher MakeMatcher(int pos, Matcher::Op op, std::string name, std::string value) {
    Result<Matcher> m = Matcher::Make(op, std::move(name), std::move(value));
    if (!m.ok()) Fail(pos, m.status().message());
    return std::move(m).value();
  }

  // ---- Modifiers ----

  ExprPtr ParseBracket(ExprPtr e) {
    Token lb = Take();  // [
    int depth = last_depth_;
    Dur range = ParseDurExpr(DurContext::kRange);
    depth = Deeper(std::max(depth, range.depth) + 1, lb.pos);
    int range_pos = range.node->pos.start;
    if (Peek().type == Tok::kColon) {
      Take();
      auto sq = std::make_unique<SubqueryExpr>();
      sq->range = ToDuration(std::move(range), range_pos, true);
      if (Peek().type != Tok::kRBracket) {
        Dur step = ParseDurExpr(DurContext::kRange);
        depth = Deeper(std::max(depth, step.depth + 1), lb.pos);
        int step_pos = step.node->pos.start;
        sq->step = ToDuration(std::move(step), step_pos, true);
      }
      Token rb = Expect(Tok::kRBracket, "subquery or range selector", "\"]\"");
      sq->pos = {e->pos.start, rb.end};
      sq->expr = std::move(e);
      last_depth_ = depth;
      return sq;
    }
    Token rb = Expect(Tok::kRBracket, "subquery or range selector", "\":\" or \"]\"");
    if (e->kind != NodeKind::kVectorSelector)
      Fail(lb.pos, "ranges only allowed for vector selectors");
    auto& vs = static_cast<VectorSelector&>(*e);
    if (vs.offset.ms != 0 || vs.offset.expr)
      Fail(lb.pos, "no offset modifiers allowed before range");
    if (vs.at != AtModifier::kNone) Fail(lb.pos, "no @ modifiers allowed before range");
    if (vs.anchored || vs.smoothed)
      Fail(lb.pos, "no anchored or smoothed modifiers allowed before range");
    auto ms = std::make_unique<MatrixSelector>();
    ms->range = ToDuration(std::move(range), range_pos, true);
    ms->pos = {e->pos.start, rb.end};
    ms->vector_selector = std::move(e);
    last_depth_ = depth;
    return ms;
  }

  // Where offset/@ of `e` live, or null when `e` cannot carry them.
  struct Slots {
    Duration* offset = nullptr;
    AtModifier* at = nullptr;
    int64_t* at_ms = nullptr;
  };
  static Slots SlotsOf(Expr& e) {
    switch (e.kind) {
      case NodeKind::kVectorSelector: {
        auto& vs = static_cast<VectorSelector&>(e);
        return {&vs.offset, &vs.at, &vs.at_ms};
      }
      case NodeKind::kMatrixSelector: {
        auto& vs = static_cast<VectorSelector&>(*static_cast<MatrixSelector&>(e).vector_selector);
        return {&vs.offset, &vs.at, &vs.at_ms};
      }
      case NodeKind::kSubquery: {
        auto& sq = static_cast<SubqueryExpr&>(e);
        return {&sq.offset, &sq.at, &sq.at_ms};
      }
      default:
        return {};
    }
  }

  void ParseOffset(Expr& e) {
    Take();  // offset
    const Token& t = Peek();
    if (t.type == Tok::kEOF)
      Fail(t.pos,
           "unexpected end of input in offset, expected number, duration, step(), or range()");
    int pos = t.pos;
    // Only a signed atom: "x offset 5m - 8" subtracts 8 from the selector.
    Dur d = ParseDurSigned(DurContext::kOffset);
    last_depth_ = d.depth + 1;
    Duration off = ToDuration(std::move(d), pos, false);
    Slots s = SlotsOf(e);
    if (s.offset == nullptr)
      Fail(e.pos.start,
           "offset modifier must be preceded by an instant vector selector or range vector "
           "selector or a subquery");
    if (s.offset->ms != 0 || s.offset->expr)
      Fail(e.pos.start, "offset may not be set multiple times");
    *s.offset = std::move(off);
    e.pos.end = last_end_;
  }

  void ParseAt(Expr& e) {
    Take();  // @
    AtModifier kind = AtModifier::kTimestamp;
    int64_t ms = 0;
    if ((IsKeyword(Peek(), "start") || IsKeyword(Peek(), "end")) && Peek(1).type == Tok::kLParen) {
      kind = IsKeyword(Take(), "start") ? AtModifier::kStart : AtModifier::kEnd;
      Take();
      Expect(Tok::kRParen, "@", "\")\"");
    } else {
      bool neg = false;
      while (Peek().type == Tok::kAdd || Peek().type == Tok::kSub) neg ^= Take().type == Tok::kSub;
      const Token& t = Peek();
      double v;
      if (t.type == Tok::kNumber) {
        v = ParseNumberToken(t);
      } else if (t.type == Tok::kDuration) {
        v = static_cast<double>(ParseDurationToken(t)) / 1000.0;
      } else if (t.type == Tok::kEOF) {
        Fail(t.pos, "unexpected end of input in @, expected timestamp");
      } else {
        Unexpected(t, "@", "timestamp");
      }
      Take();
      if (neg) v = -v;
      double scaled = v * 1000.0;
      if (!std::isfinite(v) || scaled >= 9223372036854775807.0 || scaled < -9223372036854775807.0)
        Fail(e.pos.start, "timestamp out of bounds for @ modifier: " + TimestampText(v));
      ms = std::llround(scaled);
    }
    Slots s = SlotsOf(e);
    if (s.at == nullptr)
      Fail(e.pos.start,
           "@ modifier must be preceded by an instant vector selector or range vector selector "
           "or a subquery");
    if (*s.at != AtModifier::kNone)
      Fail(e.pos.start, "@ <timestamp> may not be set multiple times");
    *s.at = kind;
    *s.at_ms = ms;
    e.pos.end = last_end_;
  }

  void ParseExtendedModifier(Expr& e) {
    Token kw = Take();
    std::string which = AsciiLower(kw.text);
    RequireExperimental(kw.pos, "the " + which + " modifier");
    VectorSelector* vs = nullptr;
    if (e.kind == NodeKind::kVectorSelector) vs = static_cast<VectorSelector*>(&e);
    if (e.kind == NodeKind::kMatrixSelector)
      vs = static_cast<VectorSelector*>(static_cast<MatrixSelector&>(e).vector_selector.get());
    if (vs == nullptr)
      Fail(e.pos.start,
           which +
               " modifier must be preceded by an instant vector selector or range vector selector");
    if (vs->anchored || vs->smoothed)
      Fail(e.pos.start, "anchored and smoothed modifiers may be given only once and not together");
    (which == "anchored" ? vs->anchored : vs->smoothed) = true;
    e.pos.end = kw.end;
  }

  // ---- Duration expressions ([5m+1m], offset -step(), ...) ----

  Duration ToDuration(Dur d, int pos, bool positive) {
    Duration out;
    if (d.value) {
      double v = *d.value;
      if (!std::isfinite(v) || std::fabs(v) > kMaxDurationSeconds)
        Fail(pos, "duration out of range");
      out.ms = std::llround(v * 1000.0);
      if (positive && out.ms <= 0) Fail(pos, "duration must be greater than 0");
    }
    // A lone literal (even negated) is a plain constant; anything else keeps
    // its tree so that it prints as written and step()/range() can resolve.
    if (d.node->kind != NodeKind::kNumber) {
      if (!opts_.experimental) Fail(pos, "duration expressions are experimental and not enabled");
      out.expr = std::move(d.node);
    }
    return out;
  }

  Dur ParseDurExpr(DurContext ctx) { return ParseDurBinary(0, ctx); }

  Dur ParseDurBinary(int min_prec, DurContext ctx) {
    Dur lhs = ParseDurSigned(ctx);
    while (true) {
      const Token& t = Peek();
      BinOp op;
      int prec;
      switch (t.type) {
        case Tok::kAdd:
          op = BinOp::kAdd, prec = 1;
          break;
        case Tok::kSub:
          op = BinOp::kSub, prec = 1;
          break;
        case Tok::kMul:
          op = BinOp::kMul, prec = 2;
          break;
        case Tok::kDiv:
          op = BinOp::kDiv, prec = 2;
          break;
        case Tok::kMod:
          op = BinOp::kMod, prec = 2;
          break;
        case Tok::kPow:
          op = BinOp::kPow, prec = 3;
          break;
        default:
          prec = 0;
      }
      // In an offset only parenthesised arithmetic belongs to the duration.
      if (prec == 0 || prec < min_prec ||
          (ctx == DurContext::kOffset && depth_in_offset_parens_ == 0))
        break;
      Token opt = Take();
      Dur rhs = ParseDurBinary(op == BinOp::kPow ? prec : prec + 1, ctx);
      if (rhs.value && *rhs.value == 0) {
        if (op == BinOp::kDiv) Fail(opt.pos, "division by zero");
        if (op == BinOp::kMod) Fail(opt.pos, "modulo by zero");
      }
      std::optional<double> v;
      if (lhs.value && rhs.value) {
        double a = *lhs.value, b = *rhs.value;
        switch (op) {
          case BinOp::kAdd:
            v = a + b;
            break;
          case BinOp::kSub:
            v = a - b;
            break;
          case BinOp::kMul:
            v = a * b;
            break;
          case BinOp::kDiv:
            v = a / b;
            break;
          case BinOp::kMod:
            v = std::fmod(a, b);
            break;
          default:
            v = std::pow(a, b);
        }
      }
      auto b = std::make_unique<BinaryExpr>();
      b->op = op;
      b->pos = {lhs.node->pos.start, rhs.node->pos.end};
      int depth = Deeper(std::max(lhs.depth, rhs.depth) + 1, b->pos.start);
      b->lhs = std::move(lhs.node);
      b->rhs = std::move(rhs.node);
      lhs = Dur{std::move(b), v, depth};
    }
    return lhs;
  }

  Dur ParseDurSigned(DurContext ctx) {
    const Token& t = Peek();
    if (t.type != Tok::kAdd && t.type != Tok::kSub) return ParseDurAtom(ctx);
    Token op = Take();
    DepthGuard g(depth_, op.pos);
    // As in expressions, only '^' binds tighter than a sign; in an offset the
    // sign applies to the atom alone.
    Dur d = (ctx == DurContext::kOffset && depth_in_offset_parens_ == 0) ? ParseDurSigned(ctx)
                                                                         : ParseDurBinary(3, ctx);
    bool neg = op.type == Tok::kSub;
    if (d.node->kind == NodeKind::kNumber) {
      auto& n = static_cast<NumberLiteral&>(*d.node);
      if (neg) n.val = -n.val;
      n.pos.start = op.pos;
      if (neg && d.value) d.value = -*d.value;
      return d;
    }
    auto u = std::make_unique<UnaryExpr>();
    u->negate = neg;
    u->pos = {op.pos, d.node->pos.end};
    u->expr = std::move(d.node);
    if (neg && d.value) d.value = -*d.value;
    return Dur{std::move(u), d.value, Deeper(d.depth + 1, op.pos)};
  }

  [[noreturn]] void DurUnexpected(const Token& t, DurContext ctx) {
    if (t.type == Tok::kError) Fail(t.pos, t.text);
    if (t.type == Tok::kEOF) {
      Fail(
          t.pos,
          ctx == DurContext::kRange
              ? "unexpected end of input in duration expression"
              : "unexpected end of input in offset, expected number, duration, step(), or range()");
    }
    Unexpected(t, ctx == DurContext::kRange ? "subquery or range selector" : "offset",
               "number, duration, step(), or range()");
  }

  Dur ParseDurAtom(DurContext ctx) {
    const Token& t = Peek();
    switch (t.type) {
      case Tok::kNumber: {
        Token tok = Take();
        auto n = std::make_unique<NumberLiteral>();
        n->val = ParseNumberToken(tok);
        n->pos = {tok.pos, tok.end};
        double v = n->val;
        return Dur{std::move(n), v};
      }
      case Tok::kDuration: {
        Token tok = Take();
        auto n = std::make_unique<NumberLiteral>();
        n->val = static_cast<double>(ParseDurationToken(tok)) / 1000.0;
        n->is_duration = true;
        n->pos = {tok.pos, tok.end};
        double v = n->val;
        return Dur{std::move(n), v};
      }
      case Tok::kLParen: {
        Token lp = Take();
        DepthGuard g(depth_, lp.pos);
        ++depth_in_offset_parens_;
        Dur inner = ParseDurBinary(0, ctx);
        --depth_in_offset_parens_;
        if (Peek().type != Tok::kRParen) DurUnexpected(Peek(), ctx);
        Token rp = Take();
        auto p = std::make_unique<ParenExpr>();
        p->pos = {lp.pos, rp.end};
        p->expr = std::move(inner.node);
        return Dur{std::move(p), inner.value, Deeper(inner.depth + 1, lp.pos)};
      }
      case Tok::kIdentifier: {
        std::string lower = AsciiLower(t.text);
        if (lower == "step" || lower == "range") {
          Token name = Take();
          if (Peek().type != Tok::kLParen) DurUnexpected(Peek(), ctx);
          Take();
          if (Peek().type != Tok::kRParen) DurUnexpected(Peek(), ctx);
          Token rp = Take();
          auto c = std::make_unique<Call>();
          c->func = LookupFunction(lower);
          c->pos = {name.pos, rp.end};
          return Dur{std::move(c), std::nullopt};
        }
        if (lower == "min_of" || lower == "max_of") {
          Token name = Take();
          DepthGuard g(depth_, name.pos);
          if (Peek().type != Tok::kLParen) DurUnexpected(Peek(), ctx);
          Take();
          ++depth_in_offset_parens_;
          Dur a = ParseDurBinary(0, ctx);
          if (Peek().type != Tok::kComma) Unexpected(Peek(), std::string(lower) + "()", "\",\"");
          Take();
          Dur b = ParseDurBinary(0, ctx);
          --depth_in_offset_parens_;
          if (Peek().type != Tok::kRParen) Unexpected(Peek(), std::string(lower) + "()", "\")\"");
          Token rp = Take();
          std::optional<double> v;
          if (a.value && b.value)
            v = lower == "min_of" ? std::min(*a.value, *b.value) : std::max(*a.value, *b.value);
          auto c = std::make_unique<Call>();
          c->func = LookupFunction(lower);
          c->pos = {name.pos, rp.end};
          int depth = Deeper(std::max(a.depth, b.depth) + 1, name.pos);
          c->args.push_back(std::move(a.node));
          c->args.push_back(std::move(b.node));
          return Dur{std::move(c), v, depth};
        }
        DurUnexpected(t, ctx);
      }
      default:
        DurUnexpected(t, ctx);
    }
  }

  Lexer lex_;
  const ParseOptions& opts_;
  std::deque<Token> buf_;
  int last_end_ = 0;
  int depth_ = 0;       // parser recursion
  int last_depth_ = 0;  // tree depth of the expression just parsed
  // Inside parentheses/min_of()/max_of() of an offset, arithmetic is part of
  // the duration; outside them it applies to the selector.
  int depth_in_offset_parens_ = 0;
};

// ---- Type checks and semantic rules (Prometheus's checkAST) ----

class Checker {
 public:
  Checker(std::string_view query, const ParseOptions& opts) : in_(query), opts_(opts) {}

  ValueType Check(Expr& e, bool bypass_empty_check = false) {
    switch (e.kind) {
      case NodeKind::kNumber:
        return ValueType::kScalar;
      case NodeKind::kString:
        return ValueType::kString;
      case NodeKind::kVectorSelector:
        CheckSelector(static_cast<VectorSelector&>(e), bypass_empty_check);
        return ValueType::kVector;
      case NodeKind::kMatrixSelector:
        CheckSelector(
            static_cast<VectorSelector&>(*static_cast<MatrixSelector&>(e).vector_selector), false);
        return ValueType::kMatrix;
      case NodeKind::kSubquery: {
        ValueType t = Check(*static_cast<SubqueryExpr&>(e).expr);
        if (t != ValueType::kVector)
          Fail(e.pos.start, std::string("subquery is only allowed on instant vector, got ") +
                                ShortTypeName(t) + " instead");
        return ValueType::kMatrix;
      }
      case NodeKind::kParen:
        return Check(*static_cast<ParenExpr&>(e).expr);
      case NodeKind::kUnary: {
        ValueType t = Check(*static_cast<UnaryExpr&>(e).expr);
        if (t != ValueType::kScalar && t != ValueType::kVector)
          Fail(e.pos.start,
               "unary expression only allowed on expressions of type scalar or instant vector, "
               "got " +
                   GoQuote(ValueTypeName(t)));
        return t;
      }
      case NodeKind::kCall:
        return CheckCall(static_cast<Call&>(e));
      case NodeKind::kAggregate: {
        auto& a = static_cast<AggregateExpr&>(e);
        ExpectType(*a.expr, ValueType::kVector, "aggregation expression");
        if (a.op == AggOp::kCountValues) {
          ExpectType(*a.param, ValueType::kString, "aggregation parameter");
        } else if (a.param) {
          ExpectType(*a.param, ValueType::kScalar, "aggregation parameter");
        }
        return ValueType::kVector;
      }
      case NodeKind::kBinary:
        return CheckBinary(static_cast<BinaryExpr&>(e));
    }
    return ValueType::kNone;
  }

 private:
  void ExpectType(Expr& e, ValueType want, const std::string& context, bool bypass = false) {
    ValueType t = Check(e, bypass);
    if (t != want)
      Fail(e.pos.start, std::string("expected type ") + ValueTypeName(want) + " in " + context +
                            ", got " + ValueTypeName(t));
  }

  void CheckSelector(VectorSelector& vs, bool bypass_empty_check) {
    if (!vs.name.empty()) {
      // The last matcher is the name written outside the braces.
      for (size_t i = 0; i + 1 < vs.matchers.size(); ++i)
        if (vs.matchers[i].name() == kMetricName)
          Fail(vs.pos.start, "metric name must not be set twice: " + GoQuote(vs.name) + " or " +
                                 GoQuote(vs.matchers[i].value()));
      return;
    }
    if (bypass_empty_check) return;
    // Refuse selectors that would match every series (e.g. {job=~".*"}).
    for (const Matcher& m : vs.matchers)
      if (!m.MatchesEmpty()) return;
    Fail(vs.pos.start, "vector selector must contain at least one non-empty matcher");
  }

  ValueType CheckCall(Call& c) {
    const FunctionInfo& f = *c.func;
    const int n = static_cast<int>(c.args.size());
    const int na = static_cast<int>(f.arg_types.size());
    const std::string quoted = GoQuote(f.name);
    if (f.variadic < 0) {
      if (n != na)
        Fail(c.pos.start, "expected " + std::to_string(na) + " argument(s) in call to " + quoted +
                              ", got " + std::to_string(n));
    } else if (n < na - 1) {
      Fail(c.pos.start, "expected at least " + std::to_string(na - 1) + " argument(s) in call to " +
                            quoted + ", got " + std::to_string(n));
    } else if (f.variadic > 0 && n > na - 1 + f.variadic) {
      Fail(c.pos.start, "expected at most " + std::to_string(na - 1 + f.variadic) +
                            " argument(s) in call to " + quoted + ", got " + std::to_string(n));
    }
    for (int i = 0; i < n; ++i) {
      Expr& arg = *c.args[i];
      bool bypass = false;
      if (f.name == "info" && i == 1) {
        // info()'s second argument selects info metrics by labels only.
        if (arg.kind != NodeKind::kVectorSelector)
          Fail(arg.pos.start, "expected label selectors only");
        if (!static_cast<VectorSelector&>(arg).name.empty())
          Fail(arg.pos.start, "expected label selectors only, got vector selector instead");
        bypass = true;
      }
      ExpectType(arg, f.arg_types[std::min(i, na - 1)], "call to function " + quoted, bypass);
    }
    // Which functions accept anchored/smoothed ranges is checked by the engine:
    // Prometheus reports it at evaluation ("smoothed modifier can only be used
    // with: delta, increase, rate - not with deriv"), not as a parse error.
    return f.return_type;
  }

  // Start of the operator text of a binary expression (after the LHS).
  int OperatorPos(const BinaryExpr& b) const {
    int p = b.lhs->pos.end;
    while (p < static_cast<int>(in_.size()) &&
           (in_[p] == ' ' || in_[p] == '\t' || in_[p] == '\n' || in_[p] == '\r'))
      ++p;
    return p;
  }

  ValueType CheckBinary(BinaryExpr& b) {
    ValueType lt = Check(*b.lhs);
    ValueType rt = Check(*b.rhs);
    const std::string op = GoQuote(BinOpName(b.op));
    if (b.return_bool && !IsComparison(b.op))
      Fail(OperatorPos(b), "bool modifier can only be used on comparison operators");
    if (IsComparison(b.op) && !b.return_bool && lt == ValueType::kScalar &&
        rt == ValueType::kScalar)
      Fail(OperatorPos(b), "comparisons between scalars must use BOOL modifier");
    VectorMatching& vm = *b.matching;
    if (IsSetOp(b.op) && vm.card == Cardinality::kOneToOne) vm.card = Cardinality::kManyToMany;
    if (vm.on)
      for (const auto& l1 : vm.labels)
        for (const auto& l2 : vm.include)
          if (l1 == l2)
            Fail(OperatorPos(b),
                 "label " + GoQuote(l1) + " must not occur in ON and GROUP clause at once");
    if (lt != ValueType::kScalar && lt != ValueType::kVector)
      Fail(b.lhs->pos.start, "binary expression must contain only scalar and instant vector types");
    if (rt != ValueType::kScalar && rt != ValueType::kVector)
      Fail(b.rhs->pos.start, "binary expression must contain only scalar and instant vector types");
    if (lt != ValueType::kVector || rt != ValueType::kVector) {
      if (!vm.labels.empty())
        Fail(b.pos.start, "vector matching only allowed between instant vectors");
      if (b.fill_left || b.fill_right)
        Fail(b.pos.start, "fill modifiers only allowed between instant vectors");
      b.matching.reset();
    } else if (IsSetOp(b.op)) {
      if (vm.card == Cardinality::kOneToMany || vm.card == Cardinality::kManyToOne)
        Fail(b.pos.start, "no grouping allowed for " + op + " operation");
    }
    if ((lt == ValueType::kScalar || rt == ValueType::kScalar) && IsSetOp(b.op))
      Fail(b.pos.start, "set operator " + op + " not allowed in binary scalar expression");
    return b.Type();
  }

  std::string_view in_;
  const ParseOptions& opts_;
};

std::string Where(std::string_view q, int pos) {
  if (pos < 0 || pos > static_cast<int>(q.size())) return "invalid position:";
  int line = 1, last_break = -1;
  for (int i = 0; i < pos; ++i)
    if (q[i] == '\n') {
      ++line;
      last_break = i;
    }
  return std::to_string(line) + ":" + std::to_string(pos - last_break) + ":";
}

}  // namespace

Result<ExprPtr> Parse(std::string_view query, const ParseOptions& opts) {
  try {
    Parser p(query, opts);
    ExprPtr e = p.ParseQuery();
    Checker(query, opts).Check(*e);
    return e;
  } catch (const Failure& f) {
    return Invalid(Where(query, f.pos) + " parse error: " + f.msg);
  }
}

Result<std::vector<Matcher>> ParseMatchers(std::string_view selector) {
  try {
    ParseOptions opts;
    Parser p(selector, opts);
    return p.ParseSelectorOnly();
  } catch (const Failure& f) {
    return Invalid(Where(selector, f.pos) + " parse error: " + f.msg);
  }
}

Result<int64_t> ParseDuration(std::string_view s) {
  const std::string quoted = GoQuote(s);
  if (s == "0") return int64_t{0};
  if (s.empty()) return Invalid("not a valid duration string: " + quoted);
  struct Unit {
    const char* name;
    int64_t ms;
  };
  // Largest first: each unit may appear once, in this order.
  static const Unit kUnits[] = {{"y", 365LL * 24 * 3600 * 1000},
                                {"w", 7LL * 24 * 3600 * 1000},
                                {"d", 24LL * 3600 * 1000},
                                {"h", 3600LL * 1000},
                                {"m", 60LL * 1000},
                                {"s", 1000},
                                {"ms", 1}};
  int next_unit = 0;
  int64_t total = 0;
  size_t p = 0;
  while (p < s.size()) {
    size_t d = p;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
    if (p == d) return Invalid("not a valid duration string: " + quoted);
    std::string_view digits = s.substr(d, p - d);
    size_t u = p;
    while (p < s.size() && ((s[p] >= 'a' && s[p] <= 'z') || (s[p] >= 'A' && s[p] <= 'Z'))) ++p;
    std::string_view unit = s.substr(u, p - u);
    if (unit.empty()) return Invalid("not a valid duration string: " + quoted);
    int idx = -1;
    for (int i = 0; i < 7; ++i)
      if (unit == kUnits[i].name) idx = i;
    if (idx < 0) return Invalid("unknown unit " + GoQuote(unit) + " in duration " + quoted);
    if (idx < next_unit) return Invalid("not a valid duration string: " + quoted);
    next_unit = idx + 1;
    int64_t v = 0;
    for (char c : digits) {
      if (v > (INT64_MAX - 9) / 10) return Invalid("duration out of range");
      v = v * 10 + (c - '0');
    }
    if (v > INT64_MAX / kUnits[idx].ms || total > INT64_MAX - v * kUnits[idx].ms)
      return Invalid("duration out of range");
    total += v * kUnits[idx].ms;
  }
  return total;
}

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0s";
  if (ms < 0) return "-" + FormatDuration(-ms);
  std::string out;
  // Years and weeks only when they divide evenly: 90d reads better than 12w6d.
  auto unit = [&](const char* name, int64_t mult, bool exact) {
    if (exact && ms % mult != 0) return;
    if (int64_t v = ms / mult; v > 0) {
      out += std::to_string(v) + name;
      ms -= v * mult;
    }
  };
  unit("y", 365LL * 24 * 3600 * 1000, true);
  unit("w", 7LL * 24 * 3600 * 1000, true);
  unit("d", 24LL * 3600 * 1000, false);
  unit("h", 3600LL * 1000, false);
  unit("m", 60LL * 1000, false);
  unit("s", 1000, false);
  unit("ms", 1, false);
  return out;
}

}  // namespace berth::monitor::promql
