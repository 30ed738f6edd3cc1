// Real-world manifests must pass strict (unknown-field) validation against the
// built-in schemas, and typos must be caught.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/schema_check.h"
#include "core/json.h"
#include "kinds/kinds.h"

namespace berth::kinds {
namespace {

class StrictFieldsTest : public ::testing::Test {
 protected:
  void SetUp() override { RegisterBuiltins(kinds_, schemas_); }

  std::vector<std::string> Unknown(const std::string& schema, const std::string& yaml) {
    auto obj = ParseYamlOrJson(yaml);
    EXPECT_TRUE(obj.ok()) << obj.status().message();
    auto s = schemas_.Get(schema);
    EXPECT_NE(s, nullptr) << schema;
    std::vector<std::string> unknown;
    api::FindUnknownFields(*obj, *s, schemas_, unknown, false);
    return unknown;
  }

  static std::string Join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += s + " ";
    return out;
  }

  api::KindRegistry kinds_;
  api::SchemaRegistry schemas_;
};

TEST_F(StrictFieldsTest, NginxDeploymentWithEverything) {
  auto unknown = Unknown("io.k8s.api.apps.v1.Deployment", R"(
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
  annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}\n"}
spec:
  replicas: 3
  revisionHistoryLimit: 5
  progressDeadlineSeconds: 120
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}, annotations: {prometheus.io/scrape: "true"}}
    spec:
      serviceAccountName: web
      automountServiceAccountToken: false
      priorityClassName: high
      terminationGracePeriodSeconds: 10
      imagePullSecrets: [{name: regcred}]
      nodeSelector: {kubernetes.io/os: linux}
      securityContext: {runAsUser: 101, runAsGroup: 101, fsGroup: 101, runAsNonRoot: true,
                        seccompProfile: {type: RuntimeDefault}, sysctls: [{name: net.core.somaxconn, value: "1024"}]}
      initContainers:
      - name: init
        image: busybox:1.36
        command: [sh, -c, "echo init"]
        restartPolicy: Always
      containers:
      - name: nginx
        image: nginx:1.27
        imagePullPolicy: IfNotPresent
        args: ["-g", "daemon off;"]
        workingDir: /usr/share/nginx
        ports: [{name: http, containerPort: 8080, protocol: TCP}]
        env:
        - {name: A, value: "1"}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
        - {name: C, valueFrom: {configMapKeyRef: {name: cfg, key: c, optional: true}}}
        - {name: S, valueFrom: {secretKeyRef: {name: sec, key: s}}}
        envFrom: [{prefix: X_, configMapRef: {name: cfg}}, {secretRef: {name: sec}}]
        resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 1, memory: 128Mi, ephemeral-storage: 1Gi}}
        livenessProbe: {httpGet: {path: /healthz, port: http, httpHeaders: [{name: X, value: y}]},
                        initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3}
        readinessProbe: {tcpSocket: {port: 8080}, successThreshold: 1}
        startupProbe: {exec: {command: [cat, /tmp/ok]}, failureThreshold: 30}
        lifecycle: {preStop: {exec: {command: [sleep, "5"]}}, postStart: {httpGet: {port: 8080}}}
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
                          capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}, privileged: false}
        volumeMounts:
        - {name: conf, mountPath: /etc/nginx/conf.d, readOnly: true}
        - {name: cache, mountPath: /var/cache/nginx, subPath: c}
        - {name: data, mountPath: /data, mountPropagation: None}
        - {name: token, mountPath: /var/run/secrets/tokens}
        - {name: tls, mountPath: /tls}
        - {name: host, mountPath: /host}
        - {name: pod-info, mountPath: /etc/podinfo}
        - {name: scratch, mountPath: /scratch}
        stdin: false
        tty: false
      volumes:
      - {name: conf, configMap: {name: nginx-conf, defaultMode: 0644, items: [{key: a, path: a.conf, mode: 0600}]}}
      - {name: cache, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
      - {name: data, persistentVolumeClaim: {claimName: data, readOnly: false}}
      - {name: tls, secret: {secretName: tls, optional: true}}
      - {name: host, hostPath: {path: /var/log, type: DirectoryOrCreate}}
      - name: token
        projected:
          defaultMode: 0444
          sources:
          - serviceAccountToken: {audience: vault, expirationSeconds: 3600, path: token}
          - configMap: {name: kube-root-ca.crt, items: [{key: ca.crt, path: ca.crt}]}
          - secret: {name: extra}
          - downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
      - name: pod-info
        downwardAPI: {items: [{path: cpu, resourceFieldRef: {containerName: nginx, resource: limits.cpu}}]}
      - name: scratch
        ephemeral: {volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]}]
          preferredDuringSchedulingIgnoredDuringExecution:
          - {weight: 1, preference: {matchExpressions: [{key: disk, operator: Exists}]}}
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchExpressions: [{key: app, operator: In, values: [web]}]}}
        podAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {topologyKey: topology.kubernetes.io/zone, labelSelector: {matchLabels: {app: cache}}, namespaces: [default]}
      tolerations:
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
         labelSelector: {matchLabels: {app: web}}, minDomains: 1, matchLabelKeys: [pod-template-hash]}
      dnsPolicy: ClusterFirst
      dnsConfig: {options: [{name: ndots, value: "2"}], nameservers: [1.1.1.1], searches: [svc.local]}
      hostAliases: [{ip: 127.0.0.1, hostnames: [foo.local]}]
      readinessGates: [{conditionType: example.com/ready}]
      runtimeClassName: crun
      enableServiceLinks: false
      os: {name: linux}
)");
  EXPECT_TRUE(unknown.empty()) << Join(unknown);
}

