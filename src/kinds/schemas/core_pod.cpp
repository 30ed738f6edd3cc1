// Schemas of the Pod and everything a pod template can hold. Kept complete:
// strict field validation rejects any field missing here, and real manifests
// use a wide range of them. Rarely used legacy volume plugins are modelled as
// free-form objects so they still pass.
#include "kinds/schemas/schemas.h"

namespace berth::kinds::schemas {

const std::string_view kCorePod = R"(
package io.k8s.api.core.v1

Pod gvk=v1 list : A group of containers scheduled together onto one node, sharing network and storage.
  metadata ObjectMeta : Standard object metadata.
  spec PodSpec : Desired behavior of the pod.
  status PodStatus : Most recently observed state of the pod; written by the system.

PodTemplateSpec : Describes the pods a controller creates.
  metadata ObjectMeta : Metadata given to created pods; labels must match the owner's selector.
  spec PodSpec : Desired behavior of created pods.

PodSpec : Specification of a pod: its containers, volumes and scheduling constraints.
  volumes []Volume mergeretain=name map=name : Volumes that containers of the pod can mount.
  initContainers []Container merge=name map=name : Containers run to completion, in order, before the app containers start.
  containers []Container req merge=name map=name : The application containers. At least one is required.
  ephemeralContainers []EphemeralContainer merge=name map=name : Debugging containers added to a running pod.
  restartPolicy string : Always (default), OnFailure or Never.
  terminationGracePeriodSeconds int64 : Seconds between the termination signal and the forced kill. Defaults to 30.
  activeDeadlineSeconds int64 : Seconds the pod may be active before the system fails it.
  dnsPolicy string : ClusterFirst (default), ClusterFirstWithHostNet, Default or None.
  nodeSelector map[string] atomic : Labels a node must carry for the pod to be scheduled onto it.
  serviceAccountName string : Name of the ServiceAccount the pod runs as.
  serviceAccount string : Deprecated alias of serviceAccountName.
  automountServiceAccountToken boolean : Whether a service account token is mounted automatically.
  nodeName string : Node the pod is bound to; set by the scheduler or directly to bypass it.
  hostNetwork boolean : Use the node's network namespace.
  hostPID boolean : Use the node's PID namespace.
  hostIPC boolean : Use the node's IPC namespace.
  shareProcessNamespace boolean : All containers share one PID namespace.
  securityContext PodSecurityContext : Pod-level security attributes and common container settings.
  imagePullSecrets []LocalObjectReference merge=name map=name : Secrets used to pull the images.
  hostname string : Hostname of the pod; defaults to the pod name.
  subdomain string : With a headless service, gives the pod the FQDN <hostname>.<subdomain>.<ns>.svc.
  affinity Affinity : Node and inter-pod scheduling constraints.
  schedulerName string : Scheduler responsible for the pod. Defaults to default-scheduler.
  tolerations []Toleration atomic : Taints the pod tolerates.
  hostAliases []HostAlias merge=ip map=ip : Extra /etc/hosts entries.
  priorityClassName string : Name of a PriorityClass giving the pod's priority.
  priority int32 : Resolved priority value (set from priorityClassName by admission).
  dnsConfig PodDNSConfig : DNS parameters merged with those from dnsPolicy.
  readinessGates []PodReadinessGate atomic : Extra conditions required for readiness.
  runtimeClassName string : RuntimeClass used to run the pod.
  enableServiceLinks boolean : Inject service environment variables (docker links style). Defaults to true.
  preemptionPolicy string : Never or PreemptLowerPriority.
  overhead map[Quantity] : Resources consumed by the pod sandbox itself.
  topologySpreadConstraints []TopologySpreadConstraint merge=topologyKey map=topologyKey,whenUnsatisfiable : How pods spread across topology domains.
  setHostnameAsFQDN boolean : Set the kernel hostname to the FQDN.
  os PodOS : Operating system the pod's containers need.
  hostUsers boolean : Use the host user namespace (default true); false enables a user namespace.
  schedulingGates []PodSchedulingGate merge=name map=name : Gates that block scheduling while present.
  resourceClaims []PodResourceClaim mergeretain=name map=name : Dynamic resource claims the pod uses.
  resources ResourceRequirements : Pod-level resource requests and limits.

Container : A single application container in a pod.
  name string req : DNS label naming the container, unique within the pod.
  image string : Container image reference.
  command []string atomic : Entrypoint array (not run in a shell); replaces the image ENTRYPOINT.
  args []string atomic : Arguments to the entrypoint; replace the image CMD.
  workingDir string : Working directory; defaults to the image's.
  ports []ContainerPort merge=containerPort map=containerPort,protocol : Ports exposed by the container (informational).
  envFrom []EnvFromSource atomic : Sources of environment variables (all keys of a ConfigMap or Secret).
  env []EnvVar merge=name map=name : Environment variables.
  resources ResourceRequirements : Compute resources requested and limited.
  resizePolicy []ContainerResizePolicy atomic : How resources are resized in place.
  restartPolicy string : For init containers only: Always makes it a sidecar.
  volumeMounts []VolumeMount merge=mountPath map=mountPath : Volumes mounted into the container's filesystem.
  volumeDevices []VolumeDevice merge=devicePath map=devicePath : Block devices exposed to the container.
  livenessProbe Probe : Periodic check; the container restarts when it fails.
  readinessProbe Probe : Periodic check; the pod leaves service endpoints while it fails.
  startupProbe Probe : Holds off other probes until the container has started.
  lifecycle Lifecycle : Hooks run after start and before stop.
  terminationMessagePath string : File whose contents become the termination message. Defaults to /dev/termination-log.
  terminationMessagePolicy string : File (default) or FallbackToLogsOnError.
  imagePullPolicy string : Always, Never or IfNotPresent. Defaults to Always for :latest or untagged images, IfNotPresent otherwise.
  securityContext SecurityContext : Security options of the container.
  stdin boolean : Allocate a stdin buffer.
  stdinOnce boolean : Close stdin after the first attach session.
  tty boolean : Allocate a TTY.

EphemeralContainer : A temporary container added to a running pod for debugging.
  name string req : Name, unique among all containers of the pod.
  targetContainerName string : Container whose namespaces this one joins.
  image string : Container image reference.
  command []string atomic : Entrypoint array.
  args []string atomic : Arguments to the entrypoint.
  workingDir string : Working directory.
  ports []ContainerPort merge=containerPort map=containerPort,protocol : Not allowed for ephemeral containers.
  envFrom []EnvFromSource atomic : Sources of environment variables.
  env []EnvVar merge=name map=name : Environment variables.
  resources ResourceRequirements : Not allowed for ephemeral containers.
  resizePolicy []ContainerResizePolicy atomic : Not allowed for ephemeral containers.
  restartPolicy string : Not allowed for ephemeral containers.
  volumeMounts []VolumeMount merge=mountPath map=mountPath : Volume mounts.
  volumeDevices []VolumeDevice merge=devicePath map=devicePath : Block devices.
  livenessProbe Probe : Not allowed for ephemeral containers.
  readinessProbe Probe : Not allowed for ephemeral containers.
  startupProbe Probe : Not allowed for ephemeral containers.
  lifecycle Lifecycle : Not allowed for ephemeral containers.
  terminationMessagePath string : Termination message file.
  terminationMessagePolicy string : File or FallbackToLogsOnError.
  imagePullPolicy string : Always, Never or IfNotPresent.
  securityContext SecurityContext : Security options.
  stdin boolean : Allocate stdin.
  stdinOnce boolean : Close stdin after one attach.
  tty boolean : Allocate a TTY.

ContainerPort : A network port of a container.
  name string : IANA_SVC_NAME naming the port, referable from services.
  hostPort int32 : Port exposed on the host.
  containerPort int32 req : Port number on the pod's IP (1-65535).
  protocol string : TCP (default), UDP or SCTP.
  hostIP string : Host IP to bind the host port to.

EnvVar : An environment variable.
  name string req : Variable name.
  value string : Value; $(VAR) references to earlier variables are expanded.
  valueFrom EnvVarSource : Source of the value when value is empty.

EnvVarSource : Where an environment variable's value comes from; exactly one source.
  fieldRef ObjectFieldSelector : A field of the pod, e.g. metadata.name, status.podIP.
  resourceFieldRef ResourceFieldSelector : A resource request or limit of a container.
  configMapKeyRef ConfigMapKeySelector : A key of a ConfigMap.
  secretKeyRef SecretKeySelector : A key of a Secret.

ObjectFieldSelector atomic : Selects a field of the pod.
  apiVersion string : Version the fieldPath is written in. Defaults to v1.
  fieldPath string req : Path of the field.

ResourceFieldSelector atomic : Selects a container resource.
  containerName string : Container name; required for volumes.
  resource string req : limits.cpu, requests.memory, ...
  divisor Quantity : Unit the value is expressed in. Defaults to 1.

ConfigMapKeySelector atomic : Selects a key of a ConfigMap.
  name string : Name of the ConfigMap.
  key string req : The key.
  optional boolean : Whether the ConfigMap or key may be missing.

SecretKeySelector atomic : Selects a key of a Secret.
  name string : Name of the Secret.
  key string req : The key.
  optional boolean : Whether the Secret or key may be missing.

EnvFromSource : A set of ConfigMaps or Secrets to import as environment variables.
  prefix string : Prepended to every key.
  configMapRef ConfigMapEnvSource : The ConfigMap.
  secretRef SecretEnvSource : The Secret.

ConfigMapEnvSource : A ConfigMap whose keys become environment variables.
  name string : Name of the ConfigMap.
  optional boolean : Whether it may be missing.

SecretEnvSource : A Secret whose keys become environment variables.
  name string : Name of the Secret.
  optional boolean : Whether it may be missing.

ResourceRequirements : Compute resource requests and limits.
  limits map[Quantity] : Maximum amount of each resource allowed.
  requests map[Quantity] : Minimum amount of each resource required; defaults to the limits if omitted.
  claims []ResourceClaim map=name : Dynamic resource claims used by the container.

ResourceClaim : A reference to one of the pod's resource claims.
  name string req : Name of an entry in pod.spec.resourceClaims.
  request string : A request within the claim.

ContainerResizePolicy : Resize policy of one resource.
  resourceName string req : cpu or memory.
  restartPolicy string req : NotRequired or RestartContainer.

VolumeMount : Mounts a volume into a container.
  name string req : Name of a pod volume.
  readOnly boolean : Mount read-only.
  recursiveReadOnly string : Disabled, IfPossible or Enabled.
  mountPath string req : Path inside the container; must not contain ':'.
  subPath string : Path within the volume to mount instead of its root.
  mountPropagation string : None, HostToContainer or Bidirectional.
  subPathExpr string : Like subPath, with $(VAR) expansion.

VolumeDevice : Maps a raw block volume into a container.
  name string req : Name of a persistentVolumeClaim volume.
  devicePath string req : Device path inside the container.

Probe : A health check run against a container.
  exec ExecAction : Run a command.
  httpGet HTTPGetAction : Issue an HTTP GET.
  tcpSocket TCPSocketAction : Open a TCP connection.
  grpc GRPCAction : Call the gRPC health service.
  initialDelaySeconds int32 : Delay after start before the first probe.
  timeoutSeconds int32 : Probe timeout. Defaults to 1.
  periodSeconds int32 : Interval between probes. Defaults to 10.
  successThreshold int32 : Consecutive successes to count as healthy. Defaults to 1.
  failureThreshold int32 : Consecutive failures to count as failed. Defaults to 3.
  terminationGracePeriodSeconds int64 : Grace period used when a failing probe kills the container.

ExecAction : A command run inside the container; exit status 0 is success.
  command []string atomic : Command line (not run in a shell).

HTTPGetAction : An HTTP GET request; 200-399 is success.
  path string : Request path.
  port IntOrString req : Port number or name.
  host string : Host to connect to; defaults to the pod IP.
  scheme string : HTTP (default) or HTTPS.
  httpHeaders []HTTPHeader atomic : Extra request headers.

HTTPHeader : An HTTP header.
  name string req : Header name.
  value string req : Header value.

TCPSocketAction : A TCP connection attempt.
  port IntOrString req : Port number or name.
  host string : Host; defaults to the pod IP.

GRPCAction : A gRPC health check.
  port int32 req : Port number.
  service string : Service name passed in the HealthCheckRequest.

SleepAction : Pause for a while.
  seconds int64 req : Seconds to sleep.

Lifecycle : Actions the system takes on container lifecycle events.
  postStart LifecycleHandler : Runs right after the container is created.
  preStop LifecycleHandler : Runs before the container is terminated.
  stopSignal string : Signal used to stop the container.

LifecycleHandler : One lifecycle action; exactly one of its fields.
  exec ExecAction : Run a command.
  httpGet HTTPGetAction : Issue an HTTP GET.
  tcpSocket TCPSocketAction : Deprecated; accepted for compatibility.
  sleep SleepAction : Pause.

SecurityContext : Container-level security settings; they override the pod's.
  capabilities Capabilities : Linux capabilities to add or drop.
  privileged boolean : Run as privileged.
  seLinuxOptions SELinuxOptions : SELinux context.
  windowsOptions WindowsSecurityContextOptions : Windows-specific options.
  runAsUser int64 : UID of the entrypoint process.
  runAsGroup int64 : GID of the entrypoint process.
  runAsNonRoot boolean : Refuse to start as UID 0.
  readOnlyRootFilesystem boolean : Mount the root filesystem read-only.
  allowPrivilegeEscalation boolean : Whether a process may gain more privileges than its parent.
  procMount string : Default or Unmasked.
  seccompProfile SeccompProfile : Seccomp profile.
  appArmorProfile AppArmorProfile : AppArmor profile.

Capabilities : Linux capabilities.
  add []string atomic : Capabilities to add.
  drop []string atomic : Capabilities to drop.

SELinuxOptions : SELinux labels.
  user string : SELinux user.
  role string : SELinux role.
  type string : SELinux type.
  level string : SELinux level.

WindowsSecurityContextOptions : Windows-specific security options.
  gmsaCredentialSpecName string : Name of the GMSA credential spec.
  gmsaCredentialSpec string : Inline GMSA credential spec.
  runAsUserName string : User name of the entrypoint process.
  hostProcess boolean : Run as a host process.

SeccompProfile : A seccomp profile.
  type string req : RuntimeDefault, Unconfined or Localhost.
  localhostProfile string : Profile file path for Localhost.

AppArmorProfile : An AppArmor profile.
  type string req : RuntimeDefault, Unconfined or Localhost.
  localhostProfile string : Profile name for Localhost.

PodSecurityContext : Pod-level security attributes.
  seLinuxOptions SELinuxOptions : SELinux context for all containers.
  windowsOptions WindowsSecurityContextOptions : Windows-specific options.
  runAsUser int64 : Default UID.
  runAsGroup int64 : Default GID.
  runAsNonRoot boolean : Refuse to start containers as UID 0.
  supplementalGroups []int64 atomic : Extra groups of the first process in each container.
  supplementalGroupsPolicy string : Merge or Strict.
  fsGroup int64 : Group owning volumes and added to every container.
  fsGroupChangePolicy string : OnRootMismatch or Always.
  sysctls []Sysctl atomic : Namespaced sysctls to set.
  seccompProfile SeccompProfile : Seccomp profile for all containers.
  appArmorProfile AppArmorProfile : AppArmor profile for all containers.
  seLinuxChangePolicy string : MountOption or Recursive.

Sysctl : A kernel parameter.
  name string req : Name.
  value string req : Value.

Affinity : Scheduling constraints.
  nodeAffinity NodeAffinity : Constraints on nodes.
  podAffinity PodAffinity : Co-locate with matching pods.
  podAntiAffinity PodAntiAffinity : Keep away from matching pods.

NodeAffinity : Node affinity rules.
  requiredDuringSchedulingIgnoredDuringExecution NodeSelector : Hard requirement at scheduling time.
  preferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm atomic : Weighted preferences.

NodeSelector atomic : A union of node selector terms.
  nodeSelectorTerms []NodeSelectorTerm req atomic : Terms, ORed.

NodeSelectorTerm atomic : Requirements, ANDed.
  matchExpressions []NodeSelectorRequirement atomic : Requirements on node labels.
  matchFields []NodeSelectorRequirement atomic : Requirements on node fields.

NodeSelectorRequirement : One requirement on a node label or field.
  key string req : Label key or field name.
  operator string req : In, NotIn, Exists, DoesNotExist, Gt or Lt.
  values []string atomic : Values for the operator.

PreferredSchedulingTerm : A weighted node preference.
  weight int32 req : Weight, 1-100.
  preference NodeSelectorTerm req : The node selector term.

PodAffinity : Inter-pod affinity rules.
  requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm atomic : Hard requirements.
  preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm atomic : Weighted preferences.

PodAntiAffinity : Inter-pod anti-affinity rules.
  requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm atomic : Hard requirements.
  preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm atomic : Weighted preferences.

PodAffinityTerm : Pods matched by the selector in the given namespaces, within a topology domain.
  labelSelector LabelSelector : Selects the pods.
  namespaces []string atomic : Namespaces to look in; defaults to the pod's own.
  topologyKey string req : Node label defining the topology domain.
  namespaceSelector LabelSelector : Selects namespaces to look in.
  matchLabelKeys []string atomic : Pod label keys merged into the selector with the incoming pod's values.
  mismatchLabelKeys []string atomic : Pod label keys merged as NotIn requirements.

WeightedPodAffinityTerm : A weighted pod affinity term.
  weight int32 req : Weight, 1-100.
  podAffinityTerm PodAffinityTerm req : The term.

Toleration : Lets the pod schedule onto nodes with a matching taint.
  key string : Taint key; empty with Exists matches everything.
  operator string : Exists or Equal (default).
  value string : Taint value for Equal.
  effect string : NoSchedule, PreferNoSchedule or NoExecute; empty matches all.
  tolerationSeconds int64 : For NoExecute, how long the pod stays bound after the taint appears.

HostAlias : An /etc/hosts entry.
  ip string req : IP address.
  hostnames []string atomic : Host names for the IP.

PodDNSConfig : Custom DNS settings.
  nameservers []string atomic : DNS server IPs.
  searches []string atomic : Search domains.
  options []PodDNSConfigOption atomic : Resolver options.

PodDNSConfigOption : A resolver option.
  name string : Option name.
  value string : Option value.

PodReadinessGate : An extra condition for pod readiness.
  conditionType string req : A condition type in the pod's conditions.

TopologySpreadConstraint : Spread matching pods across a topology.
  maxSkew int32 req : Maximum allowed difference in matching pods between domains.
  topologyKey string req : Node label defining domains.
  whenUnsatisfiable string req : DoNotSchedule or ScheduleAnyway.
  labelSelector LabelSelector : Pods counted for the spread.
  minDomains int32 : Minimum number of eligible domains.
  nodeAffinityPolicy string : Honor or Ignore.
  nodeTaintsPolicy string : Honor or Ignore.
  matchLabelKeys []string atomic : Pod label keys added to the selector with the incoming pod's values.

PodOS : Operating system of the pod.
  name string req : linux or windows.

PodSchedulingGate : Blocks scheduling while present.
  name string req : Gate name.

PodResourceClaim : A dynamic resource claim used by the pod.
  name string req : Name of the claim within the pod.
  resourceClaimName string : An existing ResourceClaim.
  resourceClaimTemplateName string : A ResourceClaimTemplate to instantiate.

LocalObjectReference atomic : A reference to an object in the same namespace.
  name string : Name of the referent.

Volume : A named volume that containers of the pod can mount.
  name string req : DNS label, unique within the pod.
  hostPath HostPathVolumeSource : A file or directory on the node.
  emptyDir EmptyDirVolumeSource : A scratch directory that lives as long as the pod.
  secret SecretVolumeSource : The keys of a Secret as files.
  configMap ConfigMapVolumeSource : The keys of a ConfigMap as files.
  persistentVolumeClaim PersistentVolumeClaimVolumeSource : A PersistentVolumeClaim in the same namespace.
  projected ProjectedVolumeSource : Several sources projected into one directory.
  downwardAPI DownwardAPIVolumeSource : Pod fields as files.
  csi CSIVolumeSource : An ephemeral volume from a CSI driver.
  ephemeral EphemeralVolumeSource : A volume provisioned per pod from a claim template.
  nfs NFSVolumeSource : An NFS export.
  image ImageVolumeSource : The contents of an OCI image.
  gcePersistentDisk object : GCE persistent disk (legacy in-tree plugin).
  awsElasticBlockStore object : AWS EBS volume (legacy in-tree plugin).
  gitRepo object : Deprecated git repository checkout.
  iscsi object : iSCSI disk.
  glusterfs object : GlusterFS mount (removed plugin).
  rbd object : Ceph RBD image.
  flexVolume object : A FlexVolume driver.
  cinder object : OpenStack Cinder volume.
  cephfs object : CephFS mount.
  flocker object : Flocker volume.
  fc object : Fibre Channel volume.
  azureFile object : Azure File share.
  azureDisk object : Azure data disk.
  vsphereVolume object : vSphere volume.
  quobyte object : Quobyte mount.
  photonPersistentDisk object : Photon disk.
  portworxVolume object : Portworx volume.
  scaleIO object : ScaleIO volume.
  storageos object : StorageOS volume.

HostPathVolumeSource : A path on the node.
  path string req : Path on the host; symlinks are followed.
  type string : "", DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice or BlockDevice.

EmptyDirVolumeSource : An empty directory created with the pod.
  medium string : "" (node storage) or Memory (tmpfs).
  sizeLimit Quantity : Maximum size.

SecretVolumeSource : A Secret projected as files.
  secretName string : Name of the Secret.
  items []KeyToPath atomic : Keys to project and their paths; all keys if empty.
  defaultMode int32 : Permission bits for the files. Defaults to 0644.
  optional boolean : Whether the Secret may be missing.

ConfigMapVolumeSource : A ConfigMap projected as files.
  name string : Name of the ConfigMap.
  items []KeyToPath atomic : Keys to project and their paths; all keys if empty.
  defaultMode int32 : Permission bits for the files. Defaults to 0644.
  optional boolean : Whether the ConfigMap may be missing.

KeyToPath : Maps a key to a relative file path.
  key string req : The key.
  path string req : Relative path; no '..' element.
  mode int32 : Permission bits for this file.

PersistentVolumeClaimVolumeSource : Mounts the volume bound to a claim.
  claimName string req : Name of the PersistentVolumeClaim.
  readOnly boolean : Mount read-only.

ProjectedVolumeSource : Several volume sources in one directory.
  sources []VolumeProjection atomic : The projections.
  defaultMode int32 : Permission bits for the files. Defaults to 0644.

VolumeProjection : One projection; exactly one field.
  secret SecretProjection : Keys of a Secret.
  configMap ConfigMapProjection : Keys of a ConfigMap.
  downwardAPI DownwardAPIProjection : Pod fields.
  serviceAccountToken ServiceAccountTokenProjection : A bound service account token.
  clusterTrustBundle ClusterTrustBundleProjection : Certificates of ClusterTrustBundles.

SecretProjection : Keys of a Secret in a projected volume.
  name string : Name of the Secret.
  items []KeyToPath atomic : Keys to project.
  optional boolean : Whether the Secret may be missing.

ConfigMapProjection : Keys of a ConfigMap in a projected volume.
  name string : Name of the ConfigMap.
  items []KeyToPath atomic : Keys to project.
  optional boolean : Whether the ConfigMap may be missing.

DownwardAPIProjection : Pod fields in a projected volume.
  items []DownwardAPIVolumeFile atomic : The files.

ServiceAccountTokenProjection : A service account token file.
  audience string : Intended audience of the token.
  expirationSeconds int64 : Requested lifetime. Defaults to 3600.
  path string req : File path relative to the mount point.

ClusterTrustBundleProjection : Certificates from ClusterTrustBundles.
  name string : A bundle by name.
  signerName string : Bundles by signer.
  labelSelector LabelSelector : Bundles by label.
  optional boolean : Whether missing bundles are tolerated.
  path string req : File path relative to the mount point.

DownwardAPIVolumeSource : Pod fields as files.
  items []DownwardAPIVolumeFile atomic : The files.
  defaultMode int32 : Permission bits. Defaults to 0644.

DownwardAPIVolumeFile : One downward API file.
  path string req : Relative path.
  fieldRef ObjectFieldSelector : A pod field (metadata.name, metadata.labels, ...).
  resourceFieldRef ResourceFieldSelector : A container resource.
  mode int32 : Permission bits.

CSIVolumeSource : An inline CSI volume.
  driver string req : CSI driver name.
  readOnly boolean : Mount read-only.
  fsType string : Filesystem type.
  volumeAttributes map[string] : Driver-specific attributes.
  nodePublishSecretRef LocalObjectReference : Secret passed to the driver.

EphemeralVolumeSource : A per-pod volume from a claim template.
  volumeClaimTemplate PersistentVolumeClaimTemplate : Template of the claim created with the pod.

PersistentVolumeClaimTemplate : Template of a PersistentVolumeClaim.
  metadata ObjectMeta : Labels and annotations of the claim.
  spec PersistentVolumeClaimSpec req : Spec of the claim.

NFSVolumeSource : An NFS mount.
  server string req : Server hostname or IP.
  path string req : Exported path.
  readOnly boolean : Mount read-only.

ImageVolumeSource : An OCI image or artifact mounted read-only.
  reference string : Image reference.
  pullPolicy string : Always, Never or IfNotPresent.

PodStatus : Observed state of a pod.
  observedGeneration int64 : Generation the status reflects.
  phase string : Pending, Running, Succeeded, Failed or Unknown.
  conditions []PodCondition merge=type map=type : Current service state (PodScheduled, Initialized, ContainersReady, Ready).
  message string : Human-readable reason for the current state.
  reason string : Brief CamelCase reason, e.g. Evicted.
  nominatedNodeName string : Node the pod may run on after preemption.
  hostIP string : IP of the node the pod runs on.
  hostIPs []HostIP atomic : IPs of the node.
  podIP string : IP address of the pod.
  podIPs []PodIP merge=ip map=ip : IP addresses of the pod.
  startTime Time : When the kubelet acknowledged the pod.
  initContainerStatuses []ContainerStatus atomic : Status of each init container.
  containerStatuses []ContainerStatus atomic : Status of each container.
  qosClass string : Guaranteed, Burstable or BestEffort.
  ephemeralContainerStatuses []ContainerStatus atomic : Status of each ephemeral container.
  resize string : State of an in-place resize.
  resourceClaimStatuses []PodResourceClaimStatus mergeretain=name map=name : Generated claim names.

PodCondition : A condition of a pod.
  type string req : The condition type.
  observedGeneration int64 : Generation the condition reflects.
  status string req : True, False or Unknown.
  lastProbeTime Time : Last probe time.
  lastTransitionTime Time : Last status change.
  reason string : CamelCase reason.
  message string : Human-readable details.

HostIP : A node IP.
  ip string req : The address.

PodIP : A pod IP.
  ip string req : The address.

PodResourceClaimStatus : The ResourceClaim generated for a pod claim.
  name string req : Name of the pod's claim entry.
  resourceClaimName string : Generated claim name.

ContainerStatus : Observed state of one container.
  name string req : Container name.
  state ContainerState : Current state.
  lastState ContainerState : State of the previous termination.
  ready boolean req : Whether the readiness probe passes.
  restartCount int32 req : Number of restarts.
  image string req : Image the container runs.
  imageID string req : Resolved image ID.
  containerID string : Runtime-specific container ID.
  started boolean : Whether the startup probe passed.
  allocatedResources map[Quantity] : Resources allocated by the node.
  resources ResourceRequirements : Resources currently applied.
  volumeMounts []VolumeMountStatus merge=mountPath map=mountPath : Mount status.
  user ContainerUser : Identity of the first process.
  allocatedResourcesStatus []ResourceStatus merge=name map=name : Health of allocated resources.
  stopSignal string : Effective stop signal.

ContainerState : Exactly one of waiting, running, terminated.
  waiting ContainerStateWaiting : Not yet running.
  running ContainerStateRunning : Running.
  terminated ContainerStateTerminated : Exited.

ContainerStateWaiting : A waiting container.
  reason string : Why it is waiting, e.g. ContainerCreating, ImagePullBackOff, CrashLoopBackOff.
  message string : Details.

ContainerStateRunning : A running container.
  startedAt Time : When it (re)started.

ContainerStateTerminated : An exited container.
  exitCode int32 req : Exit status.
  signal int32 : Terminating signal.
  reason string : Brief reason, e.g. Completed, Error, OOMKilled.
  message string : Details.
  startedAt Time : Start time of the run.
  finishedAt Time : End time of the run.
  containerID string : Container ID.

VolumeMountStatus : Status of a mount.
  name string req : Volume name.
  mountPath string req : Mount path.
  readOnly boolean : Read-only.
  recursiveReadOnly string : Recursive read-only state.

ContainerUser : The identity of a container's process.
  linux LinuxContainerUser : Linux identity.

LinuxContainerUser : A Linux process identity.
  uid int64 req : User ID.
  gid int64 req : Group ID.
  supplementalGroups []int64 atomic : Supplemental groups.

ResourceStatus : Health of a resource.
  name string req : Resource name.
  resources []ResourceHealth map=resourceID : Per-device health.

ResourceHealth : Health of one device.
  resourceID string req : Device ID.
  health string : Healthy, Unhealthy or Unknown.
)";

}  // namespace berth::kinds::schemas
