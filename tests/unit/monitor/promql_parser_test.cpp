#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "monitor/promql/parser.h"

namespace berth::monitor::promql {
namespace {

// The tree as an s-expression, to check grouping without relying on Format.
std::string Tree(const Expr& e) {
  switch (e.kind) {
    case NodeKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      return std::string("(") + BinOpName(b.op) + (b.return_bool ? " bool" : "") + " " +
             Tree(*b.lhs) + " " + Tree(*b.rhs) + ")";
    }
    case NodeKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      return std::string(u.negate ? "(neg " : "(pos ") + Tree(*u.expr) + ")";
    }
    case NodeKind::kParen:
      return "(paren " + Tree(*static_cast<const ParenExpr&>(e).expr) + ")";
    default:
      return Format(e);
  }
}

ExprPtr MustParse(std::string_view q) {
  auto r = Parse(q);
  EXPECT_TRUE(r.ok()) << q << ": " << r.status().message();
  if (!r.ok()) return nullptr;
  return std::move(r).value();
}

std::string ParseError(std::string_view q, const ParseOptions& opts = {}) {
  auto r = Parse(q, opts);
  if (r.ok()) return "<no error; parsed as " + Format(**r) + ">";
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  return r.status().message();
}

std::string Fmt(std::string_view q) {
  ExprPtr e = MustParse(q);
  return e ? Format(*e) : "<error>";
}

template <class T>
const T& As(const ExprPtr& e) {
  return static_cast<const T&>(*e);
}

// ---- Literals ----

TEST(PromqlParserTest, Numbers) {
  struct Case {
    const char* in;
    double want;
  } cases[] = {
      {"1", 1},        {".5", 0.5},         {"5.", 5},           {"123.4567", 123.4567},
      {"5e-3", 0.005}, {"5e3", 5000},       {"0xc", 12},         {"0755", 493},
      {"08", 8},       {"+5.5e-3", 0.0055}, {"-0755", -493},     {"1_000", 1000},
      {"-1", -1},      {"+Inf", INFINITY},  {"-inf", -INFINITY}, {"iNf", INFINITY},
  };
  for (const auto& c : cases) {
    ExprPtr e = MustParse(c.in);
    ASSERT_TRUE(e) << c.in;
    ASSERT_EQ(e->kind, NodeKind::kNumber) << c.in;
    EXPECT_EQ(As<NumberLiteral>(e).val, c.want) << c.in;
    EXPECT_EQ(e->Type(), ValueType::kScalar);
  }
  for (const char* nan : {"NaN", "nan", "NAN"}) {
    ExprPtr e = MustParse(nan);
    ASSERT_TRUE(e);
    EXPECT_TRUE(std::isnan(As<NumberLiteral>(e).val));
  }
  // A folded sign extends the literal's position, as in Prometheus.
  ExprPtr e = MustParse(" -1");
  EXPECT_EQ(e->pos.start, 1);
  EXPECT_EQ(e->pos.end, 3);
}

TEST(PromqlParserTest, DurationsAsNumbers) {
  ExprPtr e = MustParse("1h30m");
  ASSERT_EQ(e->kind, NodeKind::kNumber);
  EXPECT_EQ(As<NumberLiteral>(e).val, 5400);
  EXPECT_TRUE(As<NumberLiteral>(e).is_duration);
  EXPECT_EQ(Format(*e), "1h30m");
  EXPECT_EQ(Fmt("time() - 90s"), "time() - 1m30s");
}

TEST(PromqlParserTest, NumberErrors) {
  EXPECT_EQ(ParseError("."), "1:1: parse error: unexpected character: '.'");
  EXPECT_EQ(ParseError("2.5."), "1:1: parse error: bad number or duration syntax: \"2.5.\"");
  EXPECT_EQ(ParseError("100..4"), "1:1: parse error: bad number or duration syntax: \"100..\"");
  EXPECT_EQ(ParseError("0deadbeef"), "1:1: parse error: bad number or duration syntax: \"0de\"");
  std::string big(309, '9');
  EXPECT_EQ(ParseError(big),
            "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"" + big +
                "\": value out of range");
}

TEST(PromqlParserTest, Strings) {
  struct Case {
    std::string in, want;
  } cases[] = {
      {R"("double-quoted string \" with escaped quote")",
       "double-quoted string \" with escaped quote"},
      {R"('single-quoted string \' with escaped quote')",
       "single-quoted string ' with escaped quote"},
      {"`backtick-quoted string`", "backtick-quoted string"},
      {R"("\a\b\f\n\r\t\v\\\" - \xFF\377\u1234\U00010111\U0001011111☺")",
       "\a\b\f\n\r\t\v\\\" - \xFF\377\u1234\U00010111\U0001011111☺"},
      {R"('\a\b\f\n\r\t\v\\\' - \xFF\377\u1234\U00010111\U0001011111☺')",
       "\a\b\f\n\r\t\v\\' - \xFF\377\u1234\U00010111\U0001011111☺"},
      {R"(`\a\b\f\n\r\t\v\\\"\' - \xFF\377\u1234\U00010111\U0001011111☺`)",
       R"(\a\b\f\n\r\t\v\\\"\' - \xFF\377\u1234\U00010111\U0001011111☺)"},
  };
  for (const auto& c : cases) {
    ExprPtr e = MustParse(c.in);
    ASSERT_TRUE(e);
    ASSERT_EQ(e->kind, NodeKind::kString);
    EXPECT_EQ(As<StringLiteral>(e).val, c.want);
    EXPECT_EQ(e->Type(), ValueType::kString);
  }
  EXPECT_EQ(Fmt(R"('a"b\n')"), R"("a\"b\n")");
}

TEST(PromqlParserTest, StringErrors) {
  EXPECT_EQ(ParseError("`\\``"), "1:4: parse error: unterminated raw string");
  EXPECT_EQ(ParseError("\"\\"), "1:1: parse error: escape sequence not terminated");
  EXPECT_EQ(ParseError(R"("\c")"), "1:1: parse error: unknown escape sequence U+0063 'c'");
  EXPECT_EQ(ParseError(R"("\x.")"),
            "1:1: parse error: illegal character U+002E '.' in escape sequence");
  EXPECT_EQ(ParseError("\"abc"), "1:1: parse error: unterminated quoted string");
  EXPECT_EQ(ParseError("some_metric{a=\"\xff\"}"), "1:15: parse error: invalid UTF-8 rune");
  EXPECT_EQ(ParseError(R"(sum by ("foo)(some_metric{}))"),
            "1:9: parse error: unterminated quoted string");
}

// ---- Selectors ----

TEST(PromqlParserTest, VectorSelectors) {
  ExprPtr e = MustParse(R"(foo{a="b", foo!="bar", test=~"test", bar!~"baz",})");
  ASSERT_EQ(e->kind, NodeKind::kVectorSelector);
  const auto& vs = As<VectorSelector>(e);
  EXPECT_EQ(vs.name, "foo");
  ASSERT_EQ(vs.matchers.size(), 5u);
  // The name written outside the braces comes last, as in Prometheus.
  EXPECT_EQ(vs.matchers[0].String(), R"(a="b")");
  EXPECT_EQ(vs.matchers[1].String(), R"(foo!="bar")");
  EXPECT_EQ(vs.matchers[2].String(), R"(test=~"test")");
  EXPECT_EQ(vs.matchers[3].String(), R"(bar!~"baz")");
  EXPECT_EQ(vs.matchers[4].String(), R"(__name__="foo")");
  EXPECT_EQ(vs.pos.end, 49);
  EXPECT_EQ(Format(*e), R"(foo{a="b",bar!~"baz",foo!="bar",test=~"test"})");

  EXPECT_EQ(Fmt("foo:bar{a=\"bc\"}"), "foo:bar{a=\"bc\"}");
  EXPECT_EQ(Fmt("foo{NaN='bc'}"), "foo{NaN=\"bc\"}");
  EXPECT_EQ(Fmt("foo{bar='}'}"), "foo{bar=\"}\"}");
  EXPECT_EQ(Fmt(R"({__name__=~"bar", __name__!~"baz"})"), R"({__name__!~"baz",__name__=~"bar"})");
  EXPECT_EQ(Fmt(R"({__name__="bar", __name__="baz"})"), R"({__name__="bar",__name__="baz"})");
  // Keywords are fine as metric names.
  for (const char* kw : {"offset", "sum", "min", "start", "end", "anchored", "smoothed", "step"}) {
    ExprPtr k = MustParse(kw);
    ASSERT_TRUE(k);
    EXPECT_EQ(k->kind, NodeKind::kVectorSelector) << kw;
    EXPECT_EQ(As<VectorSelector>(k).name, kw);
  }
  EXPECT_EQ(Fmt(R"(offset{step="1s"}[5m])"), R"(offset{step="1s"}[5m])");
}

