// PromQL evaluation with Prometheus 3.x semantics over a Querier.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "monitor/promql/ast.h"
#include "monitor/storage.h"

namespace berth::monitor::promql {

// A sample value as Prometheus prints it (Go's strconv.FormatFloat(v, 'f',
// -1, 64): shortest round-trip digits, no exponent; "+Inf", "-Inf", "NaN").
std::string FormatFloat(double v);

// A sample: a float, or a native histogram when h is set (v is then 0).
struct Point {
  int64_t t;
  double v;
  HistogramPtr h = nullptr;
};

struct VectorSample {
  Labels metric;
  int64_t t;
  double v;
  HistogramPtr h = nullptr;  // a native histogram sample (v is then 0)
};
using Vector = std::vector<VectorSample>;

struct MatrixSeries {
  Labels metric;
  std::vector<Point> points;
};
using Matrix = std::vector<MatrixSeries>;

struct QueryResult {
  ValueType type = ValueType::kNone;
  Vector vector;    // kVector
  Matrix matrix;    // kMatrix (range selectors at instant time; every range query)
  Point scalar{};   // kScalar
  std::string str;  // kString (with scalar.t as its time)
  // Annotations, Prometheus's texts: "PromQL warning: ..." / "PromQL info: ...".
  std::vector<std::string> warnings;
  std::vector<std::string> infos;
};

// Why a query failed: the Prometheus API's errorType values.
enum class ErrorType { kBadData, kExecution, kTimeout, kCanceled };
struct QueryError {
  ErrorType type;
  std::string message;
};

struct EngineOptions {
  int64_t lookback_ms = 5 * 60 * 1000;
  // Limit on samples loaded and held at once by one query; exceeding it fails
  // the query with "query processing would load too many samples into memory".
  int64_t max_samples = 50'000'000;
  std::chrono::milliseconds timeout{std::chrono::minutes(2)};
  // Subquery default step when none is written (Prometheus: 1m by default).
  int64_t default_eval_interval_ms = 60 * 1000;
  bool experimental = true;
};

class Engine {
 public:
  explicit Engine(EngineOptions opts = {});
  const EngineOptions& options() const { return opts_; }

  // `t`, `start`, `end`, `step` in milliseconds. A range query returns a
  // matrix (a scalar expression becomes one series without labels).
  Result<QueryResult> Instant(Querier& q, std::string_view query, int64_t t,
                              QueryError* err = nullptr) const;
  Result<QueryResult> Range(Querier& q, std::string_view query, int64_t start, int64_t end,
                            int64_t step, QueryError* err = nullptr) const;

  // The same, over an already parsed tree (rules keep their parsed queries).
  Result<QueryResult> InstantExpr(Querier& q, const Expr& e, int64_t t,
                                  QueryError* err = nullptr) const;
  Result<QueryResult> RangeExpr(Querier& q, const Expr& e, int64_t start, int64_t end, int64_t step,
                                QueryError* err = nullptr) const;

 private:
  Result<QueryResult> RunInstant(Querier& q, const Expr& e, std::string_view text, int64_t t,
                                 QueryError* err) const;
  Result<QueryResult> RunRange(Querier& q, const Expr& e, std::string_view text, int64_t start,
                               int64_t end, int64_t step, QueryError* err) const;
  EngineOptions opts_;
};

}  // namespace berth::monitor::promql
