// libFuzzer target for remote-write bodies (snappy-compressed protobuf from
// any sender). Besides not crashing: whatever decodes has labels on every
// series and encodes back to a body that decodes to the same series.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "monitor/remote_write.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth::monitor;
  auto series = DecodeRemoteWrite(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!series.ok()) return 0;
  for (const auto& s : *series)
    if (s.labels.empty()) std::abort();
  auto back = DecodeRemoteWrite(EncodeRemoteWrite(*series));
  if (!back.ok() || back->size() != series->size()) std::abort();
  for (size_t i = 0; i < series->size(); ++i) {
    if ((*back)[i].labels != (*series)[i].labels) std::abort();
    if ((*back)[i].samples.size() != (*series)[i].samples.size()) std::abort();
    if ((*back)[i].histograms.size() != (*series)[i].histograms.size()) std::abort();
  }
  return 0;
}