TEST_F(StrictFieldsTest, OtherKinds) {
  EXPECT_TRUE(Unknown("io.k8s.api.core.v1.Service", R"(
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080, protocol: TCP, appProtocol: http}]
  externalTrafficPolicy: Local
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
  loadBalancerSourceRanges: [10.0.0.0/8]
  ipFamilyPolicy: SingleStack
  ipFamilies: [IPv4]
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}
)")
                  .empty());
  EXPECT_TRUE(Unknown("io.k8s.api.apps.v1.StatefulSet", R"(
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  podManagementPolicy: Parallel
  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 0}}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Retain}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: pg, image: postgres:16}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], storageClassName: local, resources: {requests: {storage: 10Gi}}}
)")
                  .empty());
  EXPECT_TRUE(Unknown("io.k8s.api.batch.v1.CronJob", R"(
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 * * * *"
  timeZone: Etc/UTC
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 60
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      backoffLimit: 2
      ttlSecondsAfterFinished: 100
      activeDeadlineSeconds: 600
      podFailurePolicy: {rules: [{action: Ignore, onPodConditions: [{type: DisruptionTarget}]}]}
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: r, image: busybox, command: [date]}]
)")
                  .empty());
  EXPECT_TRUE(
      Unknown("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
              R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd], categories: [all]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}, scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}}
    additionalPrinterColumns: [{name: Size, type: integer, jsonPath: .spec.size}]
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer, minimum: 1}}, x-kubernetes-validations: [{rule: "self.size < 10"}]}
)")
          .empty());
  EXPECT_TRUE(Unknown("io.k8s.api.discovery.v1.EndpointSlice", R"(
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1], conditions: {ready: true}, nodeName: n1, targetRef: {kind: Pod, name: p}}]
ports: [{name: http, port: 80, protocol: TCP}]
)")
                  .empty());
}

TEST_F(StrictFieldsTest, CatchesTypos) {
  auto unknown = Unknown("io.k8s.api.apps.v1.Deployment", R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replica: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, imagee: nginx, resources: {limit: {cpu: 1}}}]}
)");
  EXPECT_EQ(Join(unknown),
            "spec.replica spec.template.spec.containers[0].imagee "
            "spec.template.spec.containers[0].resources.limit ");
}

}  // namespace
}  // namespace berth::kinds
