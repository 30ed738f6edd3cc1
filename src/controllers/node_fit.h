// Whether a pod may run on a node: the filter predicates the scheduler and the
// DaemonSet controller share (resources, node selector, required node
// affinity, taints and tolerations), with kube-scheduler's failure wording.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"

namespace berth::controllers {

// Requests in the units the scheduler compares: millicores, bytes, pod count.
struct Resources {
  int64_t milli_cpu = 0, memory = 0, ephemeral = 0, pods = 0;
  Resources& operator+=(const Resources& o);
};

// A pod's effective requests as kube-scheduler computes them: the sum over
// containers (plus restartable init containers), or the largest init
// container if that is more, plus spec.overhead; pods = 1.
Resources PodRequests(const Json& pod_spec);
// status.allocatable (falling back to status.capacity) of a node.
Resources NodeAllocatable(const Json& node);

bool NodeReady(const Json& node);  // a Ready condition with status True
// Whether `tolerations` (a pod's spec.tolerations) tolerate `taint`.
bool Tolerates(const Json& tolerations, const Json& taint);
// spec.nodeSelector and required node affinity both match the node.
bool MatchesNodeSelectorAndAffinity(const Json& pod_spec, const Json& node);
// The first taint of the node with one of `effects` the pod does not
// tolerate, or null.
const Json* UntoleratedTaint(const Json& pod_spec, const Json& node, const std::vector<std::string>& effects);

// Why a pod does not fit a node, in kube-scheduler's words ("Insufficient
// memory", "node(s) didn't match Pod's node affinity/selector"); empty when
// it fits. `used` are the requests of the pods already bound to the node.
std::vector<std::string> FitFailures(const Json& pod_spec, const Resources& req, const Json& node,
                                     const Resources& used);
// "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated
// taint {k: v}." from the failures of every node.
std::string FailedSchedulingMessage(size_t nodes, const std::vector<std::vector<std::string>>& failures);

}  // namespace berth::controllers
