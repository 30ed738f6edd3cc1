// Schemas of the core/v1 kinds other than Pod: Namespace, Service, Endpoints,
// ConfigMap, Secret, ServiceAccount, Event, Node, PersistentVolume(Claim).
#include "kinds/schemas/schemas.h"

namespace berth::kinds::schemas {

const std::string_view kCore = R"(
package io.k8s.api.core.v1

Namespace gvk=v1 list : A scope for names; most objects live in a namespace.
  metadata ObjectMeta : Standard object metadata.
  spec NamespaceSpec : Behavior of the namespace.
  status NamespaceStatus : Observed state of the namespace.

NamespaceSpec : Namespace behavior.
  finalizers []string atomic : Finalizers that must be cleared before the namespace is removed.

NamespaceStatus : Observed state of a namespace.
  phase string : Active or Terminating.
  conditions []NamespaceCondition merge=type map=type : Latest observations.

NamespaceCondition : A namespace condition.
  type string req : Condition type.
  status string req : True, False or Unknown.
  lastTransitionTime Time : Last status change.
  reason string : CamelCase reason.
  message string : Details.

Service gvk=v1 list : A named abstraction of software service: a stable virtual IP and ports that proxy to selected pods.
  metadata ObjectMeta : Standard object metadata.
  spec ServiceSpec : Behavior of the service.
  status ServiceStatus : Observed state, e.g. load balancer ingress points.

ServiceSpec : Behavior of a service.
  ports []ServicePort merge=port map=port,protocol : Ports exposed by the service.
  selector map[string] atomic : Route traffic to pods with these labels; without it endpoints are managed externally.
  clusterIP string : Virtual IP, allocated by the system unless set; "None" makes a headless service. Immutable.
  clusterIPs []string atomic : IPs of the service, one per IP family; the first equals clusterIP.
  type string : ClusterIP (default), NodePort, LoadBalancer or ExternalName.
  externalIPs []string atomic : Extra IPs on which nodes accept traffic for the service.
  sessionAffinity string : ClientIP or None (default).
  loadBalancerIP string : Deprecated; requested load balancer IP.
  loadBalancerSourceRanges []string atomic : Client CIDRs allowed through the load balancer.
  externalName string : DNS name returned as a CNAME for type ExternalName.
  externalTrafficPolicy string : Cluster (default) or Local routing of external traffic.
  healthCheckNodePort int32 : Node port for load balancer health checks with Local policy.
  publishNotReadyAddresses boolean : Publish endpoints of pods that are not ready.
  sessionAffinityConfig SessionAffinityConfig : Session affinity settings.
  ipFamilies []string atomic : IPv4 and/or IPv6.
  ipFamilyPolicy string : SingleStack, PreferDualStack or RequireDualStack.
  allocateLoadBalancerNodePorts boolean : Allocate node ports for LoadBalancer services. Defaults to true.
  loadBalancerClass string : Load balancer implementation.
  internalTrafficPolicy string : Cluster (default) or Local routing of in-cluster traffic.
  trafficDistribution string : Preference for routing, e.g. PreferClose.

ServicePort : A port of a service.
  name string : DNS label; required when there is more than one port.
  protocol string : TCP (default), UDP or SCTP.
  appProtocol string : Application protocol hint.
  port int32 req : Port the service exposes.
  targetPort IntOrString : Port number or name on the pods. Defaults to port.
  nodePort int32 : Port on every node for NodePort/LoadBalancer; allocated unless set.

SessionAffinityConfig : Session affinity settings.
  clientIP ClientIPConfig : ClientIP affinity settings.

ClientIPConfig : ClientIP session affinity.
  timeoutSeconds int32 : Sticky time. Defaults to 10800.

ServiceStatus : Observed state of a service.
  loadBalancer LoadBalancerStatus : The load balancer, if any.
  conditions []Condition merge=type map=type : Current conditions.

LoadBalancerStatus : A load balancer.
  ingress []LoadBalancerIngress atomic : Ingress points.

LoadBalancerIngress : A load balancer ingress point.
  ip string : IP address.
  hostname string : DNS name.
  ipMode string : VIP or Proxy.
  ports []PortStatus atomic : Port status.

PortStatus : Status of a port.
  port int32 req : Port number.
  protocol string req : Protocol.
  error string : Problem with the port.

Endpoints gvk=v1 list : The addresses implementing a service.
  metadata ObjectMeta : Standard object metadata.
  subsets []EndpointSubset atomic : Groups of addresses sharing ports.

EndpointSubset : Addresses with a common set of ports.
  addresses []EndpointAddress atomic : Ready addresses.
  notReadyAddresses []EndpointAddress atomic : Addresses not ready yet.
  ports []EndpointPort atomic : Ports of the addresses.

EndpointAddress atomic : One endpoint.
  ip string req : IP address.
  hostname string : Hostname.
  nodeName string : Node hosting the endpoint.
  targetRef ObjectReference : Object providing the endpoint, usually a pod.

EndpointPort atomic : A port of an endpoint.
  name string : Name matching the service port.
  port int32 req : Port number.
  protocol string : TCP (default), UDP or SCTP.
  appProtocol string : Application protocol hint.

ObjectReference atomic : A reference to any object.
  kind string : Kind of the referent.
  namespace string : Namespace of the referent.
  name string : Name of the referent.
  uid string : UID of the referent.
  apiVersion string : API version of the referent.
  resourceVersion string : Specific resource version referred to.
  fieldPath string : A part of the object, e.g. spec.containers{nginx}.

ConfigMap gvk=v1 list : Non-confidential configuration data for pods.
  metadata ObjectMeta : Standard object metadata.
  immutable boolean : If true, data cannot be updated any more.
  data map[string] : UTF-8 values; keys must be [-._a-zA-Z0-9]+.
  binaryData map[bytes] : Base64-encoded binary values; keys must not overlap with data.

Secret gvk=v1 list : Sensitive data such as passwords, tokens or keys.
  metadata ObjectMeta : Standard object metadata.
  immutable boolean : If true, data cannot be updated any more.
  data map[bytes] : Base64-encoded values; keys must be [-._a-zA-Z0-9]+.
  stringData map[string] : Write-only plain-text values merged into data on write.
  type string : Kind of secret, e.g. Opaque (default), kubernetes.io/tls, kubernetes.io/dockerconfigjson.

ServiceAccount gvk=v1 list : An identity for processes running in pods.
  metadata ObjectMeta : Standard object metadata.
  secrets []ObjectReference merge=name : Secrets usable by pods running as this account.
  imagePullSecrets []LocalObjectReference atomic : Secrets for pulling images of pods using this account.
  automountServiceAccountToken boolean : Whether pods mount a token automatically.

Event gvk=v1 list : A report of something that happened to an object.
  metadata ObjectMeta : Standard object metadata.
  involvedObject ObjectReference req : The object the event is about.
  reason string : Short CamelCase reason, e.g. Scheduled, Pulled, BackOff.
  message string : Human-readable description.
  source EventSource : Component reporting the event.
  firstTimestamp Time : First occurrence.
  lastTimestamp Time : Most recent occurrence.
  count int32 : Number of occurrences.
  type string : Normal or Warning.
  eventTime MicroTime : Time the event was first observed.
  series EventSeries : Data about a series of events.
  action string : What was taken or failed.
  related ObjectReference : A secondary object.
  reportingComponent string : Controller that emitted the event.
  reportingInstance string : Instance of the controller.

EventSource : Reporter of an event.
  component string : Component name.
  host string : Node name.

EventSeries : A series of repeated events.
  count int32 : Occurrences so far.
  lastObservedTime MicroTime : Time of the last occurrence.

Node gvk=v1 list : A worker machine that runs pods.
  metadata ObjectMeta : Standard object metadata.
  spec NodeSpec : Behavior of the node.
  status NodeStatus : Most recently observed state of the node.

NodeSpec : Behavior of a node.
  podCIDR string : Pod IP range assigned to the node.
  podCIDRs []string set : Pod IP ranges, one per family.
  providerID string : Cloud provider ID.
  unschedulable boolean : Keep new pods off the node (cordon).
  taints []Taint atomic : Taints repelling pods without matching tolerations.
  configSource object : Deprecated dynamic kubelet config source.
  externalID string : Deprecated.

Taint : A taint on a node.
  key string req : Taint key.
  value string : Taint value.
  effect string req : NoSchedule, PreferNoSchedule or NoExecute.
  timeAdded Time : When a NoExecute taint was added.

NodeStatus : Observed state of a node.
  capacity map[Quantity] : Total resources of the node.
  allocatable map[Quantity] : Resources available for scheduling.
  phase string : Deprecated.
  conditions []NodeCondition merge=type map=type : Current conditions, e.g. Ready.
  addresses []NodeAddress merge=type map=type : Addresses of the node.
  daemonEndpoints NodeDaemonEndpoints : Ports of daemons on the node.
  nodeInfo NodeSystemInfo : Versions and IDs reported by the node.
  images []ContainerImage atomic : Images present on the node.
  volumesInUse []string atomic : Volumes in use.
  volumesAttached []AttachedVolume atomic : Volumes attached.
  config object : Status of dynamic kubelet config.
  runtimeHandlers []NodeRuntimeHandler atomic : Available runtime handlers.
  features NodeFeatures : Supported features.

NodeCondition : A node condition.
  type string req : Ready, MemoryPressure, DiskPressure, PIDPressure or NetworkUnavailable.
  status string req : True, False or Unknown.
  lastHeartbeatTime Time : Last heartbeat.
  lastTransitionTime Time : Last status change.
  reason string : CamelCase reason.
  message string : Details.

NodeAddress : An address of a node.
  type string req : Hostname, InternalIP, ExternalIP, InternalDNS or ExternalDNS.
  address string req : The address.

NodeDaemonEndpoints : Daemon ports.
  kubeletEndpoint DaemonEndpoint : Kubelet port.

DaemonEndpoint : A daemon port.
  Port int32 req : Port number.

NodeSystemInfo : Versions and IDs of a node.
  machineID string req : Machine ID.
  systemUUID string req : System UUID.
  bootID string req : Boot ID.
  kernelVersion string req : Kernel version (uname -r).
  osImage string req : OS image.
  containerRuntimeVersion string req : Container runtime and version.
  kubeletVersion string req : Node agent version.
  kubeProxyVersion string req : Deprecated.
  operatingSystem string req : linux or windows.
  architecture string req : CPU architecture.
  swap NodeSwapStatus : Swap information.

NodeSwapStatus : Swap memory of a node.
  capacity int64 : Swap bytes.

ContainerImage : An image on a node.
  names []string atomic : Names of the image.
  sizeBytes int64 : Size in bytes.

AttachedVolume : An attached volume.
  name string req : Volume name.
  devicePath string req : Device path.

NodeRuntimeHandler : A runtime handler.
  name string : Handler name; empty for the default.
  features NodeRuntimeHandlerFeatures : Supported features.

NodeRuntimeHandlerFeatures : Features of a runtime handler.
  recursiveReadOnlyMounts boolean : Recursive read-only mounts.
  userNamespaces boolean : User namespaces.

NodeFeatures : Node features.
  supplementalGroupsPolicy boolean : SupplementalGroupsPolicy support.

PersistentVolume gvk=v1 list : A piece of storage provisioned in the cluster.
  metadata ObjectMeta : Standard object metadata.
  spec PersistentVolumeSpec : Description of the storage.
  status PersistentVolumeStatus : Observed state.

PersistentVolumeSpec : Description of a persistent volume.
  capacity map[Quantity] : Capacity, e.g. storage: 10Gi.
  accessModes []string atomic : ReadWriteOnce, ReadOnlyMany, ReadWriteMany or ReadWriteOncePod.
  claimRef ObjectReference : The claim bound to this volume.
  persistentVolumeReclaimPolicy string : Retain (default for manual), Delete or Recycle.
  storageClassName string : StorageClass of the volume.
  mountOptions []string atomic : Mount options.
  volumeMode string : Filesystem (default) or Block.
  nodeAffinity VolumeNodeAffinity : Nodes the volume can be used from.
  volumeAttributesClassName string : VolumeAttributesClass of the volume.
  hostPath HostPathVolumeSource : A directory on the node (single-node testing).
  local LocalVolumeSource : Local storage on a node.
  nfs NFSVolumeSource : An NFS export.
  csi CSIPersistentVolumeSource : A volume managed by a CSI driver.
  gcePersistentDisk object : GCE persistent disk.
  awsElasticBlockStore object : AWS EBS volume.
  glusterfs object : GlusterFS volume.
  rbd object : Ceph RBD image.
  iscsi object : iSCSI disk.
  cinder object : OpenStack Cinder volume.
  cephfs object : CephFS mount.
  fc object : Fibre Channel volume.
  flocker object : Flocker volume.
  flexVolume object : FlexVolume driver.
  azureFile object : Azure File share.
  vsphereVolume object : vSphere volume.
  quobyte object : Quobyte volume.
  azureDisk object : Azure disk.
  photonPersistentDisk object : Photon disk.
  portworxVolume object : Portworx volume.
  scaleIO object : ScaleIO volume.
  storageos object : StorageOS volume.

LocalVolumeSource : Local storage.
  path string req : Path on the node.
  fsType string : Filesystem type.

CSIPersistentVolumeSource : A CSI-managed volume.
  driver string req : CSI driver name.
  volumeHandle string req : Volume ID known to the driver.
  readOnly boolean : Mount read-only.
  fsType string : Filesystem type.
  volumeAttributes map[string] : Driver attributes.
  controllerPublishSecretRef SecretReference : Secret for ControllerPublish.
  nodeStageSecretRef SecretReference : Secret for NodeStage.
  nodePublishSecretRef SecretReference : Secret for NodePublish.
  controllerExpandSecretRef SecretReference : Secret for ControllerExpand.
  nodeExpandSecretRef SecretReference : Secret for NodeExpand.

SecretReference atomic : A secret in any namespace.
  name string : Name.
  namespace string : Namespace.

VolumeNodeAffinity : Nodes a volume is reachable from.
  required NodeSelector : Nodes that can access the volume.

PersistentVolumeStatus : Observed state of a persistent volume.
  phase string : Pending, Available, Bound, Released or Failed.
  message string : Details.
  reason string : CamelCase reason.
  lastPhaseTransitionTime Time : Last phase change.

PersistentVolumeClaim gvk=v1 list : A user's request for storage.
  metadata ObjectMeta : Standard object metadata.
  spec PersistentVolumeClaimSpec : Desired storage.
  status PersistentVolumeClaimStatus : Observed state.

PersistentVolumeClaimSpec : Desired characteristics of a volume.
  accessModes []string atomic : Desired access modes.
  selector LabelSelector : Label query over volumes to bind to.
  resources VolumeResourceRequirements : Minimum resources, e.g. requests.storage.
  volumeName string : Binding to a specific PersistentVolume.
  storageClassName string : StorageClass to provision from.
  volumeMode string : Filesystem (default) or Block.
  dataSource TypedLocalObjectReference : Populate from a snapshot or another claim.
  dataSourceRef TypedObjectReference : Populate from any populator object.
  volumeAttributesClassName string : VolumeAttributesClass to use.

VolumeResourceRequirements : Storage requests and limits.
  limits map[Quantity] : Maximum resources.
  requests map[Quantity] : Minimum resources.

TypedLocalObjectReference atomic : A typed reference in the same namespace.
  apiGroup string : Group of the referent.
  kind string req : Kind of the referent.
  name string req : Name of the referent.

TypedObjectReference : A typed reference.
  apiGroup string : Group of the referent.
  kind string req : Kind of the referent.
  name string req : Name of the referent.
  namespace string : Namespace of the referent.

PersistentVolumeClaimStatus : Observed state of a claim.
  phase string : Pending, Bound or Lost.
  accessModes []string atomic : Access modes of the bound volume.
  capacity map[Quantity] : Capacity of the bound volume.
  conditions []PersistentVolumeClaimCondition merge=type map=type : Current conditions.
  allocatedResources map[Quantity] : Resources allocated to the claim.
  allocatedResourceStatuses map[string] granular : Resize state per resource.
  currentVolumeAttributesClassName string : Current VolumeAttributesClass.
  modifyVolumeStatus ModifyVolumeStatus : State of a modify operation.

PersistentVolumeClaimCondition : A claim condition.
  type string req : Condition type.
  status string req : True, False or Unknown.
  lastProbeTime Time : Last probe.
  lastTransitionTime Time : Last status change.
  reason string : CamelCase reason.
  message string : Details.

ModifyVolumeStatus : A volume modification.
  targetVolumeAttributesClassName string : Target class.
  status string req : Pending, InProgress or Infeasible.
)";

}  // namespace berth::kinds::schemas
