#include "api/protobuf.h"
#include "core/strings.h"

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/ids.h"

namespace berth {
namespace {

// ---------------------------------------------------------------------------
// Schema model
//
// The tables below are written by hand from k8s.io/api and
// k8s.io/apimachinery generated.proto (cross-checked against the descriptors
// compiled into kubectl 1.32). Proto field names equal the JSON names there,
// except where noted.
//
// Besides the field number and JSON name, each field records whether Go's
// encoding/json would print a zero value. gogo-protobuf always writes non-pointer
// scalars (so an empty ObjectMeta carries generateName "", generation 0, ...),
// while encoding/json drops them when the field is `omitempty`. Keeping those
// zeros would turn `"namespace": ""` or `"resourceVersion": ""` into fields a
// handler believes the client set. Fields that are Go pointers (replicas,
// immutable, ...) or lack omitempty (containerPort, port, name, ...) are marked
// kKeep so that an explicit zero (`--replicas=0`) survives.
// ---------------------------------------------------------------------------

enum class Type : uint8_t {
  kString,
  kBytes,  // JSON: standard base64, as Go encodes []byte
  kBool,
  kInt32,
  kInt64,  // JSON number, as Go prints int64 (not the proto3 JSON string form)
  kMessage,
  // Messages with a custom JSON form:
  kTime,         // metav1.Time {1: seconds, 2: nanos} -> RFC 3339, null if unset
  kDuration,     // metav1.Duration {1: nanoseconds} -> Go duration string
  kIntOrString,  // intstr.IntOrString {1: type, 2: intVal, 3: strVal}
  kQuantity,     // resource.Quantity {1: canonical string}
};

enum Flags : uint8_t {
  kRepeated = 1,
  kMap = 2,     // map<string, type>: repeated entry messages {1: key, 2: value}
  kInline = 4,  // Go `json:",inline"`: the message's fields land in the parent
  kKeep = 8,    // print zero values (pointer or non-omitempty Go field)
};

struct Message;

struct Field {
  uint32_t number;
  std::string_view json;
  Type type;
  uint8_t flags;
  std::string_view message;  // schema name for kMessage values
};

struct Message {
  std::string_view name;
  std::vector<Field> fields;

