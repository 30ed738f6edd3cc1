#!/usr/bin/env bash
# Workloads end to end: real containers started through the node agent,
# driven by the real kubectl. Pods, logs, restarts, probes, OOM, Jobs,
# Deployments, and nothing left behind after deletion.
source "$(dirname "$0")/lib.sh" "$@"

SERVER_ARGS=(--node-name e2e-node)
import_busybox_image

CGROUPS_BEFORE=$(ls /sys/fs/cgroup/memory/berth 2>/dev/null | grep -c '^pod' || true)
start_server
expect_node_ready

# --- a pod runs, logs, gets an IP ------------------------------------------------
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - name: web
    image: busybox:test
    imagePullPolicy: Never
    command: ["sh", "-c", "echo started as $(id -u); exec httpd -f -p 8080 -h /www"]
    ports: [{containerPort: 8080}]
    readinessProbe: {httpGet: {path: /index.html, port: 8080}, periodSeconds: 1}
EOF
wait_for 30 bash -c "kubectl get pod web -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -q True" &&
  pass "pod with an HTTP server becomes Ready" || fail "pod web Ready" "$(kubectl describe pod web 2>&1 | tail -20)"
kc get pod web -o jsonpath='{.status.phase} {.status.containerStatuses[0].state.running.startedAt}'
assert_match "pod phase Running with a start time" "$OUT" '^Running [0-9T:-]+Z$'
POD_IP=$(kubectl get pod web -o jsonpath='{.status.podIP}')
assert_match "pod IP from the pod CIDR" "$POD_IP" '^10\.42\.'
OUT=$(curl -s --max-time 5 "http://$POD_IP:8080/index.html")
assert_eq "the host reaches the pod's server on its IP" "hello from berth" "$OUT"
wait_for 10 bash -c "kubectl logs web | grep -q 'started as 0'" && pass "kubectl logs shows the container's output" ||
  fail "kubectl logs web" "$(kubectl logs web 2>&1)"

# --- restart on a killed process, restartCount --------------------------------------
WEB_UID=$(kubectl get pod web -o jsonpath='{.metadata.uid}')
PID=$(cat "$DATA/node/pods/$WEB_UID/run/c/web/0/container.pid" 2>/dev/null)
if [[ -n "$PID" ]]; then
  kill -KILL "$PID"
  wait_for 30 bash -c "[[ \$(kubectl get pod web -o jsonpath='{.status.containerStatuses[0].restartCount}') -ge 1 ]]" &&
    pass "a killed container restarts and restartCount rises" || fail "restartCount after kill"
  wait_for 30 bash -c "kubectl get pod web -o jsonpath='{.status.containerStatuses[0].lastState.terminated.exitCode}' | grep -q 137" &&
    pass "lastState records exit code 137 (SIGKILL)" || fail "lastState exit code" "$(kubectl get pod web -o jsonpath='{.status.containerStatuses[0]}')"
else
  fail "find the container's httpd process on the host"
fi

# --- logs: --previous, --tail, --timestamps, -f until the container ends ------------------
kc logs web --previous
assert_eq "logs --previous shows the killed attempt" "started as 0" "$OUT"
kubectl run ticker --image=busybox:test --image-pull-policy=Never --restart=Never -- \
  sh -c 'for i in 1 2 3; do echo line$i; sleep 1; done' >/dev/null
wait_for 30 bash -c "kubectl get pod ticker -o jsonpath='{.status.phase}' | grep -Eq 'Running|Succeeded'"
OUT=$(timeout 30 kubectl logs -f ticker 2>&1)
assert_eq "logs -f follows until the container ends" $'line1\nline2\nline3' "$OUT"
kc logs ticker --tail=1
assert_eq "logs --tail=1" "line3" "$OUT"
kc logs ticker --timestamps
assert_match "logs --timestamps" "$OUT" '^20[0-9-]+T[0-9:.]+Z line1'
kubectl delete pod ticker --wait=false >/dev/null

