// Schemas of coordination.k8s.io/v1 Lease, discovery.k8s.io/v1 EndpointSlice,
// autoscaling/v1 Scale and apiextensions.k8s.io/v1 CustomResourceDefinition,
// plus the function compiling all built-in sources into a SchemaRegistry.
#include <nlohmann/json.hpp>

#include "kinds/schema_dsl.h"
#include "kinds/schemas/schemas.h"

namespace berth::kinds::schemas {

const std::string_view kMisc = R"(
package io.k8s.api.coordination.v1

Lease gvk=coordination.k8s.io/v1 list : A lease, used for leader election and node heartbeats.
  metadata ObjectMeta : Standard object metadata.
  spec LeaseSpec : Specification of the lease.

LeaseSpec : Specification of a lease.
  holderIdentity string : Current holder.
  leaseDurationSeconds int32 : Seconds candidates wait before taking the lease over.
  acquireTime MicroTime : When the current holder acquired the lease.
  renewTime MicroTime : When the holder last renewed the lease.
  leaseTransitions int32 : Number of holder changes.
  strategy string : Strategy for picking the leader in coordinated leader election.
  preferredHolder string : Holder suggested to take over.

package io.k8s.api.discovery.v1

EndpointSlice gvk=discovery.k8s.io/v1 list : A subset of the endpoints implementing a service.
  metadata ObjectMeta : Standard object metadata.
  addressType string req : IPv4, IPv6 or FQDN. Immutable.
  endpoints []Endpoint req atomic : Endpoints of the slice (at most 1000).
  ports []EndpointPort atomic : Ports exposed by every endpoint (at most 100).

Endpoint : One endpoint of a slice.
  addresses []string req set : Addresses of the endpoint (one for now).
  conditions EndpointConditions : Current state.
  hostname string : Hostname of the endpoint.
  targetRef ObjectReference : Object providing the endpoint.
  deprecatedTopology map[string] : Deprecated topology labels.
  nodeName string : Node hosting the endpoint.
  zone string : Zone of the endpoint.
  hints EndpointHints : Routing hints.

EndpointConditions : State of an endpoint.
  ready boolean : Ready to receive traffic.
  serving boolean : Serving, regardless of termination.
  terminating boolean : Terminating.

EndpointHints : Topology hints.
  forZones []ForZone atomic : Zones that should consume the endpoint.
  forNodes []ForNode atomic : Nodes that should consume the endpoint.

ForZone : A zone.
  name string req : Zone name.

ForNode : A node.
  name string req : Node name.

EndpointPort atomic : A port of the endpoints.
  name string : Name matching the service port.
  protocol string : TCP (default), UDP or SCTP.
  port int32 : Port number.
  appProtocol string : Application protocol hint.

package io.k8s.api.autoscaling.v1

Scale gvk=autoscaling/v1 : The scale subresource of a scalable resource.
  metadata ObjectMeta : Standard object metadata.
  spec ScaleSpec : Desired scale.
  status ScaleStatus : Current scale.

ScaleSpec : Desired scale.
  replicas int32 : Desired number of instances.

ScaleStatus : Observed scale.
  replicas int32 req : Actual number of instances.
  selector string : Label selector of the pods, in string form.
)";

const std::string_view kApiExtensions = R"(
package io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1

CustomResourceDefinition gvk=apiextensions.k8s.io/v1 list : Defines a new resource type served by the API server.
  metadata ObjectMeta : Standard object metadata; the name must be <plural>.<group>.
  spec CustomResourceDefinitionSpec req : How the resource is named and served.
  status CustomResourceDefinitionStatus : Observed state.

CustomResourceDefinitionSpec : How a custom resource is named and served.
  group string req : API group, e.g. example.com.
  names CustomResourceDefinitionNames req : Resource and kind names.
  scope string req : Namespaced or Cluster.
  versions []CustomResourceDefinitionVersion req atomic : Served versions; exactly one is the storage version.
  conversion CustomResourceConversion : How versions are converted.
  preserveUnknownFields boolean : Deprecated; must be false.

