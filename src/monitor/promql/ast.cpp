// Names of the AST enums and the normalised printer (Prometheus's String() of
// a parsed query, as served by /api/v1/format_query).

#include "monitor/promql/ast.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "monitor/promql/lexer.h"
#include "monitor/promql/parser.h"

namespace berth::monitor::promql {

const char* ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kNone:
      return "none";
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
    case ValueType::kString:
      return "string";
  }
  return "none";
}

const char* AggOpName(AggOp op) {
  switch (op) {
    case AggOp::kSum:
      return "sum";
    case AggOp::kAvg:
      return "avg";
    case AggOp::kCount:
      return "count";
    case AggOp::kMin:
      return "min";
    case AggOp::kMax:
      return "max";
    case AggOp::kGroup:
      return "group";
    case AggOp::kStddev:
      return "stddev";
    case AggOp::kStdvar:
      return "stdvar";
    case AggOp::kTopk:
      return "topk";
    case AggOp::kBottomk:
      return "bottomk";
    case AggOp::kCountValues:
      return "count_values";
    case AggOp::kQuantile:
      return "quantile";
    case AggOp::kLimitk:
      return "limitk";
    case AggOp::kLimitRatio:
      return "limit_ratio";
  }
  return "";
}

const char* BinOpName(BinOp op) {
  switch (op) {
    case BinOp::kAdd:
      return "+";
    case BinOp::kSub:
      return "-";
    case BinOp::kMul:
      return "*";
    case BinOp::kDiv:
      return "/";
    case BinOp::kMod:
      return "%";
    case BinOp::kPow:
      return "^";
    case BinOp::kAtan2:
      return "atan2";
    case BinOp::kTrimUpper:
      return "</";
    case BinOp::kTrimLower:
      return ">/";
    case BinOp::kEql:
      return "==";
    case BinOp::kNeq:
      return "!=";
    case BinOp::kGtr:
      return ">";
    case BinOp::kLss:
      return "<";
    case BinOp::kGte:
      return ">=";
    case BinOp::kLte:
      return "<=";
    case BinOp::kAnd:
      return "and";
    case BinOp::kOr:
      return "or";
    case BinOp::kUnless:
      return "unless";
  }
  return "";
}

ValueType BinaryExpr::Type() const {
  if (lhs->Type() == ValueType::kScalar && rhs->Type() == ValueType::kScalar)
    return ValueType::kScalar;
  return ValueType::kVector;
}

namespace {

// Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that read
// back to v, never in exponent form.
std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[512];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, res.ptr);
}

std::string FormatLabelList(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += IsValidMetricName(names[i]) ? names[i] : GoQuote(names[i]);
  }
  return out;
}

class Printer {
 public:
  std::string out;

  void Print(const Expr& e) {
    switch (e.kind) {
      case NodeKind::kNumber: {
        const auto& n = static_cast<const NumberLiteral&>(e);
        if (n.is_duration) {
          int64_t ms = std::llround(n.val * 1000);
          out += ms < 0 ? "-" + FormatDuration(-ms) : FormatDuration(ms);
        } else {
          out += FormatNumber(n.val);
        }
        break;
      }
      case NodeKind::kString:
        out += GoQuote(static_cast<const StringLiteral&>(e).val);
        break;
      case NodeKind::kVectorSelector: {
        const auto& vs = static_cast<const VectorSelector&>(e);
        PrintSelectorBody(vs);
        PrintAtOffset(vs.at, vs.at_ms, vs.offset);
        PrintExtended(vs);
        break;
      }
      case NodeKind::kMatrixSelector: {
        const auto& ms = static_cast<const MatrixSelector&>(e);
        const auto& vs = static_cast<const VectorSelector&>(*ms.vector_selector);
        PrintSelectorBody(vs);
        out += '[';
        PrintDuration(ms.range);
        out += ']';
        PrintAtOffset(vs.at, vs.at_ms, vs.offset);
        PrintExtended(vs);
        break;
      }
      case NodeKind::kSubquery: {
        const auto& sq = static_cast<const SubqueryExpr&>(e);
        Print(*sq.expr);
        out += '[';
        PrintDuration(sq.range);
        out += ':';
        if (sq.step.expr || sq.step.ms != 0) PrintDuration(sq.step);
        out += ']';
        PrintAtOffset(sq.at, sq.at_ms, sq.offset);
        break;
      }
      case NodeKind::kCall: {
        const auto& c = static_cast<const Call&>(e);
        out += c.func->name;
        out += '(';
        for (size_t i = 0; i < c.args.size(); ++i) {
          if (i > 0) out += ", ";
          Print(*c.args[i]);
        }
        out += ')';
        break;
      }
      case NodeKind::kAggregate: {
        const auto& a = static_cast<const AggregateExpr&>(e);
        out += AggOpName(a.op);
        if (a.without) {
          out += " without (" + FormatLabelList(a.grouping) + ") ";
        } else if (!a.grouping.empty()) {
          out += " by (" + FormatLabelList(a.grouping) + ") ";
        }
        out += '(';
        if (a.param) {
          Print(*a.param);
          out += ", ";
        }
        Print(*a.expr);
        out += ')';
        break;
      }
      case NodeKind::kBinary: {
        const auto& b = static_cast<const BinaryExpr&>(e);
        // A signed number (+Inf, or negative) on the left of `^` would read
        // back as a sign applied to the whole power (unary operators bind
        // less tightly than `^`): parenthesised, it reads back as written.
        size_t at = out.size();
        Print(*b.lhs);
        if (b.op == BinOp::kPow && b.lhs->kind == NodeKind::kNumber && out.size() > at &&
            (out[at] == '+' || out[at] == '-')) {
          out.insert(at, 1, '(');
          out += ')';
        }
        out += ' ';
        out += BinOpName(b.op);
        if (b.return_bool) out += " bool";
        PrintMatching(b);
        out += ' ';
        Print(*b.rhs);
        break;
      }
      case NodeKind::kUnary: {
        const auto& u = static_cast<const UnaryExpr&>(e);
        out += u.negate ? '-' : '+';
        Print(*u.expr);
        break;
      }
      case NodeKind::kParen:
        out += '(';
        Print(*static_cast<const ParenExpr&>(e).expr);
        out += ')';
        break;
    }
  }