# --- a failing liveness probe restarts the container ---------------------------------
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: liveness}
spec:
  containers:
  - name: c
    image: busybox:test
    imagePullPolicy: Never
    command: ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 600"]
    livenessProbe: {exec: {command: ["cat", "/tmp/healthy"]}, periodSeconds: 1, failureThreshold: 1}
  terminationGracePeriodSeconds: 1
EOF
wait_for 45 bash -c "[[ \$(kubectl get pod liveness -o jsonpath='{.status.containerStatuses[0].restartCount}') -ge 1 ]]" &&
  pass "a failing liveness probe restarts the container" || fail "liveness restart" "$(kubectl describe pod liveness | tail -15)"
wait_for 10 bash -c "kubectl get events --field-selector involvedObject.name=liveness | grep -q Unhealthy" &&
  pass "an Unhealthy event is recorded" || fail "Unhealthy event"

# --- OOMKilled -------------------------------------------------------------------
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:test
    imagePullPolicy: Never
    command: ["sh", "-c", "x=a; while true; do x=$x$x; done"]
    resources: {limits: {memory: 16Mi}}
EOF
wait_for 60 bash -c "kubectl get pod oom -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}' | grep -q OOMKilled" &&
  pass "exceeding the memory limit ends as OOMKilled" || fail "OOMKilled" "$(kubectl get pod oom -o jsonpath='{.status}')"
kc get pod oom -o jsonpath='{.status.phase}'
assert_eq "a Never pod whose container failed is Failed" "Failed" "$OUT"

