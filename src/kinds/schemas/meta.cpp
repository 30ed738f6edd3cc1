// Schemas of apimachinery types shared by every kind: object/list metadata,
// selectors, owner references, and the special scalars (Time, Quantity,
// IntOrString) that the real OpenAPI document models as single values.
#include "kinds/schemas/schemas.h"

namespace berth::kinds::schemas {

const std::string_view kMeta = R"(
package io.k8s.apimachinery.pkg.apis.meta.v1

Time scalar=string format=date-time : A timestamp in RFC 3339 form with second precision, serialized as "2006-01-02T15:04:05Z".
MicroTime scalar=string format=date-time : A timestamp in RFC 3339 form with microsecond precision.

ObjectMeta : Metadata that every persisted resource carries: identity, labels, annotations, ownership and lifecycle markers.
  name string : Unique name within the namespace (or cluster for cluster-scoped kinds). Required on create unless generateName is set. Cannot be updated.
  generateName string : Prefix from which the server generates a unique name when name is empty.
  namespace string : Namespace the object lives in; empty for cluster-scoped kinds. Cannot be updated.
  selfLink string : Deprecated; always empty.
  uid string : Server-assigned unique identifier, fixed for the lifetime of the object.
  resourceVersion string : Opaque version of this object, used for optimistic concurrency and watch resumption.
  generation int64 : Sequence number of the desired state; incremented by the server on spec changes.
  creationTimestamp Time : Server time when the object was created.
  deletionTimestamp Time : Set by the server when a graceful deletion was requested; the object disappears once finalizers are gone.
  deletionGracePeriodSeconds int64 : Grace period granted before the object is removed from the system.
  labels map[string] : Key/value pairs used to organize and select objects.
  annotations map[string] : Arbitrary non-identifying metadata stored with the object.
  ownerReferences []OwnerReference merge=uid map=uid : Objects this one depends on; garbage collected when all owners are gone.
  finalizers []string mergeset set : Conditions that must be cleared before the object is deleted from the store.
  managedFields []ManagedFieldsEntry : Which manager owns which fields (server-side apply bookkeeping).

ManagedFieldsEntry : A record of the fields one manager set through an operation.
  manager string : Name of the workflow managing these fields.
  operation string : Apply or Update.
  apiVersion string : Version of the object the fields refer to.
  time Time : When the entry was last changed.
  fieldsType string : Format of fieldsV1; only "FieldsV1".
  fieldsV1 object : The set of owned fields.
  subresource string : Subresource the fields were written through, if any.

ListMeta : Metadata of a list response.
  selfLink string : Deprecated; always empty.
  resourceVersion string : Version of the collection at the time of the list, usable to start a watch.
  continue string : Token for the next page when the list was limited.
  remainingItemCount int64 : Number of items left after this page, when known.

OwnerReference atomic : Identifies an owning object in the same namespace.
  apiVersion string req : API version of the owner.
  kind string req : Kind of the owner.
  name string req : Name of the owner.
  uid string req : UID of the owner.
  controller boolean : True if the owner is the managing controller.
  blockOwnerDeletion boolean : With foreground deletion, the owner is not removed before this object.

LabelSelector atomic : A label query; matchLabels and matchExpressions are ANDed. An empty selector matches everything, a null one nothing.
  matchLabels map[string] : Exact key=value requirements.
  matchExpressions []LabelSelectorRequirement : Set-based requirements.

LabelSelectorRequirement : One set-based requirement of a label selector.
  key string req : The label key.
  operator string req : In, NotIn, Exists or DoesNotExist.
  values []string atomic : Values for In/NotIn; empty for Exists/DoesNotExist.

Condition : A standard status condition.
  type string req : Condition type in CamelCase.
  status string req : True, False or Unknown.
  observedGeneration int64 : The generation the condition was computed from.
  lastTransitionTime Time req : When the status last changed.
  reason string req : Machine-readable CamelCase reason for the last transition.
  message string req : Human-readable details.

package io.k8s.apimachinery.pkg.api.resource
Quantity scalar=intorstring : A fixed-point number with an optional SI (m, k, M, G...) or binary (Ki, Mi, Gi...) suffix or decimal exponent, e.g. "500m", "1Gi", "2e3".

package io.k8s.apimachinery.pkg.util.intstr
IntOrString scalar=intorstring format=int-or-string : Either an integer or a string (e.g. a port number or a port name, "25%").

package io.k8s.apimachinery.pkg.runtime
RawExtension preserve : An embedded object of any kind.
)";

}  // namespace berth::kinds::schemas
