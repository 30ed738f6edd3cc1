// Wire formats shared by the API and the notifiers: Alertmanager's time
// stamps and alert fingerprints.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "monitor/labels.h"

namespace berth::monitor::alerting {

// Wall-clock milliseconds since the epoch.
int64_t NowMs();

// RFC 3339 in UTC with milliseconds ("2024-05-01T10:00:00.000Z"); 0 is Go's
// zero time "0001-01-01T00:00:00Z", which Alertmanager prints for "unset".
std::string FormatTimeMs(int64_t ms);
// RFC 3339 with an optional fraction and offset; Go's zero time gives 0.
Result<int64_t> ParseTimeMs(std::string_view s);

// 64-bit FNV-1a over the sorted names and values, each followed by 0xff:
// stable across processes, unlike Labels::Hash().
uint64_t Fingerprint(const Labels& ls);
std::string FingerprintString(uint64_t fp);  // 16 lower-case hex digits

}  // namespace berth::monitor::alerting