# --- environment from ConfigMaps, Secrets and the downward API; volumes -----------------
kubectl create configmap cfg --from-literal=greeting=hello --from-literal=file.txt=from-configmap >/dev/null
kubectl create secret generic sec --from-literal=password=s3cret >/dev/null
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: env, labels: {tier: test}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:test
    imagePullPolicy: Never
    command: ["sh", "-c", "echo G=$GREETING P=$PASSWORD N=$MY_NAME IP=$MY_IP M=$MEM; cat /cfg/file.txt; echo; cat /sec/password; echo; echo x > /scratch/f && cat /scratch/f; id -u"]
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: sec, key: password}}}
    - {name: MY_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: MY_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    resources: {limits: {memory: 64Mi}}
    securityContext: {runAsUser: 65534, runAsGroup: 65534}
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    - {name: sec, mountPath: /sec}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - {name: cfg, configMap: {name: cfg}}
  - {name: sec, secret: {secretName: sec}}
  - {name: scratch, emptyDir: {medium: Memory}}
EOF
wait_for 30 bash -c "kubectl get pod env -o jsonpath='{.status.phase}' | grep -q Succeeded" &&
  pass "a pod with env, configMap, secret and emptyDir volumes completes" || fail "env pod Succeeded" "$(kubectl describe pod env | tail -20)"
kc logs env
assert_match "env from configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef" "$OUT" "G=hello P=s3cret N=env IP=10\.42\.[0-9.]+ M=64"
assert_match "configMap and secret volumes, writable emptyDir, runAsUser" "$OUT" $'from-configmap\ns3cret\nx\n65534'

# --- a Job runs to completion ------------------------------------------------------
kubectl create job hello --image=busybox:test -- sh -c 'echo job done' >/dev/null
kubectl patch job hello --type=json -p '[{"op":"add","path":"/spec/template/spec/containers/0/imagePullPolicy","value":"Never"}]' >/dev/null 2>&1
wait_for 60 bash -c "kubectl wait --for=condition=complete job/hello --timeout=2s >/dev/null 2>&1" &&
  pass "a Job completes" || fail "job complete" "$(kubectl describe job hello | tail -10)"
kc logs job/hello
if [[ "$OUT" == "job done" ]]; then
  pass "kubectl logs job/hello"
else
  # A Job of one completion has once been seen with two pods: keep what
  # tells why, should it happen again.
  fail "kubectl logs job/hello" "expected: job done" "actual: $OUT" \
    "$(kubectl get pods -l job-name=hello -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.creationTimestamp} {.status.phase} {.status.containerStatuses[0].state}{"\n"}{end}')" \
    "$(kubectl get job hello -o jsonpath='{.status}')" \
    "$(kubectl get events --field-selector involvedObject.kind=Pod -o jsonpath='{range .items[*]}{.involvedObject.name} {.reason} {.message}{"\n"}{end}' | tail -20)"
fi

# --- a Deployment rolls out and scales ----------------------------------------------
kubectl create deployment app --image=busybox:test --replicas=1 -- httpd -f -p 8080 -h /www >/dev/null
kubectl patch deployment app --type=json -p '[{"op":"add","path":"/spec/template/spec/containers/0/imagePullPolicy","value":"Never"}]' >/dev/null
kc rollout status deployment/app --timeout=60s
assert_match "rollout status completes" "$OUT" "successfully rolled out"
kubectl scale deployment app --replicas=5 >/dev/null
kc rollout status deployment/app --timeout=60s
kc get deployment app -o jsonpath='{.status.readyReplicas}'
assert_eq "scaled 1 -> 5 ready replicas" "5" "$OUT"

# --- Services: ClusterIP and NodePort from the host, DNS name from a pod ------------------
kubectl expose deployment app --port=80 --target-port=8080 --type=NodePort >/dev/null
CIP=$(kubectl get svc app -o jsonpath='{.spec.clusterIP}')
NPORT=$(kubectl get svc app -o jsonpath='{.spec.ports[0].nodePort}')
wait_for 20 bash -c "[[ \$(kubectl get endpoints app -o jsonpath='{.subsets[0].addresses[*].ip}' | wc -w) -eq 5 ]]" &&
  pass "the service's endpoints list the 5 ready pods" || fail "endpoints" "$(kubectl get endpoints app -o yaml)"
wait_for 10 bash -c "curl -s --max-time 2 http://$CIP/index.html | grep -q 'hello from berth'" &&
  pass "the host reaches the deployment through its ClusterIP" || fail "ClusterIP $CIP from the host"
wait_for 10 bash -c "curl -s --max-time 2 http://10.42.0.1:$NPORT/index.html | grep -q 'hello from berth'" &&
  pass "the host reaches it through the NodePort" || fail "NodePort $NPORT from the host"
kubectl run client --image=busybox:test --image-pull-policy=Never --restart=Never -- \
  sh -c 'cat /etc/resolv.conf | grep -c "nameserver 10.43.0.10"; wget -qO- http://app.default.svc.cluster.local/index.html; nslookup app.default.svc.cluster.local 2>&1 | grep -c "Address.*'"$CIP"'"' >/dev/null
wait_for 60 bash -c "kubectl get pod client -o jsonpath='{.status.phase}' | grep -Eq 'Succeeded|Failed'"
kc logs client
assert_eq "a pod reaches the service by DNS name (resolv.conf, wget, nslookup)" $'1\nhello from berth\n1' "$OUT"
kubectl delete pod client --wait=false >/dev/null

kubectl scale deployment app --replicas=0 >/dev/null
wait_for 60 bash -c "[[ -z \$(kubectl get pods -l app=app -o name) ]]" && pass "scaled to 0: pods gone" || fail "scale to 0"
wait_for 10 bash -c "! curl -s --max-time 1 http://$CIP/index.html" && pass "no endpoints: the ClusterIP refuses" || fail "ClusterIP with no endpoints"

# --- a missing image: ErrImagePull / ImagePullBackOff, the node carries on ----------------
kubectl run nosuch --image=127.0.0.1:1/nothing/here:v1 >/dev/null
wait_for 30 bash -c "kubectl get pod nosuch -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}' | grep -Eq 'ErrImagePull|ImagePullBackOff'" &&
  pass "an unpullable image gives ErrImagePull/ImagePullBackOff" || fail "ErrImagePull" "$(kubectl get pod nosuch -o jsonpath='{.status}')"
wait_for 10 bash -c "kubectl get events --field-selector involvedObject.name=nosuch,reason=Failed -o name | grep -q ." &&
  pass "a Failed event explains the pull error" || fail "pull Failed event"
kubectl delete pod nosuch --grace-period=0 --force >/dev/null 2>&1

# --- kill -9 the server while pods run: they are adopted, not duplicated ------------------
kubectl scale deployment app --replicas=2 >/dev/null
kc rollout status deployment/app --timeout=60s
BEFORE=$(kubectl get pods -l app=app -o jsonpath='{range .items[*]}{.metadata.uid}={.status.containerStatuses[0].containerID} {end}')
IPS=$(kubectl get pods -l app=app -o jsonpath='{.items[*].status.podIP}')
SHIMS_BEFORE=$(pgrep -fc "berth-shim --id .* --dir $DATA/")
kill9_server
for ip in $IPS; do
  OUT=$(curl -s --max-time 5 "http://$ip:8080/index.html")
  assert_eq "pod $ip serves while the server is down" "hello from berth" "$OUT"
done
start_server
wait_for 30 bash -c "kubectl get deployment app -o jsonpath='{.status.readyReplicas}' | grep -q 2" &&
  pass "after kill -9 and restart the deployment is ready again" || fail "ready after restart"
AFTER=$(kubectl get pods -l app=app -o jsonpath='{range .items[*]}{.metadata.uid}={.status.containerStatuses[0].containerID} {end}')
assert_eq "the same pods and containers after restart (adopted)" "$BEFORE" "$AFTER"
OUT=$(pgrep -fc "berth-shim --id .* --dir $DATA/")
assert_eq "no duplicate containers after restart" "$SHIMS_BEFORE" "$OUT"
kc get pods -l app=app -o jsonpath='{.items[*].status.containerStatuses[0].restartCount}'
assert_eq "no restarts from the adoption" "0 0" "$OUT"
kubectl scale deployment app --replicas=0 >/dev/null
kubectl delete svc app >/dev/null

# --- everything deleted: nothing left behind ------------------------------------------
kubectl delete deployment app --wait=false >/dev/null
kubectl delete job hello >/dev/null
kubectl delete pod --all --grace-period=1 --wait=false >/dev/null
wait_for 60 bash -c "[[ -z \$(kubectl get pods -o name) ]]" && pass "all pods deleted" || fail "pods deleted" "$(kubectl get pods)"
wait_for 20 bash -c "[[ -z \$(ls $DATA/node/pods 2>/dev/null) ]]" && pass "no pod directories left" || fail "pod dirs" "$(ls $DATA/node/pods)"
OUT=$(findmnt -rn -o TARGET | grep -c "^$DATA/" || true)
assert_eq "no mounts left under the data dir" "0" "$OUT"
# The runtime's state lives on tmpfs, one directory per data dir.
RUNTIME_ROOT=/run/berth/runtime-$(printf '%s' "$(realpath "$DATA")" | sha256sum | cut -c1-12)
[[ -d "$RUNTIME_ROOT" ]] && pass "the runtime state is on tmpfs at $RUNTIME_ROOT" || fail "runtime root $RUNTIME_ROOT"
OUT=$(ls "$RUNTIME_ROOT" 2>/dev/null | wc -l)
assert_eq "no containers left in the runtime" "0" "$OUT"
OUT=$(ls /sys/fs/cgroup/memory/berth 2>/dev/null | grep -c '^pod' || true)
assert_eq "no pod cgroups left" "$CGROUPS_BEFORE" "$OUT"
OUT=$(pgrep -f "berth-shim --id .* --dir $DATA/" | wc -l)
assert_eq "no container shims left" "0" "$OUT"
OUT=$(ls /run/berth/netns | grep -c . || true)
assert_eq "no pod network namespaces left" "0" "$OUT"

wait_for 5 bash -c "[[ \$(ps -o stat= --ppid $SERVER_PID | grep -c '^Z') -eq 0 ]]" &&
  pass "no zombie children of the server (orphans are reaped)" || fail "zombies" "$(ps -o pid,stat,cmd --ppid $SERVER_PID)"

finish
