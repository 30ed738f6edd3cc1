// The PromQL function signatures (Prometheus 3.x), used by the parser for
// arity and type checks and by the engine to find what a Call refers to.
//
// Variadic, as in ast.h: -1 means exactly arg_types.size() arguments. Any other
// value means at least arg_types.size() - 1 arguments and at most that plus
// `variadic` (no upper bound when 0); arguments past the end of arg_types take
// the last listed type.

#include <string_view>
#include <unordered_map>

#include "monitor/promql/ast.h"

namespace berth::monitor::promql {
namespace {

constexpr ValueType S = ValueType::kScalar;
constexpr ValueType V = ValueType::kVector;
constexpr ValueType M = ValueType::kMatrix;
constexpr ValueType Str = ValueType::kString;

struct Entry {
  const char* name;
  std::vector<ValueType> args;
  int variadic;
  ValueType ret;
  bool experimental;
};

// One table so that the set of functions is reviewable at a glance.
const std::vector<Entry>& Entries() {
  static const std::vector<Entry> kEntries = {
      {"abs", {V}, -1, V, false},
      {"absent", {V}, -1, V, false},
      {"absent_over_time", {M}, -1, V, false},
      {"acos", {V}, -1, V, false},
      {"acosh", {V}, -1, V, false},
      {"asin", {V}, -1, V, false},
      {"asinh", {V}, -1, V, false},
      {"atan", {V}, -1, V, false},
      {"atanh", {V}, -1, V, false},
      {"avg_over_time", {M}, -1, V, false},
      {"ceil", {V}, -1, V, false},
      {"changes", {M}, -1, V, false},
      {"clamp", {V, S, S}, -1, V, false},
      {"clamp_max", {V, S}, -1, V, false},
      {"clamp_min", {V, S}, -1, V, false},
      {"cos", {V}, -1, V, false},
      {"cosh", {V}, -1, V, false},
      {"count_over_time", {M}, -1, V, false},
      {"days_in_month", {V}, 1, V, false},
      {"day_of_month", {V}, 1, V, false},
      {"day_of_week", {V}, 1, V, false},
      {"day_of_year", {V}, 1, V, false},
      {"deg", {V}, -1, V, false},
      {"delta", {M}, -1, V, false},
      {"deriv", {M}, -1, V, false},
      {"double_exponential_smoothing", {M, S, S}, -1, V, true},
      {"end", {}, -1, S, true},
      {"exp", {V}, -1, V, false},
      {"first_over_time", {M}, -1, V, true},
      {"floor", {V}, -1, V, false},
      {"histogram_avg", {V}, -1, V, false},
      {"histogram_count", {V}, -1, V, false},
      {"histogram_fraction", {S, S, V}, -1, V, false},
      {"histogram_quantile", {S, V}, -1, V, false},
      // histogram_quantiles(v, "label", q1, ... q10).
      {"histogram_quantiles", {V, Str, S, S}, 9, V, true},
      {"histogram_stddev", {V}, -1, V, false},
      {"histogram_stdvar", {V}, -1, V, false},
      {"histogram_sum", {V}, -1, V, false},
      {"hour", {V}, 1, V, false},
      {"idelta", {M}, -1, V, false},
      {"increase", {M}, -1, V, false},
      {"info", {V, V}, 1, V, true},
      {"irate", {M}, -1, V, false},
      {"label_join", {V, Str, Str, Str}, 0, V, false},
      {"label_replace", {V, Str, Str, Str, Str}, -1, V, false},
      {"last_over_time", {M}, -1, V, false},
      {"ln", {V}, -1, V, false},
      {"log10", {V}, -1, V, false},
      {"log2", {V}, -1, V, false},
      {"mad_over_time", {M}, -1, V, true},
      {"max_over_time", {M}, -1, V, false},
      {"min_over_time", {M}, -1, V, false},
      // min_of/max_of: math.Min/Max of two scalars; also usable in duration expressions.
      {"max_of", {S, S}, -1, S, true},
      {"min_of", {S, S}, -1, S, true},
      {"minute", {V}, 1, V, false},
      {"month", {V}, 1, V, false},
      {"pi", {}, -1, S, false},
      {"predict_linear", {M, S}, -1, V, false},
      {"present_over_time", {M}, -1, V, false},
      {"quantile_over_time", {S, M}, -1, V, false},
      {"rad", {V}, -1, V, false},
      // Query range in seconds (end - start); also usable in duration expressions.
      {"range", {}, -1, S, true},
      {"rate", {M}, -1, V, false},
      {"resets", {M}, -1, V, false},
      {"round", {V, S}, 1, V, false},
      {"scalar", {V}, -1, S, false},
      {"sgn", {V}, -1, V, false},
      {"sin", {V}, -1, V, false},
      {"sinh", {V}, -1, V, false},
      {"sort", {V}, -1, V, false},
      {"sort_by_label", {V, Str}, 0, V, true},
      {"sort_by_label_desc", {V, Str}, 0, V, true},
      {"sort_desc", {V}, -1, V, false},
      {"sqrt", {V}, -1, V, false},
      {"start", {}, -1, S, true},
      // The start timestamp (created timestamp) of each sample, in seconds.
      {"start_timestamp", {V}, -1, V, true},
      {"stddev_over_time", {M}, -1, V, false},
      {"stdvar_over_time", {M}, -1, V, false},
      // Query step in seconds; also usable in duration expressions.
      {"step", {}, -1, S, true},
      {"sum_over_time", {M}, -1, V, false},
      {"tan", {V}, -1, V, false},
      {"tanh", {V}, -1, V, false},
      {"time", {}, -1, S, false},
      {"timestamp", {V}, -1, V, false},
      {"ts_of_first_over_time", {M}, -1, V, true},
      {"ts_of_last_over_time", {M}, -1, V, true},
      {"ts_of_max_over_time", {M}, -1, V, true},
      {"ts_of_min_over_time", {M}, -1, V, true},
      {"vector", {S}, -1, V, false},
      {"year", {V}, 1, V, false},
  };
  return kEntries;
}

}  // namespace

const FunctionInfo* LookupFunction(std::string_view name) {
  // Built once; FunctionInfo addresses stay stable for the process lifetime,
  // so Call nodes may hold plain pointers.
  static const auto* kTable = [] {
    auto* m = new std::unordered_map<std::string_view, FunctionInfo>();
    for (const Entry& e : Entries())
      m->emplace(e.name, FunctionInfo{e.name, e.args, e.variadic, e.ret, e.experimental});
    return m;
  }();
  auto it = kTable->find(name);
  return it == kTable->end() ? nullptr : &it->second;
}

}  // namespace berth::monitor::promql
