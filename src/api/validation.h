// Generic validators shared by the REST machinery and every kind's hooks.
// Messages follow k8s.io/apimachinery/pkg/util/validation so clients see the
// same text a real cluster prints.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace berth::api {

// Each returns the list of error messages (empty = valid).
std::vector<std::string> IsDNS1123Label(const std::string& v);
std::vector<std::string> IsDNS1123Subdomain(const std::string& v);
std::vector<std::string> IsDNS1035Label(const std::string& v);
std::vector<std::string> IsQualifiedName(const std::string& v);   // label/annotation keys
std::vector<std::string> IsValidLabelValue(const std::string& v);
std::vector<std::string> IsValidPortNum(int64_t port);
std::vector<std::string> IsValidPathSegmentName(const std::string& v);

// Validates metadata: name (or generateName) per `name_rule` ("subdomain",
// "label", "path"), namespace presence per scope, labels, annotations (total
// size ≤ 256 KiB), ownerReferences, finalizers. Appends causes with field
// paths rooted at "metadata".
void ValidateObjectMeta(const Json& obj, bool namespaced, const std::string& name_rule,
                        std::vector<Cause>& causes);

// Cause helpers with the apiserver's wording: "Required value",
// "Invalid value: \"x\": <detail>", "Unsupported value: \"x\": supported values: ...".
Cause Required(const std::string& field, const std::string& detail = "");
Cause InvalidValue(const std::string& field, const Json& value, const std::string& detail);
Cause NotSupported(const std::string& field, const Json& value, const std::vector<std::string>& valid);
Cause Forbidden(const std::string& field, const std::string& detail);
Cause Duplicate(const std::string& field, const Json& value);
Cause TooLong(const std::string& field, size_t max);
// For immutable fields: "field is immutable".
Cause Immutable(const std::string& field);

// Builds the 422 Status for a kind: message `Deployment.apps "web" is invalid: <cause>; <cause>`.
Status InvalidStatus(const std::string& kind, const std::string& group, const std::string& name,
                     std::vector<Cause> causes);

}  // namespace berth::api
