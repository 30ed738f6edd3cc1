// Helpers shared by the ReplicaSet and Deployment controllers.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"

namespace berth::controllers {

// Drops nulls and empty objects/arrays recursively, so that a template that
// round-tripped through a client (creationTimestamp: null, resources: {})
// compares equal to the stored one.
Json Normalize(const Json& j);
// A pod template without the pod-template-hash label, normalized.
Json TemplateForCompare(const Json& tmpl);
// The pod-template-hash value (FNV-32a of the normalized template and the
// collision count, encoded with the safe alphabet).
std::string TemplateHash(const Json& tmpl, int64_t collision_count);
// Resolves an int-or-percent against `total` (percent rounded up or down).
int64_t ScaledValue(const Json& v, int64_t total, bool round_up, int64_t def);
bool PodReady(const Json& pod);
bool PodActive(const Json& pod);  // not deleting, not Succeeded/Failed
int64_t Revision(const Json& rs);

}  // namespace berth::controllers