TEST(PromqlParserTest, Utf8Selectors) {
  ExprPtr e = MustParse(R"({"some.metric", "a.b"="c"})");
  ASSERT_TRUE(e);
  const auto& vs = As<VectorSelector>(e);
  EXPECT_EQ(vs.name, "");  // named inside the braces: no Name, as in Prometheus
  ASSERT_EQ(vs.matchers.size(), 2u);
  EXPECT_EQ(vs.matchers[0].name(), "__name__");
  EXPECT_EQ(vs.matchers[0].value(), "some.metric");
  EXPECT_EQ(vs.matchers[1].name(), "a.b");
  EXPECT_EQ(Format(*e), R"({"a.b"="c",__name__="some.metric"})");
  ExprPtr r = MustParse(Format(*e));  // and that prints back into a valid query
  ASSERT_TRUE(r);

  ExprPtr q = MustParse(R"({'foo\'bar', 'a\\dos\\path'='boo\\urns'})");
  ASSERT_TRUE(q);
  EXPECT_EQ(As<VectorSelector>(q).matchers[0].value(), "foo'bar");
  EXPECT_EQ(As<VectorSelector>(q).matchers[1].name(), "a\\dos\\path");
  EXPECT_EQ(Fmt(R"(sum by ("foo bar", baz) ({"some.metric"}))"),
            R"(sum by ("foo bar", baz) ({__name__="some.metric"}))");
}

