// libFuzzer target for label and field selectors. The input is tried as a label
// selector string, a field selector string and a metav1.LabelSelector JSON
// object. Besides not crashing, every accepted selector must render to a string
// that parses back to the same selector with the same verdict on sample labels.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/selector.h"

namespace {

using berth::FieldSelector;
using berth::Json;
using berth::LabelSelector;

const Json& SampleLabels() {
  static const Json kLabels = {{"a", "b"}, {"n", "5"}, {"empty", ""}, {"in", "notin"}};
  return kLabels;
}

std::optional<std::string> SampleField(std::string_view field) {
  if (field == "metadata.name") return "web";
  if (field == "a") return "x,y=z\\";
  return std::nullopt;
}

void CheckLabelRoundTrip(const LabelSelector& s) {
  const std::string text = s.ToString();
  auto again = LabelSelector::Parse(text);
  if (!again.ok() || again->ToString() != text ||
      again->Matches(SampleLabels()) != s.Matches(SampleLabels())) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto s = LabelSelector::Parse(input); s.ok()) CheckLabelRoundTrip(*s);

  if (auto f = FieldSelector::Parse(input); f.ok()) {
    const std::string text = f->ToString();
    auto again = FieldSelector::Parse(text);
    if (!again.ok() || again->ToString() != text ||
        again->Matches(SampleField) != f->Matches(SampleField)) {
      std::abort();
    }
    (void)f->CheckFields([](std::string_view field) { return field == "metadata.name"; });
  }

  const Json json = Json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (!json.is_discarded()) {
    if (auto s = LabelSelector::FromJson(json); s.ok() && !s->SelectsNothing()) {
      CheckLabelRoundTrip(*s);
    }
  }
  return 0;
}
