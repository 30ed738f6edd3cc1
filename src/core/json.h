// The JSON value type used across Berth. Public headers include only the forward
// declaration; .cpp files that build or read values include <nlohmann/json.hpp>.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace berth {

using Json = nlohmann::json;

// Parses JSON text; a syntax error becomes BadRequest naming the offset.
Result<Json> ParseJson(std::string_view text);
// Parses YAML (one document) or JSON text into JSON. Scalars keep YAML 1.2 core
// typing (true/false/null/numbers); quoted scalars stay strings.
Result<Json> ParseYamlOrJson(std::string_view text);

}  // namespace berth