TEST(PromqlParserTest, SelectorErrors) {
  EXPECT_EQ(ParseError("{"), "1:2: parse error: unexpected end of input inside braces");
  EXPECT_EQ(ParseError("}"), "1:1: parse error: unexpected character: '}'");
  EXPECT_EQ(ParseError("some{"), "1:6: parse error: unexpected end of input inside braces");
  EXPECT_EQ(ParseError("some}"), "1:5: parse error: unexpected character: '}'");
  EXPECT_EQ(ParseError("some_metric{a=b}"),
            "1:15: parse error: unexpected identifier \"b\" in label matching, expected string");
  EXPECT_EQ(ParseError(R"(some_metric{a:b="b"})"),
            "1:14: parse error: unexpected character inside braces: ':'");
  EXPECT_EQ(ParseError(R"(foo{a*"b"})"),
            "1:6: parse error: unexpected character inside braces: '*'");
  EXPECT_EQ(ParseError(R"(foo{a>="b"})"),
            "1:6: parse error: unexpected character inside braces: '>'");
  EXPECT_EQ(
      ParseError("foo{gibberish}"),
      "1:14: parse error: unexpected \"}\" in label matching, expected label matching operator");
  EXPECT_EQ(ParseError("foo{1}"), "1:5: parse error: unexpected character inside braces: '1'");
  EXPECT_EQ(ParseError("foo{__name__= =}"),
            "1:15: parse error: unexpected \"=\" in label matching, expected string");
  EXPECT_EQ(ParseError("foo{,}"),
            "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\"");
  EXPECT_EQ(ParseError(R"(foo{__name__ == "bar"})"),
            "1:15: parse error: unexpected \"=\" in label matching, expected string");
  EXPECT_EQ(ParseError(R"(foo{__name__="bar" lol})"),
            "1:20: parse error: unexpected identifier \"lol\" in label matching, expected \",\" or "
            "\"}\"");
  EXPECT_EQ(ParseError(R"(foo{"a"=})"),
            "1:9: parse error: unexpected \"}\" in label matching, expected string");
  EXPECT_EQ(ParseError(R"(foo{__name__="bar"})"),
            "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"");
  EXPECT_EQ(
      ParseError(R"q(foo{x=~"("})q").rfind("1:5: parse error: error parsing regexp: missing )", 0),
      0u);
}

TEST(PromqlParserTest, EmptyMatcherRule) {
  for (const char* q : {"{}", R"({x=""})", R"({x=~".*"})", R"({x!~".+"})", R"({x!="a"})"})
    EXPECT_EQ(ParseError(q),
              "1:1: parse error: vector selector must contain at least one non-empty matcher")
        << q;
  EXPECT_EQ(ParseError(R"(rate({x=""}[5m]))"),
            "1:6: parse error: vector selector must contain at least one non-empty matcher");
  EXPECT_TRUE(MustParse(R"({x=~".+"})"));
  EXPECT_TRUE(MustParse(R"({x="", y="a"})"));
  EXPECT_TRUE(MustParse("foo{}"));
  // info()'s label selector is exempt.
  EXPECT_TRUE(MustParse(R"(info(foo, {x=~".*"}))"));
}

TEST(PromqlParserTest, RangeSelectors) {
  struct Case {
    const char* in;
    int64_t ms;
  } cases[] = {{"test[1000ms]", 1000},
               {"test[5s]", 5000},
               {"foo[5m30s]", 330000},
               {"test[5]", 5000},
               {"foo[4.18]", 4180},
               {"foo[4s18ms]", 4018},
               {"test[5w]", 5 * 7 * 86400000LL},
               {"test[5y]", 5 * 365 * 86400000LL}};
  for (const auto& c : cases) {
    ExprPtr e = MustParse(c.in);
    ASSERT_TRUE(e);
    ASSERT_EQ(e->kind, NodeKind::kMatrixSelector) << c.in;
    EXPECT_EQ(As<MatrixSelector>(e).range.ms, c.ms) << c.in;
    EXPECT_EQ(As<MatrixSelector>(e).range.expr, nullptr);
    EXPECT_EQ(e->Type(), ValueType::kMatrix);
  }
  ExprPtr e = MustParse(R"(test{a="b"}[5y] OFFSET 3d)");
  const auto& vs = static_cast<const VectorSelector&>(*As<MatrixSelector>(e).vector_selector);
  EXPECT_EQ(vs.offset.ms, 3 * 86400000LL);
  EXPECT_EQ(e->pos.end, 25);
  EXPECT_EQ(Format(*e), R"(test{a="b"}[5y] offset 3d)");
}

TEST(PromqlParserTest, RangeErrors) {
  EXPECT_EQ(ParseError("foo[5mm]"), "1:5: parse error: bad number or duration syntax: \"5mm\"");
  EXPECT_EQ(ParseError("foo[5m1]"), "1:5: parse error: bad number or duration syntax: \"5m1\"");
  EXPECT_EQ(ParseError("foo[5m:1m1]"), "1:8: parse error: bad number or duration syntax: \"1m1\"");
  EXPECT_EQ(ParseError("foo[5y1hs]"),
            "1:5: parse error: unknown unit \"hs\" in duration \"5y1hs\"");
  EXPECT_EQ(ParseError("foo[5m1h]"), "1:5: parse error: not a valid duration string: \"5m1h\"");
  EXPECT_EQ(ParseError("foo[5m1m]"), "1:5: parse error: not a valid duration string: \"5m1m\"");
  EXPECT_EQ(ParseError("foo[0m]"), "1:5: parse error: duration must be greater than 0");
  EXPECT_EQ(ParseError("foo[-1]"), "1:5: parse error: duration must be greater than 0");
  EXPECT_EQ(ParseError(R"(foo["5m"])"),
            "1:5: parse error: unexpected character in duration expression: '\"'");
  EXPECT_EQ(ParseError("foo[]"),
            "1:5: parse error: unexpected \"]\" in subquery or range selector, expected number, "
            "duration, step(), or range()");
  EXPECT_EQ(ParseError(R"(foo{bar="baz"}[)"),
            "1:16: parse error: unexpected end of input in duration expression");
  EXPECT_EQ(ParseError("foo[5s x 5s]"),
            "1:8: parse error: unexpected character: 'x', expected ':'");
  EXPECT_EQ(ParseError("(foo + bar)[5m]"),
            "1:12: parse error: ranges only allowed for vector selectors");
  EXPECT_EQ(ParseError("rate(food[1m])[1h] offset 1h"),
            "1:15: parse error: ranges only allowed for vector selectors");
  EXPECT_EQ(ParseError("some_metric OFFSET 1m[5m]"),
            "1:22: parse error: no offset modifiers allowed before range");
  EXPECT_EQ(ParseError("some_metric @ 1234 [5m]"),
            "1:20: parse error: no @ modifiers allowed before range");
  EXPECT_EQ(ParseError("some_metric @ start() [5m]"),
            "1:23: parse error: no @ modifiers allowed before range");
  EXPECT_EQ(ParseError("some_metric offset step()[5m]"),
            "1:26: parse error: no offset modifiers allowed before range");
  EXPECT_EQ(ParseError("foo[9.5e10]"), "1:5: parse error: duration out of range");
}

TEST(PromqlParserTest, Offsets) {
  struct Case {
    const char* in;
    int64_t ms;
  } cases[] = {{"foo offset 5m", 300000},
               {"foo offset -7m", -420000},
               {"foo OFFSET 1h30m", 5400000},
               {"foo OFFSET 1m30ms", 60030},
               {"foo offset 3600", 3600000}};
  for (const auto& c : cases) {
    ExprPtr e = MustParse(c.in);
    ASSERT_TRUE(e);
    ASSERT_EQ(e->kind, NodeKind::kVectorSelector) << c.in;
    EXPECT_EQ(As<VectorSelector>(e).offset.ms, c.ms) << c.in;
    EXPECT_EQ(As<VectorSelector>(e).offset.expr, nullptr) << c.in;
  }
  EXPECT_EQ(Fmt("foo offset -7m"), "foo offset -7m");
  EXPECT_EQ(Fmt("foo offset 90s"), "foo offset 1m30s");
  EXPECT_EQ(
      ParseError("1 offset 1d"),
      "1:1: parse error: offset modifier must be preceded by an instant vector selector or range "
      "vector selector or a subquery");
  EXPECT_EQ(
      ParseError("(foo) offset 1d"),
      "1:1: parse error: offset modifier must be preceded by an instant vector selector or range "
      "vector selector or a subquery");
  EXPECT_EQ(ParseError("foo offset 1s offset 2s"),
            "1:1: parse error: offset may not be set multiple times");
  EXPECT_EQ(ParseError("some_metric[5m] OFFSET 1mm"),
            "1:24: parse error: bad number or duration syntax: \"1mm\"");
  EXPECT_EQ(ParseError("some_metric[5m] OFFSET"),
            "1:23: parse error: unexpected end of input in offset, expected number, duration, "
            "step(), or range()");
  EXPECT_EQ(ParseError("foo offset 9.5e10"), "1:12: parse error: duration out of range");
}

TEST(PromqlParserTest, AtModifier) {
  struct Case {
    const char* in;
    int64_t ms;
  } cases[] = {{"foo @ 1603774568", 1603774568000},
               {"foo @ -100", -100000},
               {"foo @ .3", 300},
               {"foo @ 3.", 3000},
               {"foo @ 3.33", 3330},
               {"foo @ 3.3333", 3333},
               {"foo @ 3.3335", 3334},
               {"foo @ 3e2", 300000},
               {"foo @ 3e-1", 300},
               {"foo @ 0xA", 10000},
               {"foo @ -3.3e1", -33000},
               {"foo @ 1m", 60000}};
  for (const auto& c : cases) {
    ExprPtr e = MustParse(c.in);
    ASSERT_TRUE(e);
    EXPECT_EQ(As<VectorSelector>(e).at, AtModifier::kTimestamp) << c.in;
    EXPECT_EQ(As<VectorSelector>(e).at_ms, c.ms) << c.in;
  }
  EXPECT_EQ(As<VectorSelector>(MustParse("foo @ start()")).at, AtModifier::kStart);
  EXPECT_EQ(As<VectorSelector>(MustParse("foo @ end()")).at, AtModifier::kEnd);
  EXPECT_EQ(Fmt("a @ 10"), "a @ 10.000");
  EXPECT_EQ(Fmt("a[1m] @ 10"), "a[1m] @ 10.000");
  EXPECT_EQ(Fmt("a @ start()"), "a @ start()");
  EXPECT_EQ(Fmt("a[1m] @ end()"), "a[1m] @ end()");
  EXPECT_EQ(Fmt("foo offset 1m @ 123"), "foo @ 123.000 offset 1m");
  ExprPtr m = MustParse("foo[3ms] @ 2.345");
  EXPECT_EQ(static_cast<const VectorSelector&>(*As<MatrixSelector>(m).vector_selector).at_ms, 2345);

  EXPECT_EQ(ParseError("foo @ +Inf"),
            "1:1: parse error: timestamp out of bounds for @ modifier: +Inf");
  EXPECT_EQ(ParseError("foo @ -Inf"),
            "1:1: parse error: timestamp out of bounds for @ modifier: -Inf");
  EXPECT_EQ(ParseError("foo @ NaN"),
            "1:1: parse error: timestamp out of bounds for @ modifier: NaN");
  EXPECT_EQ(ParseError("foo @ 9223372036854775808.000000"),
            "1:1: parse error: timestamp out of bounds for @ modifier: 9223372036854775808.000000");
  EXPECT_EQ(
      ParseError("rate(some_metric[5m]) @ 1234"),
      "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector "
      "selector or a subquery");
  EXPECT_EQ(ParseError("some_metric[5m] @"),
            "1:18: parse error: unexpected end of input in @, expected timestamp");
  EXPECT_EQ(ParseError("foo @ 1 @ 2"),
            "1:1: parse error: @ <timestamp> may not be set multiple times");
  EXPECT_EQ(ParseError("@@"), "1:1: parse error: unexpected <op:@>");
}

TEST(PromqlParserTest, Subqueries) {
  ExprPtr e = MustParse(R"(foo{bar="baz"}[10m5s:1h6ms])");
  ASSERT_EQ(e->kind, NodeKind::kSubquery);
  EXPECT_EQ(As<SubqueryExpr>(e).range.ms, 605000);
  EXPECT_EQ(As<SubqueryExpr>(e).step.ms, 3600006);
  EXPECT_EQ(e->pos.end, 27);
  ExprPtr d = MustParse("foo[10m:]");
  EXPECT_EQ(As<SubqueryExpr>(d).step.ms, 0);
  EXPECT_EQ(As<SubqueryExpr>(d).step.expr, nullptr);
  EXPECT_EQ(Format(*d), "foo[10m:]");

  ExprPtr n = MustParse(R"(min_over_time(rate(foo{bar="baz"}[2s])[5m:] offset 4m)[4m:3s])");
  ASSERT_EQ(n->kind, NodeKind::kSubquery);
  const auto& inner_call = static_cast<const Call&>(*As<SubqueryExpr>(n).expr);
  const auto& inner = static_cast<const SubqueryExpr&>(*inner_call.args[0]);
  EXPECT_EQ(inner.offset.ms, 240000);
  EXPECT_EQ(Format(*n), R"(min_over_time(rate(foo{bar="baz"}[2s])[5m:] offset 4m)[4m:3s])");

  ExprPtr o = MustParse("some_metric @ 123 offset 1m [10m:5s]");
  const auto& ovs = static_cast<const VectorSelector&>(*As<SubqueryExpr>(o).expr);
  EXPECT_EQ(ovs.at_ms, 123000);
  EXPECT_EQ(ovs.offset.ms, 60000);
  ExprPtr p = MustParse("some_metric[10m:5s] offset 1m @ 123");
  EXPECT_EQ(As<SubqueryExpr>(p).at_ms, 123000);
  EXPECT_EQ(As<SubqueryExpr>(p).offset.ms, 60000);
  EXPECT_EQ(Format(*p), "some_metric[10m:5s] @ 123.000 offset 1m");
  EXPECT_EQ(Fmt(R"((foo + bar{nm="val"})[5m:] offset 10m)"),
            R"((foo + bar{nm="val"})[5m:] offset 10m)");
  EXPECT_EQ(Fmt("sum without(and, by, avg, count, alert, annotations)(some_metric) [30m:10s]"),
            "sum without (and, by, avg, count, alert, annotations) (some_metric)[30m:10s]");

  EXPECT_EQ(ParseError("test[5d] OFFSET 10s [10m:5s]"),
            "1:1: parse error: subquery is only allowed on instant vector, got matrix instead");
  EXPECT_EQ(ParseError(R"((foo + bar{nm="val"})[5m:][10m:5s])"),
            "1:1: parse error: subquery is only allowed on instant vector, got matrix instead");
  EXPECT_EQ(ParseError(R"("x"[5m:])"),
            "1:1: parse error: subquery is only allowed on instant vector, got string instead");
  EXPECT_EQ(ParseError("foo[5m:0s]"), "1:8: parse error: duration must be greater than 0");
}

// ---- Operators ----

TEST(PromqlParserTest, Precedence) {
  struct Case {
    const char* in;
    const char* tree;
  } cases[] = {
      {"1 + 2 * 3", "(+ 1 (* 2 3))"},
      {"1 * 2 + 3", "(+ (* 1 2) 3)"},
      {"1 - 2 - 3", "(- (- 1 2) 3)"},
      {"2 ^ 3 ^ 2", "(^ 2 (^ 3 2))"},  // right-associative
      {"-1^2", "(neg (^ 1 2))"},
      {"-1*2", "(* -1 2)"},
      {"-1^-2", "(neg (^ 1 -2))"},
      {"+1 + -2 * 1", "(+ 1 (* -2 1))"},
      {"1 + 2/(3*1)", "(+ 1 (/ 2 (paren (* 3 1))))"},
      {"1 < bool 2 - 1 * 2", "(< bool 1 (- 2 (* 1 2)))"},
      {"a * b % c", "(% (* a b) c)"},
      {"a atan2 b * c", "(* (atan2 a b) c)"},
      {"a + b > c", "(> (+ a b) c)"},
      {"foo + bar or bla and blub", "(or (+ foo bar) (and bla blub))"},
      {"foo and bar unless baz or qux", "(or (unless (and foo bar) baz) qux)"},
      {"a == b and c != d", "(and (== a b) (!= c d))"},
      {"-a ^ b", "(neg (^ a b))"},
      {"-a * b", "(* (neg a) b)"},
      {"- - a", "(neg (neg a))"},
      {"a ^ -b ^ c", "(^ a (neg (^ b c)))"},
      {"-foo offset 5m", "(neg foo offset 5m)"},
      {"h >/ 0.5 + 1", "(+ (>/ h 0.5) 1)"},
      {"h </ 2 * 3", "(* (</ h 2) 3)"},
  };
  for (const auto& c : cases) {
    ExprPtr e = MustParse(c.in);
    ASSERT_TRUE(e) << c.in;
    EXPECT_EQ(Tree(*e), c.tree) << c.in;
  }
}

TEST(PromqlParserTest, VectorMatching) {
  ExprPtr e = MustParse("bar + on(foo) bla / on(baz, buz) group_right(test) blub");
  const auto& add = As<BinaryExpr>(e);
  ASSERT_TRUE(add.matching);
  EXPECT_TRUE(add.matching->on);
  EXPECT_EQ(add.matching->labels, std::vector<std::string>{"foo"});
  EXPECT_EQ(add.matching->card, Cardinality::kOneToOne);
  const auto& div = static_cast<const BinaryExpr&>(*add.rhs);
  EXPECT_EQ(div.matching->card, Cardinality::kOneToMany);
  EXPECT_EQ(div.matching->labels, (std::vector<std::string>{"baz", "buz"}));
  EXPECT_EQ(div.matching->include, std::vector<std::string>{"test"});

  ExprPtr g = MustParse("foo / ignoring(test,blub) group_left(blub) bar");
  EXPECT_FALSE(As<BinaryExpr>(g).matching->on);
  EXPECT_EQ(As<BinaryExpr>(g).matching->card, Cardinality::kManyToOne);

  // Set operators are many-to-many; scalar operands have no matching.
  EXPECT_EQ(As<BinaryExpr>(MustParse("foo and on() bar")).matching->card, Cardinality::kManyToMany);
  EXPECT_TRUE(As<BinaryExpr>(MustParse("foo and on() bar")).matching->on);
  EXPECT_EQ(As<BinaryExpr>(MustParse("foo unless bar")).matching->card, Cardinality::kManyToMany);
  EXPECT_TRUE(As<BinaryExpr>(MustParse("foo * bar")).matching.has_value());
  EXPECT_FALSE(As<BinaryExpr>(MustParse("foo * 2")).matching.has_value());
  EXPECT_FALSE(As<BinaryExpr>(MustParse("1 + 2")).matching.has_value());
  EXPECT_TRUE(As<BinaryExpr>(MustParse("foo == bool 1")).return_bool);
  EXPECT_EQ(MustParse("1 + 2")->Type(), ValueType::kScalar);
  EXPECT_EQ(MustParse("foo + 2")->Type(), ValueType::kVector);

  EXPECT_EQ(Fmt("a - on() c"), "a - on () c");
  EXPECT_EQ(Fmt("a - on(b) group_left(x, y) c"), "a - on (b) group_left (x, y) c");
  EXPECT_EQ(Fmt("a - on(b) group_left c"), "a - on (b) group_left () c");
  EXPECT_EQ(Fmt("a - on(b) group_left() (c)"), "a - on (b) group_left () (c)");
  EXPECT_EQ(Fmt("a - ignoring(b) c"), "a - ignoring (b) c");
  EXPECT_EQ(Fmt("a - ignoring() c"), "a - c");
  EXPECT_EQ(Fmt("up > bool 0"), "up > bool 0");
  EXPECT_EQ(Fmt("foo unless on(start) bar"), "foo unless on (start) bar");
}

TEST(PromqlParserTest, BinaryErrors) {
  EXPECT_EQ(ParseError("1 and 1"),
            "1:1: parse error: set operator \"and\" not allowed in binary scalar expression");
  EXPECT_EQ(ParseError("1 == 1"),
            "1:3: parse error: comparisons between scalars must use BOOL modifier");
  EXPECT_EQ(ParseError("1 or 1"),
            "1:1: parse error: set operator \"or\" not allowed in binary scalar expression");
  EXPECT_EQ(ParseError("foo unless 1"),
            "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression");
  EXPECT_EQ(ParseError("1 !~ 1"), "1:3: parse error: unexpected character after '!': '~'");
  EXPECT_EQ(ParseError("1 =~ 1"), "1:3: parse error: unexpected character after '=': '~'");
  EXPECT_EQ(ParseError("1 or on(bar) foo"),
            "1:1: parse error: vector matching only allowed between instant vectors");
  EXPECT_EQ(ParseError("foo == on(bar) 10"),
            "1:1: parse error: vector matching only allowed between instant vectors");
  EXPECT_EQ(ParseError("foo + group_left(baz) bar"), "1:7: parse error: unexpected <group_left>");
  EXPECT_EQ(ParseError("a - on(b) ignoring(c) d"), "1:11: parse error: unexpected <ignoring>");
  EXPECT_EQ(ParseError("foo and on(bar) group_left(baz) bar"),
            "1:1: parse error: no grouping allowed for \"and\" operation");
  EXPECT_EQ(ParseError("foo or on(bar) group_right(baz) bar"),
            "1:1: parse error: no grouping allowed for \"or\" operation");
  EXPECT_EQ(
      ParseError(
          R"(http_requests{group="production"} + on(instance) group_left(job,instance) cpu_count{type="smp"})"),
      "1:35: parse error: label \"instance\" must not occur in ON and GROUP clause at once");
  EXPECT_EQ(ParseError("foo + bool bar"),
            "1:5: parse error: bool modifier can only be used on comparison operators");
  EXPECT_EQ(ParseError("foo + bool 10"),
            "1:5: parse error: bool modifier can only be used on comparison operators");
  EXPECT_EQ(ParseError("foo and bool 10"),
            "1:5: parse error: bool modifier can only be used on comparison operators");
  EXPECT_EQ(
      ParseError("foo[5m] + 1"),
      "1:1: parse error: binary expression must contain only scalar and instant vector types");
  EXPECT_EQ(
      ParseError(R"(1 + "x")"),
      "1:5: parse error: binary expression must contain only scalar and instant vector types");
  EXPECT_EQ(ParseError("*1"), "1:1: parse error: unexpected <op:*>");
  EXPECT_EQ(ParseError("-="), "1:2: parse error: unexpected \"=\"");
  EXPECT_EQ(ParseError("++-++-+-+-<"), "1:11: parse error: unexpected <op:<>");
  EXPECT_EQ(ParseError("e-+=/(0)"), "1:4: parse error: unexpected \"=\"");
  EXPECT_EQ(ParseError("1+"), "1:3: parse error: unexpected end of input");
  EXPECT_EQ(ParseError("1 /"), "1:4: parse error: unexpected end of input");
  EXPECT_EQ(ParseError("foo bar"), "1:5: parse error: unexpected identifier \"bar\"");
}

TEST(PromqlParserTest, UnaryAndParens) {
  ExprPtr e = MustParse("-some_metric");
  ASSERT_EQ(e->kind, NodeKind::kUnary);
  EXPECT_TRUE(As<UnaryExpr>(e).negate);
  EXPECT_EQ(As<UnaryExpr>(e).expr->pos.start, 1);
  ExprPtr p = MustParse(" +some_metric");
  EXPECT_FALSE(As<UnaryExpr>(p).negate);
  EXPECT_EQ(Format(*p), "+some_metric");
  EXPECT_EQ(Fmt("(sum(foo) )"), "(sum(foo))");
  // Inf prints as +Inf; on the left of `^` it is parenthesised, or it would
  // read back as a unary plus over the whole power (found by fuzzing).
  EXPECT_EQ(Fmt("inf^by"), "(+Inf) ^ by");
  EXPECT_EQ(Tree(*MustParse(Fmt("inf^by"))), Tree(*MustParse("(inf)^by")));
  EXPECT_EQ(Fmt("by^inf"), "by ^ +Inf");
  EXPECT_EQ(MustParse("(sum(foo) by (bar))")->pos.end, 19);
  EXPECT_EQ(
      ParseError(R"(-"string")"),
      "1:1: parse error: unary expression only allowed on expressions of type scalar or instant "
      "vector, got \"string\"");
  EXPECT_EQ(
      ParseError("-test[5m]"),
      "1:1: parse error: unary expression only allowed on expressions of type scalar or instant "
      "vector, got \"range vector\"");
  EXPECT_EQ(ParseError("(1))"), "1:5: parse error: unexpected right parenthesis ')'");
  EXPECT_EQ(ParseError("((1)"), "1:5: parse error: unclosed left parenthesis");
  EXPECT_EQ(ParseError("("), "1:2: parse error: unclosed left parenthesis");
  EXPECT_EQ(ParseError("sum(rate("), "1:10: parse error: unclosed left parenthesis");
}

TEST(PromqlParserTest, FillModifiers) {
  ExprPtr e = MustParse("left + fill_left(5) fill_right(7) right");
  EXPECT_EQ(*As<BinaryExpr>(e).fill_left, 5);
  EXPECT_EQ(*As<BinaryExpr>(e).fill_right, 7);
  EXPECT_EQ(Format(*e), "left + fill_left (5) fill_right (7) right");
  ExprPtr f = MustParse("a + on(job) group_left fill(-Inf) b");
  EXPECT_EQ(*As<BinaryExpr>(f).fill_left, -INFINITY);
  EXPECT_EQ(*As<BinaryExpr>(f).fill_right, -INFINITY);
  EXPECT_EQ(Format(*f), "a + on (job) group_left () fill (-Inf) b");
  ExprPtr n = MustParse("a == bool fill(NaN) b");
  EXPECT_TRUE(std::isnan(*As<BinaryExpr>(n).fill_left));
  EXPECT_EQ(Fmt("a + fill_right(0) b"), "a + fill_right (0) b");
  EXPECT_EQ(MustParse(Format(*e)) != nullptr, true);
  // "fill" is still a metric name where no modifier can stand.
  EXPECT_EQ(Tree(*MustParse("fill + fill(0) other")), "(+ fill other)");
  EXPECT_EQ(Tree(*MustParse("other + fill")), "(+ other fill)");
  EXPECT_EQ(Tree(*MustParse("other + fill_left(0) fill_left")), "(+ other fill_left)");
  EXPECT_EQ(ParseError("a + fill(1) fill(2) b"),
            "1:13: parse error: fill modifier may not be set multiple times");
  EXPECT_EQ(ParseError("a + fill(1) 2"),
            "1:1: parse error: fill modifiers only allowed between instant vectors");
}

TEST(PromqlParserTest, ExtendedRangeModifiers) {
  ExprPtr e = MustParse("increase(foo[5m] anchored)");
  const auto& ms = static_cast<const MatrixSelector&>(*As<Call>(e).args[0]);
  EXPECT_TRUE(static_cast<const VectorSelector&>(*ms.vector_selector).anchored);
  EXPECT_EQ(Format(*e), "increase(foo[5m] anchored)");
  EXPECT_TRUE(As<VectorSelector>(MustParse("metric smoothed")).smoothed);
  EXPECT_EQ(Fmt("metric offset -100 smoothed + 0"), "metric offset -1m40s smoothed + 0");
  EXPECT_EQ(Fmt("resets(foo[3m] anchored)"), "resets(foo[3m] anchored)");
  // Which functions take these ranges is an evaluation-time rule.
  EXPECT_TRUE(MustParse("deriv(foo[3m] smoothed)"));
  EXPECT_TRUE(MustParse("max_over_time(foo[3m] anchored)"));
  EXPECT_EQ(ParseError("1[5m] smoothed"),
            "1:2: parse error: ranges only allowed for vector selectors");
  EXPECT_EQ(
      ParseError("foo anchored anchored"),
      "1:1: parse error: anchored and smoothed modifiers may be given only once and not together");
  EXPECT_EQ(Fmt(R"(sum by (anchored)(some_metric))"), "sum by (anchored) (some_metric)");
}

// ---- Aggregations ----

TEST(PromqlParserTest, Aggregations) {
  ExprPtr e = MustParse("sum by (foo)(some_metric)");
  const auto& a = As<AggregateExpr>(e);
  EXPECT_EQ(a.op, AggOp::kSum);
  EXPECT_EQ(a.grouping, std::vector<std::string>{"foo"});
  EXPECT_TRUE(a.by);
  EXPECT_FALSE(a.without);
  EXPECT_EQ(e->pos.end, 25);
  ExprPtr after = MustParse("sum (some_metric) without (foo)");
  EXPECT_TRUE(As<AggregateExpr>(after).without);
  EXPECT_EQ(after->pos.end, 31);
  ExprPtr t = MustParse("topk(5, some_metric)");
  EXPECT_EQ(As<AggregateExpr>(t).param->kind, NodeKind::kNumber);
  ExprPtr cv = MustParse(R"(count_values("value", some_metric))");
  EXPECT_EQ(As<AggregateExpr>(cv).param->kind, NodeKind::kString);
  EXPECT_TRUE(As<AggregateExpr>(MustParse("sum by ()(some_metric)")).by);

  EXPECT_EQ(Fmt(R"(sum by() (task:errors:rate10s{job="s"}))"),
            R"(sum(task:errors:rate10s{job="s"}))");
  EXPECT_EQ(Fmt(R"(sum by(code) (task:errors:rate10s{job="s"}))"),
            R"(sum by (code) (task:errors:rate10s{job="s"}))");
  EXPECT_EQ(Fmt(R"(sum without() (x))"), R"(sum without () (x))");
  EXPECT_EQ(Fmt(R"(topk(5, task:errors:rate10s{job="s"}))"),
            R"(topk(5, task:errors:rate10s{job="s"}))");
  EXPECT_EQ(Fmt(R"(count_values("value", x))"), R"(count_values("value", x))");
  EXPECT_EQ(Fmt("SUM(x) BY (job)"), "sum by (job) (x)");
  EXPECT_EQ(Fmt("sum by (foo,bar,)(x)"), "sum by (foo, bar) (x)");
  EXPECT_EQ(Fmt("quantile without(point)(0.8, x)"), "quantile without (point) (0.8, x)");
  EXPECT_EQ(Fmt("limitk(2, x)"), "limitk(2, x)");
  EXPECT_EQ(Fmt("limit_ratio(0.5, x)"), "limit_ratio(0.5, x)");
  EXPECT_EQ(Fmt("stddev(x) + stdvar(x) + group(x)"), "stddev(x) + stdvar(x) + group(x)");
  // Aggregator names work as metric names.
  EXPECT_EQ(Fmt("sum(sum)"), "sum(sum)");
  EXPECT_EQ(Fmt("a + sum"), "a + sum");
}

TEST(PromqlParserTest, AggregationErrors) {
  EXPECT_EQ(ParseError("sum without(==)(some_metric)"),
            "1:13: parse error: unexpected <op:==> in grouping opts, expected label");
  EXPECT_EQ(ParseError("sum without(,)(some_metric)"),
            "1:13: parse error: unexpected \",\" in grouping opts, expected label");
  EXPECT_EQ(ParseError("sum without(foo,,)(some_metric)"),
            "1:17: parse error: unexpected \",\" in grouping opts, expected label");
  EXPECT_EQ(ParseError("sum some_metric by (test)"),
            "1:5: parse error: unexpected identifier \"some_metric\"");
  EXPECT_EQ(ParseError("sum (some_metric) by test"),
            "1:22: parse error: unexpected identifier \"test\" in grouping opts, expected \"(\"");
  EXPECT_EQ(ParseError("sum () by (test)"),
            "1:1: parse error: no arguments for aggregate expression provided");
  EXPECT_EQ(ParseError("MIN keep_common (some_metric)"),
            "1:5: parse error: unexpected identifier \"keep_common\"");
  EXPECT_EQ(ParseError("MIN (some_metric) keep_common"),
            "1:19: parse error: unexpected identifier \"keep_common\"");
  EXPECT_EQ(ParseError("sum (some_metric) without (test) by (test)"),
            "1:34: parse error: unexpected <by>");
  EXPECT_EQ(ParseError("sum without (test) (some_metric) by (test)"),
            "1:34: parse error: unexpected <by>");
  EXPECT_EQ(ParseError("topk(some_metric)"),
            "1:1: parse error: wrong number of arguments for aggregate expression provided, "
            "expected 2, got 1");
  EXPECT_EQ(ParseError("sum(a, b)"),
            "1:1: parse error: wrong number of arguments for aggregate expression provided, "
            "expected 1, got 2");
  EXPECT_EQ(ParseError("topk(some_metric,)"),
            "1:17: parse error: trailing commas not allowed in function call args");
  EXPECT_EQ(ParseError("topk(some_metric, other_metric)"),
            "1:6: parse error: expected type scalar in aggregation parameter, got instant vector");
  EXPECT_EQ(ParseError("count_values(5, other_metric)"),
            "1:14: parse error: expected type string in aggregation parameter, got scalar");
  EXPECT_EQ(ParseError("sum(1)"),
            "1:5: parse error: expected type instant vector in aggregation expression, got scalar");
  EXPECT_EQ(ParseError("sum("), "1:5: parse error: unclosed left parenthesis");
}

// ---- Functions ----

TEST(PromqlParserTest, FunctionCalls) {
  ExprPtr e = MustParse("time()");
  EXPECT_EQ(As<Call>(e).func->name, "time");
  EXPECT_EQ(e->Type(), ValueType::kScalar);
  EXPECT_EQ(Fmt(R"(floor(some_metric{foo!="bar"}))"), R"(floor(some_metric{foo!="bar"}))");
  EXPECT_EQ(Fmt("round(some_metric, 5)"), "round(some_metric, 5)");
  EXPECT_EQ(Fmt(R"(label_join(x, "dst", ",", "a", "b", "c"))"),
            R"(label_join(x, "dst", ",", "a", "b", "c"))");
  EXPECT_EQ(Fmt(R"(label_join(x, "dst", ","))"), R"(label_join(x, "dst", ","))");
  EXPECT_EQ(Fmt("hour()"), "hour()");
  EXPECT_EQ(Fmt(R"(histogram_quantiles(x, "q", 0.1, 0.5, 0.9))"),
            R"(histogram_quantiles(x, "q", 0.1, 0.5, 0.9))");
  EXPECT_EQ(Fmt(R"(sort_by_label(x, "a", "b"))"), R"(sort_by_label(x, "a", "b"))");
  EXPECT_EQ(Fmt("info(rate(http_request_counter_total{}[5m]))"),
            "info(rate(http_request_counter_total[5m]))");
  EXPECT_EQ(Fmt("start() + end() + step() + range()"), "start() + end() + step() + range()");
  EXPECT_EQ(Fmt("min_of(3, max_of(1, 2))"), "min_of(3, max_of(1, 2))");
  EXPECT_EQ(Fmt("double_exponential_smoothing(x[5m], 0.5, 0.5)"),
            "double_exponential_smoothing(x[5m], 0.5, 0.5)");
  EXPECT_EQ(Fmt("rate(avg[5m])"), "rate(avg[5m])");
  EXPECT_EQ(MustParse("vector(1)")->Type(), ValueType::kVector);
  EXPECT_EQ(MustParse("scalar(x)")->Type(), ValueType::kScalar);
}

TEST(PromqlParserTest, FunctionErrors) {
  EXPECT_EQ(ParseError("floor()"),
            "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 0");
  EXPECT_EQ(ParseError("floor(some_metric, other_metric)"),
            "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2");
  EXPECT_EQ(
      ParseError("floor(1)"),
      "1:7: parse error: expected type instant vector in call to function \"floor\", got scalar");
  EXPECT_EQ(ParseError("hour(some_metric, some_metric, some_metric)"),
            "1:1: parse error: expected at most 1 argument(s) in call to \"hour\", got 3");
  EXPECT_EQ(ParseError(R"(label_join(x, "a"))"),
            "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 2");
  EXPECT_EQ(
      ParseError(R"(label_join(x, "a", ",", 1))"),
      "1:25: parse error: expected type string in call to function \"label_join\", got scalar");
  EXPECT_EQ(ParseError("time(some_metric)"),
            "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1");
  EXPECT_EQ(ParseError("non_existent_function_far_bar()"),
            "1:1: parse error: unknown function with name \"non_existent_function_far_bar\"");
  EXPECT_EQ(ParseError("a>b()"), "1:3: parse error: unknown function with name \"b\"");
  EXPECT_EQ(ParseError("rate(some_metric)"),
            "1:6: parse error: expected type range vector in call to function \"rate\", got "
            "instant vector");
  EXPECT_EQ(ParseError("rate(avg)"),
            "1:6: parse error: expected type range vector in call to function \"rate\", got "
            "instant vector");
  EXPECT_EQ(ParseError("label_replace(a, `b`, `c\xff`, `d`, `.*`)"),
            "1:23: parse error: invalid UTF-8 rune");
  EXPECT_EQ(ParseError(R"(info(rate(http_request_counter_total{}[5m]), target_info{foo="bar"}))"),
            "1:46: parse error: expected label selectors only, got vector selector instead");
  EXPECT_EQ(ParseError(R"(info(http_request_counter_total{namespace="zzz"}, {foo="bar"} == 1))"),
            "1:51: parse error: expected label selectors only");
  EXPECT_EQ(ParseError("rate(x[5m],)"),
            "1:11: parse error: trailing commas not allowed in function call args");
}

// ---- Duration expressions ----

TEST(PromqlParserTest, DurationExpressions) {
  struct Case {
    const char* in;
    int64_t ms;
    const char* printed;
  } cases[] = {
      {"foo[26m+4m]", 1800000, "foo[26m + 4m]"},
      {"foo[1800]", 1800000, "foo[30m]"},
      {"foo[60*30]", 1800000, "foo[60 * 30]"},
      {"foo[2m*(10+5)]", 1800000, "foo[2m * (10 + 5)]"},
      {"foo[-5m+35m]", 1800000, "foo[-5m + 35m]"},
      {"foo[1h/2]", 1800000, "foo[1h / 2]"},
      {"foo[1h30m % 1h]", 1800000, "foo[1h30m % 1h]"},
      {"foo[30m1s-30m1s % 1m]", 1800000, "foo[30m1s - 30m1s % 1m]"},
      {"foo[11s+10s-5*2^2]", 1000, "foo[11s + 10s - 5 * 2 ^ 2]"},
      {"foo[-(10s-5s)+20s]", 15000, "foo[-(10s - 5s) + 20s]"},
      {"foo[max_of(1m, 30s)]", 60000, "foo[max_of(1m, 30s)]"},
      {"foo[(5s)]", 5000, "foo[(5s)]"},
  };
  for (const auto& c : cases) {
    ExprPtr e = MustParse(c.in);
    ASSERT_TRUE(e) << c.in;
    ASSERT_EQ(e->kind, NodeKind::kMatrixSelector) << c.in;
    EXPECT_EQ(As<MatrixSelector>(e).range.ms, c.ms) << c.in;
    EXPECT_EQ(Format(*e), c.printed) << c.in;
    EXPECT_TRUE(MustParse(Format(*e))) << c.in;
  }
  // step() and range() stay symbolic for the engine.
  ExprPtr s = MustParse("foo[step() + 1ms]");
  const Duration& r = As<MatrixSelector>(s).range;
  EXPECT_EQ(r.ms, 0);
  ASSERT_TRUE(r.expr);
  ASSERT_EQ(r.expr->kind, NodeKind::kBinary);
  const auto& b = static_cast<const BinaryExpr&>(*r.expr);
  EXPECT_EQ(static_cast<const Call&>(*b.lhs).func->name, "step");
  EXPECT_TRUE(static_cast<const NumberLiteral&>(*b.rhs).is_duration);
  EXPECT_EQ(static_cast<const NumberLiteral&>(*b.rhs).val, 0.001);
  EXPECT_EQ(Fmt("foo[  -  step  (  )  ]"), "foo[-step()]");
  EXPECT_EQ(Fmt("count_over_time(m[1+(STep()-5)*2])"), "count_over_time(m[1 + (step() - 5) * 2])");
  EXPECT_EQ(Fmt("foo[max_of(min_of(step()+1,1h),1ms)]"),
            "foo[max_of(min_of(step() + 1, 1h), 1ms)]");
  EXPECT_EQ(Fmt("foo[range()]"), "foo[range()]");
  EXPECT_EQ(Fmt("sum_over_time(m[29s+1s:5s+5s])"), "sum_over_time(m[29s + 1s:5s + 5s])");
  ExprPtr sq = MustParse("foo[4s+4s:1s*2] offset (5s-8)");
  EXPECT_EQ(As<SubqueryExpr>(sq).range.ms, 8000);
  EXPECT_EQ(As<SubqueryExpr>(sq).step.ms, 2000);
  EXPECT_EQ(As<SubqueryExpr>(sq).offset.ms, -3000);
  EXPECT_TRUE(As<SubqueryExpr>(sq).offset.expr);
}

TEST(PromqlParserTest, OffsetDurationExpressions) {
  // Only a signed atom belongs to the offset; arithmetic after it applies
  // to the selector.
  EXPECT_EQ(Tree(*MustParse("foo offset 5s-8")), "(- foo offset 5s 8)");
  EXPECT_EQ(Tree(*MustParse("foo offset -1^1")), "(^ foo offset -1s 1)");
  EXPECT_EQ(Tree(*MustParse("m offset step()*0")), "(* m offset step() 0)");
  EXPECT_EQ(Tree(*MustParse("m offset -step()*2")), "(* m offset -step() 2)");
  EXPECT_EQ(Tree(*MustParse("m offset -min_of(step(), 1s)+8000")),
            "(+ m offset -min_of(step(), 1s) 8000)");
  EXPECT_EQ(Tree(*MustParse("m offset 100 + 2")), "(+ m offset 1m40s 2)");
  ExprPtr p = MustParse("m offset (100 + 2)");
  EXPECT_EQ(As<VectorSelector>(p).offset.ms, 102000);
  EXPECT_EQ(Format(*p), "m offset (100 + 2)");
  ExprPtr n = MustParse("m offset -(1^2)");
  EXPECT_EQ(As<VectorSelector>(n).offset.ms, -1000);
  ExprPtr s = MustParse("m offset STEP()");
  EXPECT_EQ(static_cast<const Call&>(*As<VectorSelector>(s).offset.expr).func->name, "step");
  EXPECT_EQ(Format(*s), "m offset step()");
  ExprPtr m = MustParse("foo offset max_of(step(),5s)");
  EXPECT_EQ(Format(*m), "foo offset max_of(step(), 5s)");
  EXPECT_EQ(Tree(*MustParse("m offset -2 ^ 2")), "(^ m offset -2s 2)");
}

TEST(PromqlParserTest, DurationExpressionErrors) {
  EXPECT_EQ(ParseError("foo[step]"),
            "1:9: parse error: unexpected \"]\" in subquery or range selector, expected number, "
            "duration, "
            "step(), or range()");
  EXPECT_EQ(ParseError("foo[step()/0d]"), "1:11: parse error: division by zero");
  EXPECT_EQ(ParseError("foo[5s/0d]"), "1:7: parse error: division by zero");
  EXPECT_EQ(ParseError("foo offset (4d/0)"), "1:15: parse error: division by zero");
  EXPECT_EQ(ParseError("foo[5s%0d]"), "1:7: parse error: modulo by zero");
  EXPECT_EQ(ParseError("foo[-2^2]"), "1:5: parse error: duration must be greater than 0");
  EXPECT_EQ(ParseError("foo[0+-2^2]"), "1:5: parse error: duration must be greater than 0");
  EXPECT_EQ(ParseError("foo[5m+]"),
            "1:8: parse error: unexpected \"]\" in subquery or range selector, expected number, "
            "duration, "
            "step(), or range()");
}

// ---- Experimental gating ----

TEST(PromqlParserTest, ExperimentalSyntaxCanBeDisabled) {
  ParseOptions strict;
  strict.experimental = false;
  EXPECT_TRUE(Parse("rate(foo[5m]) offset 1m", strict).ok() ==
              false);  // @/offset after a call: error anyway
  EXPECT_TRUE(Parse("foo[5m] offset 1m", strict).ok());
  EXPECT_TRUE(Parse("foo[300]", strict).ok());
  EXPECT_EQ(ParseError("foo[5m+1m]", strict),
            "1:5: parse error: duration expressions are experimental and not enabled");
  EXPECT_EQ(ParseError("mad_over_time(foo[5m])", strict),
            "1:1: parse error: function \"mad_over_time\" is not enabled");
  EXPECT_EQ(
      ParseError("limitk(1, foo)", strict),
      "1:1: parse error: limitk() and limit_ratio() are experimental and must be enabled with "
      "--enable-feature=promql-experimental-functions");
  EXPECT_EQ(ParseError("a + fill(0) b", strict),
            "1:5: parse error: the fill modifier is experimental and not enabled");
  EXPECT_EQ(ParseError("rate(a[5m] anchored)", strict),
            "1:12: parse error: the anchored modifier is experimental and not enabled");
}

// ---- Positions and misc errors ----

TEST(PromqlParserTest, ErrorPositionsCountLines) {
  EXPECT_EQ(ParseError(""), "1:1: parse error: no expression found in input");
  EXPECT_EQ(ParseError("# just a comment\n\n"), "1:1: parse error: no expression found in input");
  EXPECT_EQ(ParseError("sum(\n  foo\n) +"), "3:4: parse error: unexpected end of input");
  EXPECT_EQ(ParseError("foo # comment\n  + bar{"),
            "2:9: parse error: unexpected end of input inside braces");
  EXPECT_TRUE(MustParse("foo # a comment\n + bar # another\n"));
}

// ---- Format round trips ----

TEST(PromqlParserTest, FormatRoundTrips) {
  const char* queries[] = {
      R"(sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / ignoring (code) group_left () sum by (job) (rate(http_requests_total[5m])))",
      R"(histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))))",
      R"(max_over_time(deriv(rate(distance_covered_total[5s])[30s:5s])[10m:]))",
      R"q(label_replace(up, "foo", "$1", "job", "(.*)"))q",
      R"(-(x offset 1w) ^ 2 > bool 3)",
      R"(topk(3, sum without (instance) (x)) or vector(0))",
      R"(a @ 1609746000.000 offset -1h)",
      R"(x{"a b"="c"} unless on ("a b") y)",
      R"(count_values("v", x) * on () group_right (foo) y)",
      R"(1e+100 + 0.000001 - 123456789012345680000)",
      R"(h >/ 0.5 </ 100)",
  };
  for (const char* q : queries) {
    ExprPtr e = MustParse(q);
    ASSERT_TRUE(e) << q;
    std::string once = Format(*e);
    ExprPtr again = MustParse(once);
    ASSERT_TRUE(again) << once;
    EXPECT_EQ(Format(*again), once) << q;
  }
  EXPECT_EQ(Fmt("1e+100"),
            "10000000000000000159028911097599180468360808563945281389781327557747838772170381060813"
            "469985856815104");
  EXPECT_EQ(Fmt("0.1 + 1e6"), "0.1 + 1000000");
  EXPECT_EQ(Fmt("h >/ 0.5"), "h >/ 0.5");
}

// ---- Series selectors and durations ----

TEST(PromqlParserTest, ParseMatchers) {
  auto m = ParseMatchers(R"(http_requests{job="api", instance!="0"})");
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ((*m)[0].String(), R"(job="api")");
  EXPECT_EQ((*m)[2].String(), R"(__name__="http_requests")");
  auto u = ParseMatchers(R"({"http.requests", "service.name"="api"})");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ((*u)[0].value(), "http.requests");
  auto bare = ParseMatchers("up");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->size(), 1u);
  auto empty = ParseMatchers("{}");  // callers decide whether to refuse match-all
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(ParseMatchers("up + 1").status().message(), "1:4: parse error: unexpected <op:+>");
  EXPECT_EQ(ParseMatchers(R"({a="b")").status().message(),
            "1:7: parse error: unexpected end of input inside braces");
}

TEST(PromqlParserTest, Durations) {
  EXPECT_EQ(*ParseDuration("1h30m"), 5400000);
  EXPECT_EQ(*ParseDuration("5m"), 300000);
  EXPECT_EQ(*ParseDuration("1m30ms"), 60030);
  EXPECT_EQ(*ParseDuration("2y1w3d"), (2 * 365 + 7 + 3) * 86400000LL);
  EXPECT_EQ(*ParseDuration("0"), 0);
  EXPECT_EQ(*ParseDuration("0s"), 0);
  EXPECT_EQ(ParseDuration("").status().message(), "not a valid duration string: \"\"");
  EXPECT_EQ(ParseDuration("1.5m").status().message(), "not a valid duration string: \"1.5m\"");
  EXPECT_EQ(ParseDuration("5m1h").status().message(), "not a valid duration string: \"5m1h\"");
  EXPECT_EQ(ParseDuration("5x").status().message(), "unknown unit \"x\" in duration \"5x\"");
  EXPECT_EQ(ParseDuration("m").status().message(), "not a valid duration string: \"m\"");
  EXPECT_EQ(ParseDuration("99999999999999y").status().message(), "duration out of range");

  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(90000), "1m30s");
  EXPECT_EQ(FormatDuration(5400000), "1h30m");
  EXPECT_EQ(FormatDuration(60030), "1m30ms");
  EXPECT_EQ(FormatDuration(14 * 86400000LL), "2w");
  EXPECT_EQ(FormatDuration(90 * 86400000LL), "90d");  // not 12w6d
  EXPECT_EQ(FormatDuration(365 * 86400000LL), "1y");
  EXPECT_EQ(FormatDuration(-300000), "-5m");
}