CustomResourceDefinitionNames : Names of a custom resource.
  plural string req : Plural lower-case resource name used in URLs.
  singular string : Singular lower-case name. Defaults to the lower-cased kind.
  shortNames []string atomic : Short aliases for kubectl.
  kind string req : CamelCase kind of the objects.
  listKind string : Kind of the lists. Defaults to <kind>List.
  categories []string atomic : Groups the resource belongs to, e.g. all.

CustomResourceDefinitionVersion : One version of a custom resource.
  name string req : Version name, e.g. v1.
  served boolean req : Served through the REST API.
  storage boolean req : The version objects are persisted in.
  deprecated boolean : Warn clients that use this version.
  deprecationWarning string : Custom deprecation warning.
  schema CustomResourceValidation : Schema of the objects.
  subresources CustomResourceSubresources : Status and scale subresources.
  additionalPrinterColumns []CustomResourceColumnDefinition atomic : Extra columns for kubectl get.
  selectableFields []SelectableField atomic : Fields usable in field selectors.

CustomResourceValidation : Validation schema of a version.
  openAPIV3Schema JSONSchemaProps : OpenAPI v3 schema of the objects.

JSONSchemaProps preserve : A JSON Schema (OpenAPI v3 subset with x-kubernetes extensions).

CustomResourceSubresources : Subresources of a custom resource.
  status CustomResourceSubresourceStatus : Enables /status.
  scale CustomResourceSubresourceScale : Enables /scale.

CustomResourceSubresourceStatus : Enables the status subresource; has no fields.

CustomResourceSubresourceScale : Scale subresource mapping.
  specReplicasPath string req : JSON path of the desired replicas, e.g. .spec.replicas.
  statusReplicasPath string req : JSON path of the observed replicas.
  labelSelectorPath string : JSON path of the label selector in string form.

CustomResourceColumnDefinition : An extra column for kubectl get.
  name string req : Column header.
  type string req : integer, number, string, boolean or date.
  format string : Optional format.
  description string : Column description.
  priority int32 : 0 shows by default, higher only with -o wide.
  jsonPath string req : Simple JSON path evaluated per object.

SelectableField : A field usable in field selectors.
  jsonPath string req : JSON path of the field.

CustomResourceConversion : Conversion between versions.
  strategy string req : None or Webhook.
  webhook WebhookConversion : Webhook settings.

WebhookConversion : A conversion webhook.
  clientConfig WebhookClientConfig : How to call the webhook.
  conversionReviewVersions []string req atomic : ConversionReview versions the webhook accepts.

WebhookClientConfig : How to reach a webhook.
  url string : URL of the webhook.
  service ServiceReference : A service in the cluster.
  caBundle bytes : PEM CA bundle to verify the server.

ServiceReference : A reference to a service.
  namespace string req : Namespace.
  name string req : Name.
  path string : URL path.
  port int32 : Port. Defaults to 443.

CustomResourceDefinitionStatus : Observed state of a CRD.
  conditions []CustomResourceDefinitionCondition map=type : Latest observations (Established, NamesAccepted...).
  acceptedNames CustomResourceDefinitionNames : Names actually served.
  storedVersions []string atomic : Versions objects were ever persisted in.

CustomResourceDefinitionCondition : A CRD condition.
  type string req : Condition type.
  status string req : True, False or Unknown.
  lastTransitionTime Time : Last status change.
  reason string : CamelCase reason.
  message string : Details.
)";

Status RegisterBuiltinSchemas(api::SchemaRegistry& reg) {
  auto compiled = CompileSchemas({kMeta, kCorePod, kCore, kApps, kBatch, kMisc, kApiExtensions, kRegistry});
  if (!compiled.ok()) return compiled.status();
  for (auto& [name, schema] : *compiled) reg.Add(name, schema);
  return Status::Ok();
}

}  // namespace berth::kinds::schemas
