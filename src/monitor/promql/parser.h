// PromQL text → syntax tree, with Prometheus's type checks and error texts.
#pragma once

#include <string_view>

#include "core/status.h"
#include "monitor/promql/ast.h"

namespace berth::monitor::promql {

struct ParseOptions {
  // Experimental syntax Prometheus 3.x gates behind feature flags: duration
  // expressions, fill modifiers, anchored/smoothed, limitk/limit_ratio, info().
  bool experimental = true;
};

// An Invalid status on error, whose message is Prometheus's, e.g.
// `1:8: parse error: unexpected end of input`.
Result<ExprPtr> Parse(std::string_view query, const ParseOptions& opts = {});

// Parses a series selector as used by /api/v1/series match[] and the test
// files' load lines: `name{l="v"}` or `{l="v"}`.
Result<std::vector<Matcher>> ParseMatchers(std::string_view selector);

// Parses a Prometheus duration ("1h30m", "5m", "1.5"? no: integers with
// units y w d h m s ms); Invalid on error.
Result<int64_t> ParseDuration(std::string_view s);
std::string FormatDuration(int64_t ms);

}  // namespace berth::monitor::promql