TEST(PromqlParserTest, EnumNames) {
  EXPECT_STREQ(ValueTypeName(ValueType::kScalar), "scalar");
  EXPECT_STREQ(ValueTypeName(ValueType::kVector), "instant vector");
  EXPECT_STREQ(ValueTypeName(ValueType::kMatrix), "range vector");
  EXPECT_STREQ(ValueTypeName(ValueType::kString), "string");
  EXPECT_STREQ(AggOpName(AggOp::kCountValues), "count_values");
  EXPECT_STREQ(AggOpName(AggOp::kLimitRatio), "limit_ratio");
  EXPECT_STREQ(BinOpName(BinOp::kAtan2), "atan2");
  EXPECT_STREQ(BinOpName(BinOp::kUnless), "unless");
  EXPECT_TRUE(IsComparison(BinOp::kGte));
  EXPECT_FALSE(IsComparison(BinOp::kTrimUpper));
  EXPECT_FALSE(IsSetOp(BinOp::kTrimLower));
  EXPECT_TRUE(IsSetOp(BinOp::kOr));
}

TEST(PromqlParserTest, FunctionTable) {
  for (const char* name : {"abs",
                           "absent",
                           "absent_over_time",
                           "acos",
                           "acosh",
                           "asin",
                           "asinh",
                           "atan",
                           "atanh",
                           "avg_over_time",
                           "ceil",
                           "changes",
                           "clamp",
                           "clamp_max",
                           "clamp_min",
                           "cos",
                           "cosh",
                           "count_over_time",
                           "days_in_month",
                           "day_of_month",
                           "day_of_week",
                           "day_of_year",
                           "deg",
                           "delta",
                           "deriv",
                           "exp",
                           "floor",
                           "histogram_avg",
                           "histogram_count",
                           "histogram_fraction",
                           "histogram_quantile",
                           "histogram_stddev",
                           "histogram_stdvar",
                           "histogram_sum",
                           "double_exponential_smoothing",
                           "hour",
                           "idelta",
                           "increase",
                           "info",
                           "irate",
                           "label_replace",
                           "label_join",
                           "last_over_time",
                           "ln",
                           "log10",
                           "log2",
                           "mad_over_time",
                           "max_over_time",
                           "min_over_time",
                           "minute",
                           "month",
                           "pi",
                           "predict_linear",
                           "present_over_time",
                           "quantile_over_time",
                           "rad",
                           "rate",
                           "resets",
                           "round",
                           "scalar",
                           "sgn",
                           "sin",
                           "sinh",
                           "sort",
                           "sort_desc",
                           "sort_by_label",
                           "sort_by_label_desc",
                           "sqrt",
                           "stddev_over_time",
                           "stdvar_over_time",
                           "sum_over_time",
                           "tan",
                           "tanh",
                           "time",
                           "timestamp",
                           "vector",
                           "year",
                           "ts_of_min_over_time",
                           "ts_of_max_over_time",
                           "ts_of_last_over_time",
                           "first_over_time",
                           "ts_of_first_over_time",
                           "histogram_quantiles",
                           "start",
                           "end",
                           "step",
                           "range",
                           "min_of",
                           "max_of",
                           "start_timestamp"}) {
    const FunctionInfo* f = LookupFunction(name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->name, name);
  }
  EXPECT_EQ(LookupFunction("holt_winters"), nullptr);  // gone in 3.x
  EXPECT_EQ(LookupFunction("Rate"), nullptr);          // function names are case-sensitive
  EXPECT_TRUE(LookupFunction("info")->experimental);
  EXPECT_FALSE(LookupFunction("rate")->experimental);
  EXPECT_EQ(LookupFunction("quantile_over_time")->arg_types,
            (std::vector<ValueType>{ValueType::kScalar, ValueType::kMatrix}));
  EXPECT_EQ(LookupFunction("pi")->return_type, ValueType::kScalar);
}