  const Field* Find(uint32_t number) const {
    // Messages have at most ~40 fields; a linear scan beats hashing here.
    for (const Field& f : fields) {
      if (f.number == number) return &f;
    }
    return nullptr;
  }
};

Field Str(uint32_t n, std::string_view j, uint8_t f = 0) { return {n, j, Type::kString, f, {}}; }
Field Strs(uint32_t n, std::string_view j) { return {n, j, Type::kString, kRepeated, {}}; }
Field Bool(uint32_t n, std::string_view j, uint8_t f = 0) { return {n, j, Type::kBool, f, {}}; }
Field I32(uint32_t n, std::string_view j, uint8_t f = 0) { return {n, j, Type::kInt32, f, {}}; }
Field I64(uint32_t n, std::string_view j, uint8_t f = 0) { return {n, j, Type::kInt64, f, {}}; }
Field I64s(uint32_t n, std::string_view j) { return {n, j, Type::kInt64, kRepeated, {}}; }
Field Time(uint32_t n, std::string_view j) { return {n, j, Type::kTime, 0, {}}; }
// No covered kind has a metav1.Duration field today (it appears in e.g.
// coordination and flowcontrol types); the decoder supports it for when one does.
[[maybe_unused]] Field Dur(uint32_t n, std::string_view j) {
  return {n, j, Type::kDuration, 0, {}};
}
Field IntStr(uint32_t n, std::string_view j) { return {n, j, Type::kIntOrString, 0, {}}; }
Field Qty(uint32_t n, std::string_view j) { return {n, j, Type::kQuantity, 0, {}}; }
Field Msg(uint32_t n, std::string_view j, std::string_view m) {
  return {n, j, Type::kMessage, 0, m};
}
Field Msgs(uint32_t n, std::string_view j, std::string_view m) {
  return {n, j, Type::kMessage, kRepeated, m};
}
Field Inline(uint32_t n, std::string_view m) { return {n, {}, Type::kMessage, kInline, m}; }
Field StrMap(uint32_t n, std::string_view j) { return {n, j, Type::kString, kMap, {}}; }
Field BytesMap(uint32_t n, std::string_view j) { return {n, j, Type::kBytes, kMap, {}}; }
Field QtyMap(uint32_t n, std::string_view j) { return {n, j, Type::kQuantity, kMap, {}}; }
Field TimeMap(uint32_t n, std::string_view j) { return {n, j, Type::kTime, kMap, {}}; }

// Object messages share this shape: {1: metadata, 2: spec, 3: status}.
Message Object(std::string_view name, std::string_view spec, std::string_view status) {
  return {
      name,
      {Msg(1, "metadata", "meta.v1.ObjectMeta"), Msg(2, "spec", spec), Msg(3, "status", status)}};
}

std::vector<Message> BuildMessages() {
  return {
      // ---- k8s.io/apimachinery/pkg/apis/meta/v1 ----
      {"meta.v1.ObjectMeta",
       {Str(1, "name"), Str(2, "generateName"), Str(3, "namespace"), Str(4, "selfLink"),
        Str(5, "uid"), Str(6, "resourceVersion"), I64(7, "generation"),
        Time(8, "creationTimestamp"), Time(9, "deletionTimestamp"),
        I64(10, "deletionGracePeriodSeconds", kKeep), StrMap(11, "labels"),
        StrMap(12, "annotations"), Msgs(13, "ownerReferences", "meta.v1.OwnerReference"),
        Strs(14, "finalizers")}},
      // managedFields (17) is deliberately absent: clients do not send it on create and
      // its fieldsV1 payload is opaque JSON bytes.
      {"meta.v1.OwnerReference",
       {Str(5, "apiVersion", kKeep), Str(1, "kind", kKeep), Str(3, "name", kKeep),
        Str(4, "uid", kKeep), Bool(6, "controller", kKeep), Bool(7, "blockOwnerDeletion", kKeep)}},
      {"meta.v1.LabelSelector",
       {StrMap(1, "matchLabels"), Msgs(2, "matchExpressions", "meta.v1.LabelSelectorRequirement")}},
      {"meta.v1.LabelSelectorRequirement",
       {Str(1, "key", kKeep), Str(2, "operator", kKeep), Strs(3, "values")}},
      {"meta.v1.Condition",
       {Str(1, "type", kKeep), Str(2, "status", kKeep), I64(3, "observedGeneration"),
        Time(4, "lastTransitionTime"), Str(5, "reason", kKeep), Str(6, "message", kKeep)}},

      // ---- core/v1: namespaced config objects ----
      Object("core.v1.Namespace", "core.v1.NamespaceSpec", "core.v1.NamespaceStatus"),
      {"core.v1.NamespaceSpec", {Strs(1, "finalizers")}},
      {"core.v1.NamespaceStatus",
       {Str(1, "phase"), Msgs(2, "conditions", "core.v1.NamespaceCondition")}},
      {"core.v1.NamespaceCondition",
       {Str(1, "type", kKeep), Str(2, "status", kKeep), Time(4, "lastTransitionTime"),
        Str(5, "reason"), Str(6, "message")}},
      {"core.v1.ConfigMap",
       {Msg(1, "metadata", "meta.v1.ObjectMeta"), Bool(4, "immutable", kKeep), StrMap(2, "data"),
        BytesMap(3, "binaryData")}},
      {"core.v1.Secret",
       {Msg(1, "metadata", "meta.v1.ObjectMeta"), Bool(5, "immutable", kKeep), BytesMap(2, "data"),
        StrMap(4, "stringData"), Str(3, "type")}},
      {"core.v1.ServiceAccount",
       {Msg(1, "metadata", "meta.v1.ObjectMeta"), Msgs(2, "secrets", "core.v1.ObjectReference"),
        Msgs(3, "imagePullSecrets", "core.v1.LocalObjectReference"),
        Bool(4, "automountServiceAccountToken", kKeep)}},
      {"core.v1.ObjectReference",
       {Str(1, "kind"), Str(2, "namespace"), Str(3, "name"), Str(4, "uid"), Str(5, "apiVersion"),
        Str(6, "resourceVersion"), Str(7, "fieldPath")}},
      {"core.v1.LocalObjectReference", {Str(1, "name")}},
      {"core.v1.TypedLocalObjectReference",
       {Str(1, "apiGroup", kKeep), Str(2, "kind", kKeep), Str(3, "name", kKeep)}},
      Object("core.v1.ResourceQuota", "core.v1.ResourceQuotaSpec", "core.v1.ResourceQuotaStatus"),
      {"core.v1.ResourceQuotaSpec",
       {QtyMap(1, "hard"), Strs(2, "scopes"), Msg(3, "scopeSelector", "core.v1.ScopeSelector")}},
      {"core.v1.ResourceQuotaStatus", {QtyMap(1, "hard"), QtyMap(2, "used")}},
      {"core.v1.ScopeSelector",
       {Msgs(1, "matchExpressions", "core.v1.ScopedResourceSelectorRequirement")}},
      {"core.v1.ScopedResourceSelectorRequirement",
       {Str(1, "scopeName", kKeep), Str(2, "operator", kKeep), Strs(3, "values")}},

      // ---- core/v1: Service ----
      Object("core.v1.Service", "core.v1.ServiceSpec", "core.v1.ServiceStatus"),
      {"core.v1.ServiceSpec",
       {Msgs(1, "ports", "core.v1.ServicePort"),
        StrMap(2, "selector"),
        Str(3, "clusterIP"),
        Strs(18, "clusterIPs"),
        Str(4, "type"),
        Strs(5, "externalIPs"),
        Str(7, "sessionAffinity"),
        Str(8, "loadBalancerIP"),
        Strs(9, "loadBalancerSourceRanges"),
        Str(10, "externalName"),
        Str(11, "externalTrafficPolicy"),
        I32(12, "healthCheckNodePort"),
        Bool(13, "publishNotReadyAddresses"),
        Msg(14, "sessionAffinityConfig", "core.v1.SessionAffinityConfig"),
        Strs(19, "ipFamilies"),
        Str(17, "ipFamilyPolicy", kKeep),
        Bool(20, "allocateLoadBalancerNodePorts", kKeep),
        Str(21, "loadBalancerClass", kKeep),
        Str(22, "internalTrafficPolicy", kKeep),
        Str(23, "trafficDistribution", kKeep)}},
      {"core.v1.ServicePort",
       {Str(1, "name"), Str(2, "protocol"), Str(6, "appProtocol", kKeep), I32(3, "port", kKeep),
        IntStr(4, "targetPort"), I32(5, "nodePort")}},
      {"core.v1.SessionAffinityConfig", {Msg(1, "clientIP", "core.v1.ClientIPConfig")}},
      {"core.v1.ClientIPConfig", {I32(1, "timeoutSeconds", kKeep)}},
      {"core.v1.ServiceStatus",
       {Msg(1, "loadBalancer", "core.v1.LoadBalancerStatus"),
        Msgs(2, "conditions", "meta.v1.Condition")}},
      {"core.v1.LoadBalancerStatus", {Msgs(1, "ingress", "core.v1.LoadBalancerIngress")}},
      {"core.v1.LoadBalancerIngress",
       {Str(1, "ip"), Str(2, "hostname"), Str(3, "ipMode", kKeep),
        Msgs(4, "ports", "core.v1.PortStatus")}},
      {"core.v1.PortStatus",
       {I32(1, "port", kKeep), Str(2, "protocol", kKeep), Str(3, "error", kKeep)}},

      // ---- core/v1: pods ----
      Object("core.v1.Pod", "core.v1.PodSpec", "core.v1.PodStatus"),
      {"core.v1.PodTemplateSpec",
       {Msg(1, "metadata", "meta.v1.ObjectMeta"), Msg(2, "spec", "core.v1.PodSpec")}},
      {"core.v1.PodSpec",
       {Msgs(1, "volumes", "core.v1.Volume"),
        Msgs(20, "initContainers", "core.v1.Container"),
        Msgs(2, "containers", "core.v1.Container"),
        Str(3, "restartPolicy"),
        I64(4, "terminationGracePeriodSeconds", kKeep),
        I64(5, "activeDeadlineSeconds", kKeep),
        Str(6, "dnsPolicy"),
        StrMap(7, "nodeSelector"),
        Str(8, "serviceAccountName"),
        Str(9, "serviceAccount"),
        Bool(21, "automountServiceAccountToken", kKeep),
        Str(10, "nodeName"),
        Bool(11, "hostNetwork"),
        Bool(12, "hostPID"),
        Bool(13, "hostIPC"),
        Bool(27, "shareProcessNamespace", kKeep),
        Msg(14, "securityContext", "core.v1.PodSecurityContext"),
        Msgs(15, "imagePullSecrets", "core.v1.LocalObjectReference"),
        Str(16, "hostname"),
        Str(17, "subdomain"),
        Str(19, "schedulerName"),
        Msgs(22, "tolerations", "core.v1.Toleration"),
        Msgs(23, "hostAliases", "core.v1.HostAlias"),
        Str(24, "priorityClassName"),
        I32(25, "priority", kKeep),
        Msg(26, "dnsConfig", "core.v1.PodDNSConfig"),
        Msgs(28, "readinessGates", "core.v1.PodReadinessGate"),
        Str(29, "runtimeClassName", kKeep),
        Bool(30, "enableServiceLinks", kKeep),
        Str(31, "preemptionPolicy", kKeep),
        QtyMap(32, "overhead"),
        Msgs(33, "topologySpreadConstraints", "core.v1.TopologySpreadConstraint"),
        Bool(35, "setHostnameAsFQDN", kKeep),
        Msg(36, "os", "core.v1.PodOS"),
        Bool(37, "hostUsers", kKeep),
        Msgs(38, "schedulingGates", "core.v1.PodSchedulingGate"),
        Msg(40, "resources", "core.v1.ResourceRequirements")}},
      // Skipped PodSpec fields: affinity (18), ephemeralContainers (34) and
      // resourceClaims (39); no generator fills them.
      {"core.v1.PodStatus",
       {Str(1, "phase"), Msgs(2, "conditions", "core.v1.PodCondition"), Str(3, "message"),
        Str(4, "reason"), Str(11, "nominatedNodeName"), Str(5, "hostIP"), Str(6, "podIP"),
        Time(7, "startTime"), Str(9, "qosClass")}},
      {"core.v1.PodCondition",
       {Str(1, "type", kKeep), Str(2, "status", kKeep), Time(3, "lastProbeTime"),
        Time(4, "lastTransitionTime"), Str(5, "reason"), Str(6, "message")}},
      {"core.v1.PodOS", {Str(1, "name", kKeep)}},
      {"core.v1.PodSchedulingGate", {Str(1, "name", kKeep)}},
      {"core.v1.PodReadinessGate", {Str(1, "conditionType", kKeep)}},
      {"core.v1.HostAlias", {Str(1, "ip", kKeep), Strs(2, "hostnames")}},
      {"core.v1.PodDNSConfig",
       {Strs(1, "nameservers"), Strs(2, "searches"),
        Msgs(3, "options", "core.v1.PodDNSConfigOption")}},
      {"core.v1.PodDNSConfigOption", {Str(1, "name"), Str(2, "value", kKeep)}},
      {"core.v1.Toleration",
       {Str(1, "key"), Str(2, "operator"), Str(3, "value"), Str(4, "effect"),
        I64(5, "tolerationSeconds", kKeep)}},
      {"core.v1.TopologySpreadConstraint",
       {I32(1, "maxSkew", kKeep), Str(2, "topologyKey", kKeep), Str(3, "whenUnsatisfiable", kKeep),
        Msg(4, "labelSelector", "meta.v1.LabelSelector"), I32(5, "minDomains", kKeep),
        Str(6, "nodeAffinityPolicy", kKeep), Str(7, "nodeTaintsPolicy", kKeep),
        Strs(8, "matchLabelKeys")}},
      {"core.v1.PodSecurityContext",
       {Msg(1, "seLinuxOptions", "core.v1.SELinuxOptions"), I64(2, "runAsUser", kKeep),
        I64(6, "runAsGroup", kKeep), Bool(3, "runAsNonRoot", kKeep), I64s(4, "supplementalGroups"),
        Str(12, "supplementalGroupsPolicy", kKeep), I64(5, "fsGroup", kKeep),
        Msgs(7, "sysctls", "core.v1.Sysctl"), Str(9, "fsGroupChangePolicy", kKeep),
        Msg(10, "seccompProfile", "core.v1.SeccompProfile"),
        Str(13, "seLinuxChangePolicy", kKeep)}},
      {"core.v1.SecurityContext",
       {Msg(1, "capabilities", "core.v1.Capabilities"), Bool(2, "privileged", kKeep),
        Msg(3, "seLinuxOptions", "core.v1.SELinuxOptions"), I64(4, "runAsUser", kKeep),
        I64(8, "runAsGroup", kKeep), Bool(5, "runAsNonRoot", kKeep),
        Bool(6, "readOnlyRootFilesystem", kKeep), Bool(7, "allowPrivilegeEscalation", kKeep),
        Str(9, "procMount", kKeep), Msg(11, "seccompProfile", "core.v1.SeccompProfile")}},
      {"core.v1.Capabilities", {Strs(1, "add"), Strs(2, "drop")}},
      {"core.v1.SELinuxOptions", {Str(1, "user"), Str(2, "role"), Str(3, "type"), Str(4, "level")}},
      {"core.v1.SeccompProfile", {Str(1, "type", kKeep), Str(2, "localhostProfile", kKeep)}},
      {"core.v1.Sysctl", {Str(1, "name", kKeep), Str(2, "value", kKeep)}},
      {"core.v1.Container",
       {Str(1, "name", kKeep),
        Str(2, "image"),
        Strs(3, "command"),
        Strs(4, "args"),
        Str(5, "workingDir"),
        Msgs(6, "ports", "core.v1.ContainerPort"),
        Msgs(19, "envFrom", "core.v1.EnvFromSource"),
        Msgs(7, "env", "core.v1.EnvVar"),
        Msg(8, "resources", "core.v1.ResourceRequirements"),
        Msgs(23, "resizePolicy", "core.v1.ContainerResizePolicy"),
        Str(24, "restartPolicy", kKeep),
        Msgs(9, "volumeMounts", "core.v1.VolumeMount"),
        Msg(10, "livenessProbe", "core.v1.Probe"),
        Msg(11, "readinessProbe", "core.v1.Probe"),
        Msg(22, "startupProbe", "core.v1.Probe"),
        Msg(12, "lifecycle", "core.v1.Lifecycle"),
        Str(13, "terminationMessagePath"),
        Str(20, "terminationMessagePolicy"),
        Str(14, "imagePullPolicy"),
        Msg(15, "securityContext", "core.v1.SecurityContext"),
        Bool(16, "stdin"),
        Bool(17, "stdinOnce"),
        Bool(18, "tty")}},
      // Skipped Container field: volumeDevices (21).
      {"core.v1.ContainerPort",
       {Str(1, "name"), I32(2, "hostPort"), I32(3, "containerPort", kKeep), Str(4, "protocol"),
        Str(5, "hostIP")}},
      {"core.v1.ContainerResizePolicy",
       {Str(1, "resourceName", kKeep), Str(2, "restartPolicy", kKeep)}},
      {"core.v1.EnvVar",
       {Str(1, "name", kKeep), Str(2, "value"), Msg(3, "valueFrom", "core.v1.EnvVarSource")}},
      {"core.v1.EnvVarSource",
       {Msg(1, "fieldRef", "core.v1.ObjectFieldSelector"),
        Msg(2, "resourceFieldRef", "core.v1.ResourceFieldSelector"),
        Msg(3, "configMapKeyRef", "core.v1.ConfigMapKeySelector"),
        Msg(4, "secretKeyRef", "core.v1.SecretKeySelector")}},
      {"core.v1.ObjectFieldSelector", {Str(1, "apiVersion"), Str(2, "fieldPath", kKeep)}},
      {"core.v1.ResourceFieldSelector",
       {Str(1, "containerName"), Str(2, "resource", kKeep), Qty(3, "divisor")}},
      // The *KeySelector / *EnvSource types embed LocalObjectReference inline, so
      // its `name` appears directly in them in JSON.
      {"core.v1.ConfigMapKeySelector",
       {Inline(1, "core.v1.LocalObjectReference"), Str(2, "key", kKeep),
        Bool(3, "optional", kKeep)}},
      {"core.v1.SecretKeySelector",
       {Inline(1, "core.v1.LocalObjectReference"), Str(2, "key", kKeep),
        Bool(3, "optional", kKeep)}},
      {"core.v1.EnvFromSource",
       {Str(1, "prefix"), Msg(2, "configMapRef", "core.v1.ConfigMapEnvSource"),
        Msg(3, "secretRef", "core.v1.SecretEnvSource")}},
      {"core.v1.ConfigMapEnvSource",
       {Inline(1, "core.v1.LocalObjectReference"), Bool(2, "optional", kKeep)}},
      {"core.v1.SecretEnvSource",
       {Inline(1, "core.v1.LocalObjectReference"), Bool(2, "optional", kKeep)}},
      {"core.v1.ResourceRequirements",
       {QtyMap(1, "limits"), QtyMap(2, "requests"), Msgs(3, "claims", "core.v1.ResourceClaim")}},
      {"core.v1.ResourceClaim", {Str(1, "name", kKeep), Str(2, "request")}},
      {"core.v1.VolumeMount",
       {Str(1, "name", kKeep), Bool(2, "readOnly"), Str(7, "recursiveReadOnly", kKeep),
        Str(3, "mountPath", kKeep), Str(4, "subPath"), Str(5, "mountPropagation", kKeep),
        Str(6, "subPathExpr")}},
      {"core.v1.Probe",
       {Inline(1, "core.v1.ProbeHandler"), I32(2, "initialDelaySeconds"), I32(3, "timeoutSeconds"),
        I32(4, "periodSeconds"), I32(5, "successThreshold"), I32(6, "failureThreshold"),
        I64(7, "terminationGracePeriodSeconds", kKeep)}},
      {"core.v1.ProbeHandler",
       {Msg(1, "exec", "core.v1.ExecAction"), Msg(2, "httpGet", "core.v1.HTTPGetAction"),
        Msg(3, "tcpSocket", "core.v1.TCPSocketAction"), Msg(4, "grpc", "core.v1.GRPCAction")}},
      {"core.v1.Lifecycle",
       {Msg(1, "postStart", "core.v1.LifecycleHandler"),
        Msg(2, "preStop", "core.v1.LifecycleHandler")}},
      {"core.v1.LifecycleHandler",
       {Msg(1, "exec", "core.v1.ExecAction"), Msg(2, "httpGet", "core.v1.HTTPGetAction"),
        Msg(3, "tcpSocket", "core.v1.TCPSocketAction"), Msg(4, "sleep", "core.v1.SleepAction")}},
      {"core.v1.ExecAction", {Strs(1, "command")}},
      {"core.v1.HTTPGetAction",
       {Str(1, "path"), IntStr(2, "port"), Str(3, "host"), Str(4, "scheme"),
        Msgs(5, "httpHeaders", "core.v1.HTTPHeader")}},
      {"core.v1.HTTPHeader", {Str(1, "name", kKeep), Str(2, "value", kKeep)}},
      {"core.v1.TCPSocketAction", {IntStr(1, "port"), Str(2, "host")}},
      {"core.v1.GRPCAction", {I32(1, "port", kKeep), Str(2, "service", kKeep)}},
      {"core.v1.SleepAction", {I64(1, "seconds", kKeep)}},
      // Volume embeds VolumeSource inline: {"name": ..., "emptyDir": {...}}.
      {"core.v1.Volume", {Str(1, "name", kKeep), Inline(2, "core.v1.VolumeSource")}},
      {"core.v1.VolumeSource",
       {Msg(1, "hostPath", "core.v1.HostPathVolumeSource"),
        Msg(2, "emptyDir", "core.v1.EmptyDirVolumeSource"),
        Msg(6, "secret", "core.v1.SecretVolumeSource"),
        Msg(10, "persistentVolumeClaim", "core.v1.PersistentVolumeClaimVolumeSource"),
        Msg(16, "downwardAPI", "core.v1.DownwardAPIVolumeSource"),
        Msg(19, "configMap", "core.v1.ConfigMapVolumeSource")}},
      // Other volume sources (cloud disks, projected, csi, ...) are skipped.
      {"core.v1.HostPathVolumeSource", {Str(1, "path", kKeep), Str(2, "type", kKeep)}},
      {"core.v1.EmptyDirVolumeSource", {Str(1, "medium"), Qty(2, "sizeLimit")}},
      {"core.v1.SecretVolumeSource",
       {Str(1, "secretName"), Msgs(2, "items", "core.v1.KeyToPath"), I32(3, "defaultMode", kKeep),
        Bool(4, "optional", kKeep)}},
      {"core.v1.ConfigMapVolumeSource",
       {Inline(1, "core.v1.LocalObjectReference"), Msgs(2, "items", "core.v1.KeyToPath"),
        I32(3, "defaultMode", kKeep), Bool(4, "optional", kKeep)}},
      {"core.v1.PersistentVolumeClaimVolumeSource",
       {Str(1, "claimName", kKeep), Bool(2, "readOnly")}},
      {"core.v1.DownwardAPIVolumeSource",
       {Msgs(1, "items", "core.v1.DownwardAPIVolumeFile"), I32(2, "defaultMode", kKeep)}},
      {"core.v1.DownwardAPIVolumeFile",
       {Str(1, "path", kKeep), Msg(2, "fieldRef", "core.v1.ObjectFieldSelector"),
        Msg(3, "resourceFieldRef", "core.v1.ResourceFieldSelector"), I32(4, "mode", kKeep)}},
      {"core.v1.KeyToPath", {Str(1, "key", kKeep), Str(2, "path", kKeep), I32(3, "mode", kKeep)}},

      // ---- apps/v1 ----
      Object("apps.v1.Deployment", "apps.v1.DeploymentSpec", "apps.v1.DeploymentStatus"),
      {"apps.v1.DeploymentSpec",
       {I32(1, "replicas", kKeep), Msg(2, "selector", "meta.v1.LabelSelector"),
        Msg(3, "template", "core.v1.PodTemplateSpec"),
        Msg(4, "strategy", "apps.v1.DeploymentStrategy"), I32(5, "minReadySeconds"),
        I32(6, "revisionHistoryLimit", kKeep), Bool(7, "paused"),
        I32(9, "progressDeadlineSeconds", kKeep)}},
      {"apps.v1.DeploymentStrategy",
       {Str(1, "type"), Msg(2, "rollingUpdate", "apps.v1.RollingUpdateDeployment")}},
      {"apps.v1.RollingUpdateDeployment", {IntStr(1, "maxUnavailable"), IntStr(2, "maxSurge")}},
      {"apps.v1.DeploymentStatus",
       {I64(1, "observedGeneration"), I32(2, "replicas"), I32(3, "updatedReplicas"),
        I32(7, "readyReplicas"), I32(4, "availableReplicas"), I32(5, "unavailableReplicas"),
        Msgs(6, "conditions", "apps.v1.DeploymentCondition"), I32(8, "collisionCount", kKeep)}},
      {"apps.v1.DeploymentCondition",
       {Str(1, "type", kKeep), Str(2, "status", kKeep), Time(6, "lastUpdateTime"),
        Time(7, "lastTransitionTime"), Str(4, "reason"), Str(5, "message")}},

      // ---- batch/v1 ----
      Object("batch.v1.Job", "batch.v1.JobSpec", "batch.v1.JobStatus"),
      {"batch.v1.JobSpec",
       {I32(1, "parallelism", kKeep), I32(2, "completions", kKeep),
        I64(3, "activeDeadlineSeconds", kKeep), I32(7, "backoffLimit", kKeep),
        I32(12, "backoffLimitPerIndex", kKeep), I32(13, "maxFailedIndexes", kKeep),
        Msg(4, "selector", "meta.v1.LabelSelector"), Bool(5, "manualSelector", kKeep),
        Msg(6, "template", "core.v1.PodTemplateSpec"), I32(8, "ttlSecondsAfterFinished", kKeep),
        Str(9, "completionMode", kKeep), Bool(10, "suspend", kKeep),
        Str(14, "podReplacementPolicy", kKeep), Str(15, "managedBy", kKeep)}},
      // Skipped JobSpec fields: podFailurePolicy (11), successPolicy (16).
      {"batch.v1.JobStatus",
       {Msgs(1, "conditions", "batch.v1.JobCondition"), Time(2, "startTime"),
        Time(3, "completionTime"), I32(4, "active"), I32(5, "succeeded"), I32(6, "failed"),
        I32(11, "terminating", kKeep), Str(7, "completedIndexes"), Str(10, "failedIndexes"),
        Msg(8, "uncountedTerminatedPods", "batch.v1.UncountedTerminatedPods"),
        I32(9, "ready", kKeep)}},
      {"batch.v1.JobCondition",
       {Str(1, "type", kKeep), Str(2, "status", kKeep), Time(3, "lastProbeTime"),
        Time(4, "lastTransitionTime"), Str(5, "reason"), Str(6, "message")}},
      {"batch.v1.UncountedTerminatedPods", {Strs(1, "succeeded"), Strs(2, "failed")}},
      Object("batch.v1.CronJob", "batch.v1.CronJobSpec", "batch.v1.CronJobStatus"),
      {"batch.v1.CronJobSpec",
       {Str(1, "schedule", kKeep), Str(8, "timeZone", kKeep),
        I64(2, "startingDeadlineSeconds", kKeep), Str(3, "concurrencyPolicy"),
        Bool(4, "suspend", kKeep), Msg(5, "jobTemplate", "batch.v1.JobTemplateSpec"),
        I32(6, "successfulJobsHistoryLimit", kKeep), I32(7, "failedJobsHistoryLimit", kKeep)}},
      {"batch.v1.JobTemplateSpec",
       {Msg(1, "metadata", "meta.v1.ObjectMeta"), Msg(2, "spec", "batch.v1.JobSpec")}},
      {"batch.v1.CronJobStatus",
       {Msgs(1, "active", "core.v1.ObjectReference"), Time(4, "lastScheduleTime"),
        Time(5, "lastSuccessfulTime")}},

      // ---- scheduling.k8s.io/v1 ----
      {"scheduling.v1.PriorityClass",
       {Msg(1, "metadata", "meta.v1.ObjectMeta"), I32(2, "value", kKeep), Bool(3, "globalDefault"),
        Str(4, "description"), Str(5, "preemptionPolicy", kKeep)}},

      // ---- policy/v1 ----
      Object("policy.v1.PodDisruptionBudget", "policy.v1.PodDisruptionBudgetSpec",
             "policy.v1.PodDisruptionBudgetStatus"),
      {"policy.v1.PodDisruptionBudgetSpec",
       {IntStr(1, "minAvailable"), Msg(2, "selector", "meta.v1.LabelSelector"),
        IntStr(3, "maxUnavailable"), Str(4, "unhealthyPodEvictionPolicy", kKeep)}},
      {"policy.v1.PodDisruptionBudgetStatus",
       {I64(1, "observedGeneration"), TimeMap(2, "disruptedPods"),
        I32(3, "disruptionsAllowed", kKeep), I32(4, "currentHealthy", kKeep),
        I32(5, "desiredHealthy", kKeep), I32(6, "expectedPods", kKeep),
        Msgs(7, "conditions", "meta.v1.Condition")}},

      // ---- networking.k8s.io/v1 ----
      Object("networking.v1.Ingress", "networking.v1.IngressSpec", "networking.v1.IngressStatus"),
      {"networking.v1.IngressSpec",
       {Str(4, "ingressClassName", kKeep), Msg(1, "defaultBackend", "networking.v1.IngressBackend"),
        Msgs(2, "tls", "networking.v1.IngressTLS"), Msgs(3, "rules", "networking.v1.IngressRule")}},
      // IngressRule embeds IngressRuleValue inline: {"host": ..., "http": {...}}.
      {"networking.v1.IngressRule", {Str(1, "host"), Inline(2, "networking.v1.IngressRuleValue")}},
      {"networking.v1.IngressRuleValue", {Msg(1, "http", "networking.v1.HTTPIngressRuleValue")}},
      {"networking.v1.HTTPIngressRuleValue", {Msgs(1, "paths", "networking.v1.HTTPIngressPath")}},
      {"networking.v1.HTTPIngressPath",
       {Str(1, "path"), Str(3, "pathType", kKeep),
        Msg(2, "backend", "networking.v1.IngressBackend")}},
      {"networking.v1.IngressBackend",
       {Msg(4, "service", "networking.v1.IngressServiceBackend"),
        Msg(3, "resource", "core.v1.TypedLocalObjectReference")}},
      {"networking.v1.IngressServiceBackend",
       {Str(1, "name", kKeep), Msg(2, "port", "networking.v1.ServiceBackendPort")}},
      {"networking.v1.ServiceBackendPort", {Str(1, "name"), I32(2, "number")}},
      {"networking.v1.IngressTLS", {Strs(1, "hosts"), Str(2, "secretName")}},
      {"networking.v1.IngressStatus",
       {Msg(1, "loadBalancer", "networking.v1.IngressLoadBalancerStatus")}},
      {"networking.v1.IngressLoadBalancerStatus",
       {Msgs(1, "ingress", "networking.v1.IngressLoadBalancerIngress")}},
      {"networking.v1.IngressLoadBalancerIngress",
       {Str(1, "ip"), Str(2, "hostname"), Msgs(4, "ports", "networking.v1.IngressPortStatus")}},
      {"networking.v1.IngressPortStatus",
       {I32(1, "port", kKeep), Str(2, "protocol", kKeep), Str(3, "error", kKeep)}},

      // ---- rbac.authorization.k8s.io/v1 ----
      {"rbac.v1.Role",
       {Msg(1, "metadata", "meta.v1.ObjectMeta"), Msgs(2, "rules", "rbac.v1.PolicyRule")}},
      {"rbac.v1.ClusterRole",
       {Msg(1, "metadata", "meta.v1.ObjectMeta"), Msgs(2, "rules", "rbac.v1.PolicyRule"),
        Msg(3, "aggregationRule", "rbac.v1.AggregationRule")}},
      {"rbac.v1.PolicyRule",
       {Strs(1, "verbs"), Strs(2, "apiGroups"), Strs(3, "resources"), Strs(4, "resourceNames"),
        Strs(5, "nonResourceURLs")}},
      {"rbac.v1.AggregationRule", {Msgs(1, "clusterRoleSelectors", "meta.v1.LabelSelector")}},
      {"rbac.v1.RoleBinding",
       {Msg(1, "metadata", "meta.v1.ObjectMeta"), Msgs(2, "subjects", "rbac.v1.Subject"),
        Msg(3, "roleRef", "rbac.v1.RoleRef")}},
      {"rbac.v1.ClusterRoleBinding",
       {Msg(1, "metadata", "meta.v1.ObjectMeta"), Msgs(2, "subjects", "rbac.v1.Subject"),
        Msg(3, "roleRef", "rbac.v1.RoleRef")}},
      {"rbac.v1.Subject",
       {Str(1, "kind", kKeep), Str(2, "apiGroup"), Str(3, "name", kKeep), Str(4, "namespace")}},
      {"rbac.v1.RoleRef",
       {Str(1, "apiGroup", kKeep), Str(2, "kind", kKeep), Str(3, "name", kKeep)}},

      // ---- authentication.k8s.io/v1 (`kubectl create token`) ----
      Object("authentication.v1.TokenRequest", "authentication.v1.TokenRequestSpec",
             "authentication.v1.TokenRequestStatus"),
      {"authentication.v1.TokenRequestSpec",
       {Strs(1, "audiences"), I64(4, "expirationSeconds", kKeep),
        Msg(3, "boundObjectRef", "authentication.v1.BoundObjectReference")}},
      // The proto name of field 4 is "uID"; the JSON name is "uid".
      {"authentication.v1.BoundObjectReference",
       {Str(1, "kind"), Str(2, "apiVersion"), Str(3, "name"), Str(4, "uid")}},
      {"authentication.v1.TokenRequestStatus",
       {Str(1, "token", kKeep), Time(2, "expirationTimestamp")}},
      {"authentication.v1.TokenReview",
       {Msg(1, "metadata", "meta.v1.ObjectMeta"), Msg(2, "spec", "authentication.v1.TokenReviewSpec"),
        Msg(3, "status", "authentication.v1.TokenReviewStatus")}},
      {"authentication.v1.TokenReviewSpec", {Str(1, "token"), Strs(2, "audiences")}},
      {"authentication.v1.TokenReviewStatus",
       {Bool(1, "authenticated"), Msg(2, "user", "authentication.v1.UserInfo"), Strs(4, "audiences"),
        Str(3, "error")}},
      {"authentication.v1.SelfSubjectReview",
       {Msg(1, "metadata", "meta.v1.ObjectMeta"), Msg(2, "status", "authentication.v1.SelfSubjectReviewStatus")}},
      {"authentication.v1.SelfSubjectReviewStatus", {Msg(1, "userInfo", "authentication.v1.UserInfo")}},
      {"authentication.v1.UserInfo", {Str(1, "username"), Str(2, "uid"), Strs(3, "groups")}},
  };
}

struct Kind {
  std::string_view api_version;
  std::string_view kind;
  std::string_view message;
};

// The kinds a protobuf body may carry. kubectl 1.32 create generators produce
// all of these; Pod and TokenRequest come from other typed-client paths.
constexpr Kind kKinds[] = {
    {"v1", "Namespace", "core.v1.Namespace"},
    {"v1", "ConfigMap", "core.v1.ConfigMap"},
    {"v1", "Secret", "core.v1.Secret"},
    {"v1", "Service", "core.v1.Service"},
    {"v1", "ServiceAccount", "core.v1.ServiceAccount"},
    {"v1", "ResourceQuota", "core.v1.ResourceQuota"},
    {"v1", "Pod", "core.v1.Pod"},
    {"apps/v1", "Deployment", "apps.v1.Deployment"},
    {"batch/v1", "Job", "batch.v1.Job"},
    {"batch/v1", "CronJob", "batch.v1.CronJob"},
    {"scheduling.k8s.io/v1", "PriorityClass", "scheduling.v1.PriorityClass"},
    {"policy/v1", "PodDisruptionBudget", "policy.v1.PodDisruptionBudget"},
    {"networking.k8s.io/v1", "Ingress", "networking.v1.Ingress"},
    {"rbac.authorization.k8s.io/v1", "Role", "rbac.v1.Role"},
    {"rbac.authorization.k8s.io/v1", "RoleBinding", "rbac.v1.RoleBinding"},
    {"rbac.authorization.k8s.io/v1", "ClusterRole", "rbac.v1.ClusterRole"},
    {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "rbac.v1.ClusterRoleBinding"},
    {"authentication.k8s.io/v1", "TokenRequest", "authentication.v1.TokenRequest"},
    {"authentication.k8s.io/v1", "TokenReview", "authentication.v1.TokenReview"},
    {"authentication.k8s.io/v1", "SelfSubjectReview", "authentication.v1.SelfSubjectReview"},
};

// Name -> message, built once. References are checked by SchemaSelfCheck().
class Schema {
 public:
  static const Schema& Get() {
    static const Schema* schema = new Schema();  // never destroyed: used from any thread
    return *schema;
  }
  const Message* Find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &messages_[it->second];
  }
  const std::vector<Message>& messages() const { return messages_; }

