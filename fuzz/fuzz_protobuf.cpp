// libFuzzer target for DecodeKubernetesProtobuf, which parses untrusted request
// bodies (Content-Type: application/vnd.kubernetes.protobuf).
//
// Build: cmake -DBERTH_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ninja fuzz_protobuf
// Run:   ./fuzz_protobuf -max_len=65536 corpus/ tests/unit/api/testdata/protobuf/
// (the kubectl goldens there make a good seed corpus; the .json files next to
// them are harmless extra seeds).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "api/protobuf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  berth::Result<berth::Json> r = berth::DecodeKubernetesProtobuf(body);
  if (!r.ok()) return 0;
  // A successful decode is handed to JSON code that assumes a well-formed
  // object: check the contract, and that it serialises (dump() throws on
  // invalid UTF-8, which the decoder promises to have rejected).
  const berth::Json& obj = *r;
  if (!obj.is_object() || !obj.contains("apiVersion") || !obj["apiVersion"].is_string() ||
      !obj.contains("kind") || !obj["kind"].is_string()) {
    __builtin_trap();
  }
  (void)obj.dump();
  return 0;
}
