// Checks objects against OpenAPI v3 schemas (components.schemas style, with
// $ref resolved through the SchemaRegistry):
//  - unknown fields, for fieldValidation=Strict and for pruning custom resources;
//  - structural validation of custom resources (type, required, enum, bounds,
//    pattern, lengths, items, nullable, int-or-string, preserve-unknown-fields).
#pragma once

#include <string>
#include <vector>

#include "api/kind.h"
#include "core/json.h"
#include "core/status.h"

namespace berth::api {

// Paths ("spec.foo", "spec.containers[0].imagee") of fields that the schema
// does not declare. `prune` removes them from obj as well.
void FindUnknownFields(Json& obj, const Json& schema, const SchemaRegistry& reg,
                       std::vector<std::string>& unknown, bool prune);

// Appends a cause for every value that does not satisfy the schema.
void ValidateSchema(const Json& obj, const Json& schema, const SchemaRegistry& reg,
                    std::vector<Cause>& causes);

}  // namespace berth::api