 private:
  Schema() : messages_(BuildMessages()) {
    for (size_t i = 0; i < messages_.size(); ++i) index_.emplace(messages_[i].name, i);
  }
  std::vector<Message> messages_;
  std::unordered_map<std::string_view, size_t> index_;
};

// ---------------------------------------------------------------------------
// Wire format
// ---------------------------------------------------------------------------

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Real objects nest about 12 levels (CronJob -> ... -> Container -> EnvVar ->
// valueFrom -> configMapKeyRef -> inline ref). The limit bounds recursion on
// hostile input; the schema itself has no cycles, but a bound keeps that true
// should one be added (e.g. JSONSchemaProps).
constexpr int kMaxDepth = 32;

// Valid range of metav1.Time's JSON form: Go refuses to marshal years outside
// [0000, 9999]; RFC 3339 needs four digits anyway.
constexpr int64_t kMinUnixSeconds = -62167219200;  // 0000-01-01T00:00:00Z
constexpr int64_t kMaxUnixSeconds = 253402300799;  // 9999-12-31T23:59:59Z

Status Malformed(std::string_view what) {
  return BadRequest("malformed protobuf body: " + std::string(what));
}

// Bounds-checked reader over one message's bytes. Every read either succeeds
// within [p_, end_) or returns BadRequest; nothing is read past end_.
class Cursor {
 public:
  explicit Cursor(std::string_view buf) : p_(buf.data()), end_(buf.data() + buf.size()) {}
  bool done() const { return p_ == end_; }

  Status Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Malformed("truncated varint");
      uint8_t b = static_cast<uint8_t>(*p_++);
      // The tenth byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && b > 1) return Malformed("varint overflows 64 bits");
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) {
        *v = result;
        return Status::Ok();
      }
    }
    return Malformed("varint longer than 10 bytes");
  }

  Status LengthDelimited(std::string_view* out) {
    uint64_t n = 0;
    BERTH_RETURN_IF_ERROR(Varint(&n));
    if (n > static_cast<uint64_t>(end_ - p_)) return Malformed("length past end of message");
    *out = std::string_view(p_, static_cast<size_t>(n));
    p_ += n;
    return Status::Ok();
  }

  Status Key(uint32_t* number, uint32_t* wire_type) {
    uint64_t key = 0;
    BERTH_RETURN_IF_ERROR(Varint(&key));
    // Field numbers are 29 bits; zero is reserved.
    if (key > 0xffffffffu || (key >> 3) == 0) return Malformed("invalid field number");
    *number = static_cast<uint32_t>(key >> 3);
    *wire_type = static_cast<uint32_t>(key & 7);
    return Status::Ok();
  }

  Status Skip(uint32_t wire_type) {
    switch (wire_type) {
      case kVarint: {
        uint64_t ignored;
        return Varint(&ignored);
      }
      case kFixed64:
        return Advance(8);
      case kLengthDelimited: {
        std::string_view ignored;
        return LengthDelimited(&ignored);
      }
      case kFixed32:
        return Advance(4);
      default:
        // Groups (3, 4) are proto1-era and never produced by Kubernetes; 6 and 7
        // are undefined.
        return Malformed("unsupported wire type " + std::to_string(wire_type));
    }
  }

 private:
  Status Advance(size_t n) {
    if (n > static_cast<size_t>(end_ - p_)) return Malformed("truncated fixed-width field");
    p_ += n;
    return Status::Ok();
  }

  const char* p_;
  const char* end_;
};


