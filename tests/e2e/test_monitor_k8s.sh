#!/usr/bin/env bash
# Monitoring finds its targets in the Kubernetes API: a pod annotated
# prometheus.io/scrape, a ServiceMonitor and a PodMonitor (the Prometheus
# Operator's kinds, applied with kubectl) all lead to scrapes of a real pod
# serving metrics on the pod network; deleting the pod marks its series
# stale; a PrometheusRule becomes rule groups (and an invalid one a Warning
# event); the kubelet's cAdvisor and node_exporter series are scraped too.
source "$(dirname "$0")/lib.sh" "$@"

SERVER_ARGS=(--node-name e2e-node --monitor-scrape-interval 1)
import_busybox_image
start_server
expect_node_ready

q() { local e=$1; shift; kcurl /api/v1/query --data-urlencode "query=$e" "$@"; }
qv() { q "$1" | jq -r '.data.result[0].value[1] // "none"'; }
qv_is() { [[ $(qv "$1") == "$2" ]]; }
qv_some() { [[ $(qv "$1") != none ]]; }

log "the operator's kinds are served"
kc api-resources --api-group=monitoring.coreos.com -o name
assert_contains "ServiceMonitor" "$OUT" "servicemonitors.monitoring.coreos.com"
assert_contains "PodMonitor" "$OUT" "podmonitors.monitoring.coreos.com"
assert_contains "PrometheusRule" "$OUT" "prometheusrules.monitoring.coreos.com"

log "a pod serving metrics, found three ways"
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: app
  labels: {app: demo}
  annotations: {prometheus.io/scrape: "true", prometheus.io/port: "8080", prometheus.io/path: /metrics}
spec:
  containers:
  - name: web
    image: busybox:test
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /tmp/www && printf '# TYPE demo_requests_total counter\ndemo_requests_total 42\n' >/tmp/www/metrics && exec httpd -f -p 8080 -h /tmp/www"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /metrics, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: demo, labels: {app: demo}}
spec:
  selector: {app: demo}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: demo-sm}
spec:
  selector: {matchLabels: {app: demo}}
  endpoints:
  - port: http
    interval: 1s
    metricRelabelings:
    - {sourceLabels: [__name__], regex: "demo_.*", targetLabel: via, replacement: servicemonitor}
---
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata: {name: demo-pm}
spec:
  selector: {matchLabels: {app: demo}}
  podMetricsEndpoints: [{port: http, interval: 1s}]
EOF
check_wait "the pod is Ready" 60 bash -c \
  "kubectl get pod app -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -q True"
check_wait "the annotated pod is scraped" 30 qv_is 'demo_requests_total{job="kubernetes-pods",pod="app",namespace="default"}' 42
assert_eq "  with the pod's labels mapped" "demo" "$(q 'demo_requests_total{job="kubernetes-pods"}' | jq -r '.data.result[0].metric.app')"
check_wait "the ServiceMonitor's target is scraped" 30 qv_is 'demo_requests_total{job="demo",service="demo",endpoint="http"}' 42
assert_eq "  its metricRelabelings apply" "servicemonitor" "$(q 'demo_requests_total{job="demo"}' | jq -r '.data.result[0].metric.via')"
check_wait "the PodMonitor's target is scraped" 30 qv_is 'demo_requests_total{job="default/demo-pm",container="web"}' 42
T=$(kcurl /api/v1/targets)
assert_match "the targets list the pools" "$(jq -r '[.data.activeTargets[].scrapePool] | unique | join(" ")' <<<"$T")" \
  'kubernetes-pods.*podMonitor/default/demo-pm/0.*serviceMonitor/default/demo-sm/0'

log "a PrometheusRule becomes rule groups"
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: demo-rules}
spec:
  groups:
  - name: demo
    interval: 1s
    rules:
    - record: namespace:demo_requests:sum
      expr: sum by (namespace) (demo_requests_total{job="kubernetes-pods"})
    - alert: DemoHigh
      expr: demo_requests_total{job="kubernetes-pods"} > 40
      labels: {severity: info}
EOF
check_wait "its recording rule writes" 30 qv_is 'namespace:demo_requests:sum{namespace="default"}' 42
check_wait "its alert fires" 30 qv_is 'ALERTS{alertname="DemoHigh",alertstate="firing"}' 1
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: broken-rules}
spec:
  groups: [{name: bad, rules: [{record: "x", expr: "sum(("}]}]
EOF
bad_rules_event() { kubectl get events --field-selector involvedObject.name=broken-rules -o jsonpath='{.items[*].reason}' | grep -q InvalidRules; }
check_wait "an invalid PrometheusRule gets a Warning event" 30 bad_rules_event
assert_contains "  naming the problem" "$(kubectl get events --field-selector involvedObject.name=broken-rules -o jsonpath='{.items[0].message}')" 'could not parse expression'

log "the kubelet's node and container series"
check_wait "node_exporter's series from the kubelet" 30 qv_some 'node_memory_MemTotal_bytes{job="node-exporter",node="e2e-node"} > 0'
check_wait "cAdvisor's series for the pod's container" 30 qv_some 'container_cpu_usage_seconds_total{job="kubelet",pod="app",container="web",namespace="default"}'
assert_match "container memory working set" "$(qv 'container_memory_working_set_bytes{pod="app",container="web"}')" '^[0-9.e+]+$'
check_wait "the pod's network counters" 30 qv_some 'container_network_receive_bytes_total{pod="app",interface="eth0"}'

log "deleting the pod ends its series"
kc delete pod app --wait=false
check_wait "the pod's series go stale" 60 qv_is 'count(demo_requests_total)' none
check_wait "and its targets disappear" 30 bash -c \
  "[[ \$(curl -sS --cacert $DATA/pki/ca.crt --cert $DATA/pki/admin.crt --key $DATA/pki/admin.key https://127.0.0.1:$PORT/api/v1/targets | jq '[.data.activeTargets[] | select(.labels.pod == \"app\")] | length') == 0 ]]"

finish
