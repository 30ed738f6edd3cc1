// The PromQL syntax tree, produced by parser.h and evaluated by engine.h.
// Times and durations are milliseconds.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "monitor/labels.h"

namespace berth::monitor::promql {

enum class ValueType { kNone, kScalar, kVector, kMatrix, kString };
const char* ValueTypeName(ValueType t);  // "scalar", "instant vector", "range vector", "string"

// Position of a node in the query text: byte offsets [start, end).
struct PosRange {
  int start = 0;
  int end = 0;
};

enum class NodeKind {
  kNumber,
  kString,
  kVectorSelector,
  kMatrixSelector,
  kSubquery,
  kCall,
  kAggregate,
  kBinary,
  kUnary,
  kParen,
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  explicit Expr(NodeKind k) : kind(k) {}
  virtual ~Expr() = default;
  NodeKind kind;
  PosRange pos;
  // The static type of the expression's value.
  virtual ValueType Type() const = 0;
};

// A duration that is either a constant or (experimental duration expressions,
// e.g. `[5m+1m]`, `offset step()`) an expression computed before evaluation.
// `expr` holds scalar arithmetic (Binary/Unary/Paren nodes) over numbers
// (seconds; NumberLiteral::is_duration marks ones written with a unit) and
// Calls to step(), range(), min_of(), max_of(); it evaluates to seconds and the
// engine resolves it into `ms`. When `expr` does not use step()/range(), the
// parser has already computed `ms` as well.
struct Duration {
  int64_t ms = 0;
  ExprPtr expr;  // null for a constant
};

enum class AtModifier { kNone, kTimestamp, kStart, kEnd };

struct NumberLiteral : Expr {
  NumberLiteral() : Expr(NodeKind::kNumber) {}
  double val = 0;
  // A number written as a duration ("5m") inside a duration expression.
  bool is_duration = false;
  ValueType Type() const override { return ValueType::kScalar; }
};

struct StringLiteral : Expr {
  StringLiteral() : Expr(NodeKind::kString) {}
  std::string val;
  ValueType Type() const override { return ValueType::kString; }
};

struct VectorSelector : Expr {
  VectorSelector() : Expr(NodeKind::kVectorSelector) {}
  std::string name;               // "" when only matchers are given
  std::vector<Matcher> matchers;  // includes __name__="name" when name is set
  Duration offset;                // positive = into the past; may be negative
  AtModifier at = AtModifier::kNone;
  int64_t at_ms = 0;      // for kTimestamp
  bool anchored = false;  // experimental `anchored` modifier
  bool smoothed = false;  // experimental `smoothed` modifier
  ValueType Type() const override { return ValueType::kVector; }
};

struct MatrixSelector : Expr {
  MatrixSelector() : Expr(NodeKind::kMatrixSelector) {}
  ExprPtr vector_selector;  // a VectorSelector (holds offset/@/anchored)
  Duration range;
  ValueType Type() const override { return ValueType::kMatrix; }
};

struct SubqueryExpr : Expr {
  SubqueryExpr() : Expr(NodeKind::kSubquery) {}
  ExprPtr expr;
  Duration range;
  Duration step;  // ms == 0 and no expr: the engine's default resolution
  Duration offset;
  AtModifier at = AtModifier::kNone;
  int64_t at_ms = 0;
  ValueType Type() const override { return ValueType::kMatrix; }
};

struct FunctionInfo {
  std::string name;
  std::vector<ValueType> arg_types;
  // -1: exactly arg_types.size() args. Otherwise at least arg_types.size()-1
  // args and up to `variadic` more (0 = no upper bound, as label_join); args
  // past arg_types take the last type.
  int variadic = -1;
  ValueType return_type = ValueType::kVector;
  bool experimental = false;
};
// nullptr when unknown.
const FunctionInfo* LookupFunction(std::string_view name);

struct Call : Expr {
  Call() : Expr(NodeKind::kCall) {}
  const FunctionInfo* func = nullptr;
  std::vector<ExprPtr> args;
  ValueType Type() const override { return func->return_type; }
};

enum class AggOp {
  kSum,
  kAvg,
  kCount,
  kMin,
  kMax,
  kGroup,
  kStddev,
  kStdvar,
  kTopk,
  kBottomk,
  kCountValues,
  kQuantile,
  kLimitk,
  kLimitRatio,
};
const char* AggOpName(AggOp op);

struct AggregateExpr : Expr {
  AggregateExpr() : Expr(NodeKind::kAggregate) {}
  AggOp op = AggOp::kSum;
  ExprPtr expr;
  ExprPtr param;  // topk/bottomk/quantile/count_values/limitk/limit_ratio
  std::vector<std::string> grouping;
  bool without = false;
  bool by = false;  // `by ()` given explicitly
  ValueType Type() const override { return ValueType::kVector; }
};

enum class BinOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kAtan2,
  kTrimUpper,
  kTrimLower,  // native histogram trim operators "</" and ">/"
  kEql,
  kNeq,
  kGtr,
  kLss,
  kGte,
  kLte,
  kAnd,
  kOr,
  kUnless,
};
const char* BinOpName(BinOp op);
inline bool IsComparison(BinOp op) { return op >= BinOp::kEql && op <= BinOp::kLte; }
inline bool IsSetOp(BinOp op) { return op >= BinOp::kAnd; }

enum class Cardinality { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;
  std::vector<std::string> labels;   // the on(...) or ignoring(...) list
  bool on = false;                   // true: on(...); false: ignoring(...)
  std::vector<std::string> include;  // group_left(...)/group_right(...) extra labels
};

struct BinaryExpr : Expr {
  BinaryExpr() : Expr(NodeKind::kBinary) {}
  BinOp op = BinOp::kAdd;
  ExprPtr lhs, rhs;
  bool return_bool = false;
  // Set when both sides are vectors (also when no on/ignoring was written).
  std::optional<VectorMatching> matching;
  // Experimental fill modifiers: the value used for a side with no match.
  std::optional<double> fill_left, fill_right;
  ValueType Type() const override;
};

struct UnaryExpr : Expr {
  UnaryExpr() : Expr(NodeKind::kUnary) {}
  bool negate = true;  // false for unary '+'
  ExprPtr expr;
  ValueType Type() const override { return expr->Type(); }
};

struct ParenExpr : Expr {
  ParenExpr() : Expr(NodeKind::kParen) {}
  ExprPtr expr;
  ValueType Type() const override { return expr->Type(); }
};

// The query text back from the tree, normalised like Prometheus's
// format_query (e.g. `sum by (job) (rate(x[5m]))`).
std::string Format(const Expr& e);

}  // namespace berth::monitor::promql