Status StringValue(std::string_view bytes, Json* out) {
  if (!IsValidUtf8(bytes)) return Malformed("string field is not valid UTF-8");
  *out = std::string(bytes);
  return Status::Ok();
}

// ---- special types ----

// Days since 1970-01-01 -> civil date (proleptic Gregorian). Howard Hinnant's
// public-domain algorithm; std::chrono's calendar types would do but strftime
// and gmtime cannot portably format years before 1000 with four digits.
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

std::string FormatTime(int64_t unix_seconds) {
  int64_t days = unix_seconds / 86400;
  int64_t secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02dZ", static_cast<long long>(y), m,
                d, static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60));
  return buf;
}

// metav1.Time. gogo writes a zero time.Time as an empty message (no fields),
// which Go decodes back to the zero time and encodes in JSON as null; that is
// the `"creationTimestamp": null` every JSON client sends.
Status TimeValue(std::string_view bytes, Json* out) {
  if (bytes.empty()) {
    *out = nullptr;
    return Status::Ok();
  }
  int64_t seconds = 0;
  int64_t nanos = 0;
  Cursor c(bytes);
  while (!c.done()) {
    uint32_t number = 0, wt = 0;
    BERTH_RETURN_IF_ERROR(c.Key(&number, &wt));
    if ((number == 1 || number == 2) && wt == kVarint) {
      uint64_t v = 0;
      BERTH_RETURN_IF_ERROR(c.Varint(&v));
      if (number == 1) {
        seconds = static_cast<int64_t>(v);
      } else {
        nanos = static_cast<int32_t>(static_cast<uint32_t>(v));
      }
    } else if (number == 1 || number == 2) {
      return Malformed("Time field has the wrong wire type");
    } else {
      BERTH_RETURN_IF_ERROR(c.Skip(wt));
    }
  }
  // time.Unix normalises nanos outside [0, 1e9) into seconds; JSON then drops
  // the sub-second part (metav1.Time has second precision on the wire).
  if (seconds < kMinUnixSeconds || seconds > kMaxUnixSeconds) {
    return Malformed("Time out of range");
  }
  seconds += nanos / 1000000000;
  if (nanos % 1000000000 < 0) --seconds;
  if (seconds < kMinUnixSeconds || seconds > kMaxUnixSeconds) {
    return Malformed("Time out of range");
  }
  *out = FormatTime(seconds);
  return Status::Ok();
}