// ---- The conformance files ----

// Parses every `eval` expression of the Prometheus test files that is not
// expected to fail. Disabled by default because the files live outside the
// repository: run with
//   PROMQL_TESTDATA=/path/to/promql --gtest_also_run_disabled_tests
TEST(PromqlParserCorpus, DISABLED_ParsesEveryEvalExpression) {
  const char* dir = std::getenv("PROMQL_TESTDATA");
  ASSERT_NE(dir, nullptr) << "set PROMQL_TESTDATA to the directory of *.test files";
  int total = 0, parsed = 0, expected_fail = 0, expected_fail_at_parse = 0;
  std::vector<std::filesystem::path> files;
  for (const auto& ent : std::filesystem::directory_iterator(dir))
    if (ent.path().extension() == ".test") files.push_back(ent.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << dir;
  for (const auto& path : files) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    for (size_t i = 0; i < lines.size(); ++i) {
      std::istringstream ls(lines[i]);
      std::string cmd;
      ls >> cmd;
      if (cmd.rfind("eval", 0) != 0) continue;
      std::string word;
      ls >> word;  // instant / range
      if (word == "instant") {
        ls >> word >> word;  // at <time>
      } else if (word == "range") {
        for (int k = 0; k < 6; ++k) ls >> word;  // from <t> to <t> step <d>
      }
      std::string expr;
      std::getline(ls, expr);
      bool fails = cmd == "eval_fail";
      for (size_t j = i + 1; j < lines.size(); ++j) {
        const std::string& l = lines[j];
        if (l.empty() || (l[0] != ' ' && l[0] != '\t')) break;
        if (l.find("expect fail") != std::string::npos) fails = true;
      }
      auto r = Parse(expr);
      if (fails) {
        ++expected_fail;
        if (!r.ok()) ++expected_fail_at_parse;
        continue;
      }
      ++total;
      if (r.ok()) {
        ++parsed;
        // Printing must give an equivalent query.
        auto again = Parse(Format(**r));
        EXPECT_TRUE(again.ok()) << Format(**r);
        if (again.ok()) EXPECT_EQ(Format(**again), Format(**r));
      } else {
        ADD_FAILURE() << path.filename().string() << ":" << i + 1 << ": " << expr << "\n  "
                      << r.status().message();
      }
    }
  }
  std::printf(
      "[ corpus   ] %d of %d eval expressions parse; %d expected failures (%d of them at parse "
      "time)\n",
      parsed, total, expected_fail, expected_fail_at_parse);
  EXPECT_EQ(parsed, total);
}

}  // namespace
}  // namespace berth::monitor::promql
