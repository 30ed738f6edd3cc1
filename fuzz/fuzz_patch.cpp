// libFuzzer target for the patch engines. The input is two JSON documents
// separated by a NUL byte: the object, then the patch. Every engine must answer
// any input with a value or a Status, and beyond not crashing it checks two
// properties: RFC 7386 patches are idempotent, and strategic merge never leaves
// a directive key in its result.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "api/patch.h"

namespace {

using berth::Json;
using berth::ListStrategy;

// Reaches every list strategy from arbitrary documents: lists named "s" are
// sets, lists named "r" are replaced, all others merge by key "k"; objects
// named "u" are retainKeys unions.
class FuzzSchema final : public berth::PatchSchema {
 public:
  ListStrategy ForPath(const std::vector<std::string>& path) const override {
    if (!path.empty() && path.back() == "s") return {ListStrategy::kMergeSet, ""};
    if (!path.empty() && path.back() == "r") return {};
    return {ListStrategy::kMergeByKey, "k"};
  }
  bool RetainKeys(const std::vector<std::string>& path) const override {
    return !path.empty() && path.back() == "u";
  }
};

// Only called on documents the engines accepted, so their depth is bounded.
bool HasDirective(const Json& v) {
  if (v.is_object()) {
    for (const auto& [key, child] : v.items()) {
      if (key.starts_with('$') || HasDirective(child)) return true;
    }
  } else if (v.is_array()) {
    for (const auto& child : v) {
      if (HasDirective(child)) return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  if (split == std::string_view::npos) return 0;
  const Json original = Json::parse(input.substr(0, split), nullptr, /*allow_exceptions=*/false);
  const Json patch = Json::parse(input.substr(split + 1), nullptr, /*allow_exceptions=*/false);
  if (original.is_discarded() || patch.is_discarded()) return 0;

  (void)berth::ApplyJsonPatch(original, patch);

  if (auto once = berth::ApplyMergePatch(original, patch); once.ok()) {
    auto twice = berth::ApplyMergePatch(*once, patch);
    if (!twice.ok() || *twice != *once) std::abort();
  }

  static const FuzzSchema kFuzzSchema;
  for (const berth::PatchSchema* schema :
       {&berth::BuiltinPatchSchema(), static_cast<const berth::PatchSchema*>(&kFuzzSchema)}) {
    auto merged = berth::ApplyStrategicMergePatch(original, patch, *schema);
    if (merged.ok() && !HasDirective(original) && HasDirective(*merged)) std::abort();
    (void)berth::ApplyServerSideApply(original, patch, *schema);
  }
  return 0;
}