 private:
  void PrintSelectorBody(const VectorSelector& vs) {
    std::vector<std::string> parts;
    for (const Matcher& m : vs.matchers) {
      // The name written outside the braces is printed there, not as a matcher.
      if (!vs.name.empty() && m.name() == kMetricName && m.op() == Matcher::Op::kEq &&
          m.value() == vs.name)
        continue;
      parts.push_back(m.String());
    }
    out += vs.name;
    if (parts.empty()) return;
    std::sort(parts.begin(), parts.end());
    out += '{';
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) out += ',';
      out += parts[i];
    }
    out += '}';
  }

  void PrintDuration(const Duration& d) {
    if (d.expr) {
      Print(*d.expr);
    } else {
      out += d.ms < 0 ? "-" + FormatDuration(-d.ms) : FormatDuration(d.ms);
    }
  }

  void PrintAtOffset(AtModifier at, int64_t at_ms, const Duration& offset) {
    switch (at) {
      case AtModifier::kNone:
        break;
      case AtModifier::kTimestamp: {
        char buf[64];
        snprintf(buf, sizeof buf, " @ %.3f", static_cast<double>(at_ms) / 1000.0);
        out += buf;
        break;
      }
      case AtModifier::kStart:
        out += " @ start()";
        break;
      case AtModifier::kEnd:
        out += " @ end()";
        break;
    }
    if (offset.expr) {
      out += " offset ";
      Print(*offset.expr);
    } else if (offset.ms > 0) {
      out += " offset " + FormatDuration(offset.ms);
    } else if (offset.ms < 0) {
      out += " offset -" + FormatDuration(-offset.ms);
    }
  }

  void PrintExtended(const VectorSelector& vs) {
    if (vs.anchored) out += " anchored";
    if (vs.smoothed) out += " smoothed";
  }

  void PrintMatching(const BinaryExpr& b) {
    if (b.matching) {
      const VectorMatching& vm = *b.matching;
      bool grouped = vm.card == Cardinality::kManyToOne || vm.card == Cardinality::kOneToMany;
      // Prometheus omits an empty ignoring(); we keep it when group_x follows
      // so that the printed query means the same.
      if (vm.on || !vm.labels.empty() || grouped) {
        out += vm.on ? " on (" : " ignoring (";
        out += FormatLabelList(vm.labels) + ")";
        if (grouped) {
          out += vm.card == Cardinality::kManyToOne ? " group_left (" : " group_right (";
          out += FormatLabelList(vm.include) + ")";
        }
      }
    }
    auto same = [](double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); };
    if (b.fill_left && b.fill_right && same(*b.fill_left, *b.fill_right)) {
      out += " fill (" + FormatNumber(*b.fill_left) + ")";
      return;
    }
    if (b.fill_left) out += " fill_left (" + FormatNumber(*b.fill_left) + ")";
    if (b.fill_right) out += " fill_right (" + FormatNumber(*b.fill_right) + ")";
  }
};

}  // namespace

std::string Format(const Expr& e) {
  Printer p;
  p.Print(e);
  return std::move(p.out);
}

}  // namespace berth::monitor::promql