// Go's time.Duration.String(): "1h2m3.5s", "1.5ms", "0s".
std::string FormatDuration(int64_t d) {
  if (d == 0) return "0s";
  bool neg = d < 0;
  // Negate in unsigned arithmetic so INT64_MIN works.
  uint64_t u = neg ? ~static_cast<uint64_t>(d) + 1 : static_cast<uint64_t>(d);
  // Writes v / 10^prec's fractional digits without trailing zeros ("" if zero).
  auto frac = [](uint64_t v, int prec, uint64_t* rest) {
    std::string digits;
    bool print = false;
    for (int i = 0; i < prec; ++i) {
      char digit = static_cast<char>('0' + v % 10);
      print = print || digit != '0';
      if (print) digits.insert(digits.begin(), digit);
      v /= 10;
    }
    *rest = v;
    return print ? "." + digits : std::string();
  };
  std::string out;
  uint64_t rest;
  if (u < 1000000000ull) {
    int prec;
    const char* unit;
    if (u < 1000ull) {
      prec = 0;
      unit = "ns";
    } else if (u < 1000000ull) {
      prec = 3;
      unit = "\xc2\xb5s";  // "µs", as Go prints it
    } else {
      prec = 6;
      unit = "ms";
    }
    std::string f = frac(u, prec, &rest);
    out = std::to_string(rest) + f + unit;
  } else {
    std::string f = frac(u, 9, &rest);
    out = std::to_string(rest % 60) + f + "s";
    rest /= 60;
    if (rest > 0) {
      out = std::to_string(rest % 60) + "m" + out;
      rest /= 60;
      if (rest > 0) out = std::to_string(rest) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

Status DurationValue(std::string_view bytes, Json* out) {
  int64_t nanos = 0;
  Cursor c(bytes);
  while (!c.done()) {
    uint32_t number = 0, wt = 0;
    BERTH_RETURN_IF_ERROR(c.Key(&number, &wt));
    if (number == 1) {
      if (wt != kVarint) return Malformed("Duration field has the wrong wire type");
      uint64_t v = 0;
      BERTH_RETURN_IF_ERROR(c.Varint(&v));
      nanos = static_cast<int64_t>(v);
    } else {
      BERTH_RETURN_IF_ERROR(c.Skip(wt));
    }
  }
  *out = FormatDuration(nanos);
  return Status::Ok();
}

// intstr.IntOrString: type 0 (Int) -> JSON number, 1 (String) -> JSON string.
Status IntOrStringValue(std::string_view bytes, Json* out) {
  int64_t type = 0;
  int32_t int_val = 0;
  Json str_val = "";
  Cursor c(bytes);
  while (!c.done()) {
    uint32_t number = 0, wt = 0;
    BERTH_RETURN_IF_ERROR(c.Key(&number, &wt));
    uint64_t v = 0;
    std::string_view s;
    switch (number) {
      case 1:
      case 2:
        if (wt != kVarint) return Malformed("IntOrString field has the wrong wire type");
        BERTH_RETURN_IF_ERROR(c.Varint(&v));
        if (number == 1) {
          type = static_cast<int64_t>(v);
        } else {
          int_val = static_cast<int32_t>(static_cast<uint32_t>(v));
        }
        break;
      case 3:
        if (wt != kLengthDelimited) return Malformed("IntOrString field has the wrong wire type");
        BERTH_RETURN_IF_ERROR(c.LengthDelimited(&s));
        BERTH_RETURN_IF_ERROR(StringValue(s, &str_val));
        break;
      default:
        BERTH_RETURN_IF_ERROR(c.Skip(wt));
    }
  }
  if (type == 0) {
    *out = int_val;
  } else if (type == 1) {
    *out = std::move(str_val);
  } else {
    return Malformed("IntOrString has unknown type " + std::to_string(type));
  }
  return Status::Ok();
}

// resource.Quantity travels as its canonical string, which is also its JSON
// form. An unset Quantity is Go's zero value, printed "0".
Status QuantityValue(std::string_view bytes, Json* out) {
  Json s = "";
  Cursor c(bytes);
  while (!c.done()) {
    uint32_t number = 0, wt = 0;
    BERTH_RETURN_IF_ERROR(c.Key(&number, &wt));
    if (number == 1) {
      if (wt != kLengthDelimited) return Malformed("Quantity field has the wrong wire type");
      std::string_view v;
      BERTH_RETURN_IF_ERROR(c.LengthDelimited(&v));
      BERTH_RETURN_IF_ERROR(StringValue(v, &s));
    } else {
      BERTH_RETURN_IF_ERROR(c.Skip(wt));
    }
  }
  if (s.get_ref<const std::string&>().empty()) s = "0";
  *out = std::move(s);
  return Status::Ok();
}

// ---- generic message decoding ----

bool IsVarintType(Type t) { return t == Type::kBool || t == Type::kInt32 || t == Type::kInt64; }

Json VarintValue(Type t, uint64_t v) {
  switch (t) {
    case Type::kBool:
      return v != 0;
    case Type::kInt32:
      // Negative int32s are sign-extended to 10-byte varints; Go truncates.
      return static_cast<int32_t>(static_cast<uint32_t>(v));
    default:
      return static_cast<int64_t>(v);
  }
}

// Go's zero value for a map entry whose value field is absent.
Json ZeroValue(const Field& f) {
  switch (f.type) {
    case Type::kString:
    case Type::kBytes:
      return "";
    case Type::kBool:
      return false;
    case Type::kInt32:
    case Type::kInt64:
    case Type::kIntOrString:
      return 0;
    case Type::kMessage:
      return Json::object();
    case Type::kTime:
      return nullptr;
    case Type::kDuration:
      return "0s";
    case Type::kQuantity:
      return "0";
  }
  return nullptr;
}

// Would encoding/json drop this value under omitempty?
bool IsEmptyScalar(const Json& v) {
  if (v.is_string()) return v.get_ref<const std::string&>().empty();
  if (v.is_boolean()) return !v.get<bool>();
  if (v.is_number_integer()) return v.get<int64_t>() == 0;
  return false;
}

Status DecodeMessage(std::string_view bytes, const Message& m, Json& obj, int depth);

Status WrongWireType(const Field& f, uint32_t wt) {
  return Malformed("field " + std::string(f.json.empty() ? "(inline)" : f.json) + " (" +
                   std::to_string(f.number) + ") has wire type " + std::to_string(wt));
}

const Message* SubMessage(const Field& f) { return Schema::Get().Find(f.message); }

// Decodes one value of f's type (a single element for repeated fields).
Status DecodeValue(Cursor& c, const Field& f, uint32_t wt, int depth, Json* out) {
  if (IsVarintType(f.type)) {
    if (wt != kVarint) return WrongWireType(f, wt);
    uint64_t v = 0;
    BERTH_RETURN_IF_ERROR(c.Varint(&v));
    *out = VarintValue(f.type, v);
    return Status::Ok();
  }
  if (wt != kLengthDelimited) return WrongWireType(f, wt);
  std::string_view bytes;
  BERTH_RETURN_IF_ERROR(c.LengthDelimited(&bytes));
  switch (f.type) {
    case Type::kString:
      return StringValue(bytes, out);
    case Type::kBytes:
      *out = Base64Encode(bytes);
      return Status::Ok();
    case Type::kMessage: {
      const Message* sub = SubMessage(f);
      if (sub == nullptr) return Internal("protobuf schema lacks " + std::string(f.message));
      *out = Json::object();
      return DecodeMessage(bytes, *sub, *out, depth + 1);
    }
    case Type::kTime:
      return TimeValue(bytes, out);
    case Type::kDuration:
      return DurationValue(bytes, out);
    case Type::kIntOrString:
      return IntOrStringValue(bytes, out);
    case Type::kQuantity:
      return QuantityValue(bytes, out);
    default:
      return Internal("unreachable protobuf type");
  }
}

// A map entry is a message {1: key (string), 2: value}.
Status DecodeMapEntry(std::string_view entry, const Field& f, int depth, Json& map) {
  if (depth + 1 > kMaxDepth) return Malformed("nesting too deep");
  Json key = "";
  Json value = ZeroValue(f);
  Cursor c(entry);
  while (!c.done()) {
    uint32_t number = 0, wt = 0;
    BERTH_RETURN_IF_ERROR(c.Key(&number, &wt));
    if (number == 1) {
      if (wt != kLengthDelimited) return WrongWireType(f, wt);
      std::string_view k;
      BERTH_RETURN_IF_ERROR(c.LengthDelimited(&k));
      BERTH_RETURN_IF_ERROR(StringValue(k, &key));
    } else if (number == 2) {
      BERTH_RETURN_IF_ERROR(DecodeValue(c, f, wt, depth + 1, &value));
    } else {
      BERTH_RETURN_IF_ERROR(c.Skip(wt));
    }
  }
  if (!map.is_object()) map = Json::object();
  map[key.get<std::string>()] = std::move(value);
  return Status::Ok();
}

Status DecodeField(Cursor& c, const Field& f, uint32_t wt, int depth, Json& obj) {
  if (f.flags & kMap) {
    if (wt != kLengthDelimited) return WrongWireType(f, wt);
    std::string_view entry;
    BERTH_RETURN_IF_ERROR(c.LengthDelimited(&entry));
    return DecodeMapEntry(entry, f, depth, obj[f.json]);
  }
  if (f.flags & kInline) {
    if (wt != kLengthDelimited) return WrongWireType(f, wt);
    std::string_view bytes;
    BERTH_RETURN_IF_ERROR(c.LengthDelimited(&bytes));
    const Message* sub = SubMessage(f);
    if (sub == nullptr) return Internal("protobuf schema lacks " + std::string(f.message));
    return DecodeMessage(bytes, *sub, obj, depth + 1);
  }
  if (f.flags & kRepeated) {
    Json& arr = obj[f.json];
    if (!arr.is_array()) arr = Json::array();
    if (IsVarintType(f.type) && wt == kLengthDelimited) {
      // Packed encoding: proto parsers must accept it for repeated scalars even
      // though Kubernetes' proto2 schemas never emit it.
      std::string_view packed;
      BERTH_RETURN_IF_ERROR(c.LengthDelimited(&packed));
      Cursor pc(packed);
      while (!pc.done()) {
        uint64_t v = 0;
        BERTH_RETURN_IF_ERROR(pc.Varint(&v));
        arr.push_back(VarintValue(f.type, v));
      }
      return Status::Ok();
    }
    Json v;
    BERTH_RETURN_IF_ERROR(DecodeValue(c, f, wt, depth, &v));
    arr.push_back(std::move(v));
    return Status::Ok();
  }
  if (f.type == Type::kMessage) {
    // A singular message seen twice merges, per the protobuf spec.
    if (wt != kLengthDelimited) return WrongWireType(f, wt);
    std::string_view bytes;
    BERTH_RETURN_IF_ERROR(c.LengthDelimited(&bytes));
    const Message* sub = SubMessage(f);
    if (sub == nullptr) return Internal("protobuf schema lacks " + std::string(f.message));
    Json& target = obj[f.json];
    if (!target.is_object()) target = Json::object();
    return DecodeMessage(bytes, *sub, target, depth + 1);
  }
  Json v;
  BERTH_RETURN_IF_ERROR(DecodeValue(c, f, wt, depth, &v));
  // Only plain scalars have omitempty semantics; Time, Quantity and friends are
  // Go structs, which encoding/json always prints.
  bool plain = f.type == Type::kString || f.type == Type::kBytes || IsVarintType(f.type);
  if (plain && !(f.flags & kKeep) && IsEmptyScalar(v)) {
    obj.erase(std::string(f.json));  // last occurrence wins, even when it is zero
  } else {
    obj[f.json] = std::move(v);
  }
  return Status::Ok();
}

Status DecodeMessage(std::string_view bytes, const Message& m, Json& obj, int depth) {
  if (depth > kMaxDepth) return Malformed("nesting too deep");
  if (!obj.is_object()) obj = Json::object();
  Cursor c(bytes);
  while (!c.done()) {
    uint32_t number = 0, wt = 0;
    BERTH_RETURN_IF_ERROR(c.Key(&number, &wt));
    const Field* f = m.Find(number);
    if (f == nullptr) {
      // Unknown to our tables (newer API field, or one deliberately skipped).
      BERTH_RETURN_IF_ERROR(c.Skip(wt));
      continue;
    }
    BERTH_RETURN_IF_ERROR(DecodeField(c, *f, wt, depth, obj));
  }
  return Status::Ok();
}

const Kind* FindKind(std::string_view api_version, std::string_view kind) {
  for (const Kind& k : kKinds) {
    if (k.api_version == api_version && k.kind == kind) return &k;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string_view> ProtobufDecodableKinds() {
  std::vector<std::string_view> out;
  static const std::vector<std::string>* names = [] {
    auto* v = new std::vector<std::string>();
    for (const Kind& k : kKinds)
      v->push_back(std::string(k.api_version) + "/" + std::string(k.kind));
    return v;
  }();
  for (const std::string& n : *names) out.push_back(n);
  return out;
}

namespace internal {

Status ProtobufSchemaSelfCheck() {
  const Schema& schema = Schema::Get();
  for (const Message& m : schema.messages()) {
    if (schema.Find(m.name) != &m) return Internal("duplicate message " + std::string(m.name));
    for (size_t i = 0; i < m.fields.size(); ++i) {
      const Field& f = m.fields[i];
      std::string where = std::string(m.name) + "." + std::to_string(f.number);
      if (f.number == 0 || f.number > 536870911) return Internal(where + ": bad number");
      if ((f.type == Type::kMessage) != !f.message.empty()) {
        return Internal(where + ": message reference mismatch");
      }
      if (f.type == Type::kMessage && schema.Find(f.message) == nullptr) {
        return Internal(where + ": unknown message " + std::string(f.message));
      }
      if ((f.flags & kInline) != 0 && (f.type != Type::kMessage || !f.json.empty())) {
        return Internal(where + ": inline field must be an unnamed message");
      }
      if ((f.flags & kInline) == 0 && f.json.empty()) return Internal(where + ": no JSON name");
      for (size_t j = 0; j < i; ++j) {
        if (m.fields[j].number == f.number) return Internal(where + ": duplicate number");
        if (!f.json.empty() && m.fields[j].json == f.json) {
          return Internal(where + ": duplicate JSON name");
        }
      }
    }
  }
  for (const Kind& k : kKinds) {
    if (schema.Find(k.message) == nullptr) {
      return Internal("kind " + std::string(k.kind) + " has no message");
    }
  }
  return Status::Ok();
}

}  // namespace internal

Result<Json> DecodeKubernetesProtobuf(std::string_view body) {
  static constexpr std::string_view kMagic("k8s\0", 4);
  if (body.size() < kMagic.size() || body.substr(0, kMagic.size()) != kMagic) {
    return Malformed("missing k8s protobuf envelope prefix");
  }
  // runtime.Unknown{1: typeMeta, 2: raw, 3: contentEncoding, 4: contentType}.
  std::string_view type_meta, raw, content_encoding;
  Cursor c(body.substr(kMagic.size()));
  while (!c.done()) {
    uint32_t number = 0, wt = 0;
    BERTH_RETURN_IF_ERROR(c.Key(&number, &wt));
    if (number >= 1 && number <= 4) {
      if (wt != kLengthDelimited) return Malformed("envelope field has the wrong wire type");
      std::string_view v;
      BERTH_RETURN_IF_ERROR(c.LengthDelimited(&v));
      if (number == 1) type_meta = v;
      if (number == 2) raw = v;
      if (number == 3) content_encoding = v;
      // contentType (4) is informational; the raw bytes are always protobuf here.
    } else {
      BERTH_RETURN_IF_ERROR(c.Skip(wt));
    }
  }

  // runtime.TypeMeta{1: apiVersion, 2: kind} (note: the reverse of metav1.TypeMeta).
  Json api_version = "", kind = "";
  Cursor tc(type_meta);
  while (!tc.done()) {
    uint32_t number = 0, wt = 0;
    BERTH_RETURN_IF_ERROR(tc.Key(&number, &wt));
    if (number == 1 || number == 2) {
      if (wt != kLengthDelimited) return Malformed("TypeMeta field has the wrong wire type");
      std::string_view v;
      BERTH_RETURN_IF_ERROR(tc.LengthDelimited(&v));
      BERTH_RETURN_IF_ERROR(StringValue(v, number == 1 ? &api_version : &kind));
    } else {
      BERTH_RETURN_IF_ERROR(tc.Skip(wt));
    }
  }
  const std::string& av = api_version.get_ref<const std::string&>();
  const std::string& k = kind.get_ref<const std::string&>();
  if (av.empty() || k.empty()) return Malformed("envelope lacks apiVersion or kind");

  if (!content_encoding.empty()) {
    return Status(Code::kUnsupportedMediaType, "protobuf contentEncoding \"" +
                                                   std::string(content_encoding) +
                                                   "\" is not supported; send application/json");
  }
  const Kind* entry = FindKind(av, k);
  if (entry == nullptr) {
    return Status(Code::kUnsupportedMediaType, "protobuf decoding of " + av + ", Kind=" + k +
                                                   " is not supported; send application/json");
  }
  const Message* m = Schema::Get().Find(entry->message);
  if (m == nullptr) return Internal("protobuf schema lacks " + std::string(entry->message));

  Json obj = Json::object();
  BERTH_RETURN_IF_ERROR(DecodeMessage(raw, *m, obj, 1));
  obj["apiVersion"] = std::move(api_version);
  obj["kind"] = std::move(kind);
  return obj;
}

}  // namespace berth
