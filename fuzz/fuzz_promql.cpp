// libFuzzer target for PromQL text, which arrives from any API client. Besides
// not crashing: a query that parses prints back (Format) to a query that
// parses again and prints the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "monitor/promql/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view q(reinterpret_cast<const char*>(data), size);
  auto e = berth::monitor::promql::Parse(q);
  if (!e.ok()) return 0;
  std::string once = berth::monitor::promql::Format(**e);
  auto again = berth::monitor::promql::Parse(once);
  if (!again.ok()) std::abort();
  if (berth::monitor::promql::Format(**again) != once) std::abort();
  return 0;
}
