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
// Ready for at least `min_ready_seconds` at `now` (by the Ready condition's
// lastTransitionTime), as the workload controllers count "available".
bool PodAvailable(const Json& pod, int64_t min_ready_seconds, int64_t now);
// Phase Running and Ready: what StatefulSet ordering waits for.
bool PodRunningAndReady(const Json& pod);
bool PodActive(const Json& pod);  // not deleting, not Succeeded/Failed
int64_t Revision(const Json& rs);
std::string PodPhase(const Json& pod);
bool Deleting(const Json& obj);  // metadata.deletionTimestamp set

// The condition of `type` in a conditions array, or null.
const Json* FindCondition(const Json& conds, const std::string& type);
// Sets a condition in `conds` (an array, created if null), keeping the old
// lastTransitionTime when the status did not change. Returns whether
// anything but timestamps changed.
bool SetCondition(Json& conds, const std::string& type, const std::string& status,
                  const std::string& reason, const std::string& message, const std::string& now);

// A pod from a PodTemplateSpec: labels, annotations and spec of the
// template, owned (controller) by `owner_ref`.
Json PodFromTemplate(const Json& tmpl, const std::string& ns, const Json& owner_ref);
// "ns/name" of the controller owner of kind `kind`, or "" if none.
std::string ControllerKey(const Json& obj, const std::string& kind);

}  // namespace berth::controllers
