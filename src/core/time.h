// Wall-clock helpers in the formats the Kubernetes API uses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace berth {

int64_t NowMicros();
int64_t NowSeconds();
// Monotonic clock for measuring intervals, in nanoseconds.
int64_t MonotonicNanos();

// "2025-01-01T00:00:00Z" (metav1.Time).
std::string FormatRFC3339(int64_t unix_seconds);
// "2025-01-01T00:00:00.000000Z" (metav1.MicroTime).
std::string FormatRFC3339Micro(int64_t unix_micros);
// Parses RFC 3339 with optional fraction and offset; returns unix seconds.
std::optional<int64_t> ParseRFC3339(std::string_view s);
// kubectl's human duration used in the AGE column: "5s", "3m2s", "4h", "12d", "2y".
std::string HumanDuration(int64_t seconds);

}  // namespace berth
