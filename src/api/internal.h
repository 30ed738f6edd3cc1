// Private helpers shared by the api/ front-end files. Not for other modules.
#pragma once

#include <string>
#include <vector>

#include "api/kind.h"
#include "core/json.h"

namespace berth::api::internal {

// Aggregated (apidiscovery.k8s.io/v2) and legacy discovery documents.
Json AggregatedDiscovery(const KindRegistry& kinds, bool core);
Json LegacyApiVersions();
Json LegacyGroupList(const KindRegistry& kinds);
Json LegacyGroup(const KindRegistry& kinds, const std::string& group);  // null if none
Json LegacyResourceList(const KindRegistry& kinds, const std::string& group, const std::string& version);

// OpenAPI v3 index and per-group-version documents (cached by registry generation).
std::string OpenApiIndex(const KindRegistry& kinds, const SchemaRegistry& schemas);
// Empty string when the group-version is not served.
std::string OpenApiGroupVersion(const KindRegistry& kinds, const SchemaRegistry& schemas,
                                const std::string& gv_path);

// Server-side Table (meta.k8s.io/v1) for objects of a kind.
Json TableColumns(const KindInfo& k);
Json TableRow(const KindInfo& k, const Json& obj, bool include_object);

// Evaluates a simple JSONPath as used by CRD additionalPrinterColumns (".spec.replicas").
Json EvalSimpleJsonPath(const Json& obj, const std::string& path);

}  // namespace berth::api::internal
