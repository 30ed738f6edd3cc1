// Fuzzes the JSON and YAML decoders every request body goes through.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)berth::ParseJson(in);
  (void)berth::ParseYamlOrJson(in);
  return 0;
}
