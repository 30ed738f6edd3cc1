#!/usr/bin/env bash
# kubectl exec, cp, port-forward and top against real containers: the API
# server relays the upgraded connections to the node agent's kubelet API,
# which runs `crun exec` (pipes or a terminal), speaks SPDY for port-forward
# and reads cgroup counters for metrics.k8s.io.
source "$(dirname "$0")/lib.sh" "$@"

SERVER_ARGS=(--node-name e2e-node)
import_busybox_image

start_server
expect_node_ready

kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  containers:
  - name: main
    image: busybox:test
    imagePullPolicy: Never
    command: ["sh", "-c", "echo ready; exec sleep 3600"]
  - name: side
    image: busybox:test
    imagePullPolicy: Never
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: web
    image: busybox:test
    imagePullPolicy: Never
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    readinessProbe: {httpGet: {path: /index.html, port: 8080}, periodSeconds: 1}
EOF
check_wait "pods shell and web run" 60 bash -c \
  "[[ \$(kubectl get pods shell web -o jsonpath='{.items[*].status.phase}') == 'Running Running' ]]" ||
  fail "pods" "$(kubectl describe pods 2>&1 | tail -30)"
wait_for 30 bash -c "kubectl get pod web -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -q True"

# --- exec ----------------------------------------------------------------------
expect_ok "exec prints the command's output" kubectl exec shell -c main -- echo hello from exec
assert_eq "exec output" "hello from exec" "$OUT"
kc exec shell -c main -- sh -c 'echo out; echo err >&2'
assert_eq "exec carries stdout and stderr" "out
err" "$(sort -r <<<"$OUT")"
kc exec shell -c side -- cat /proc/1/cmdline
assert_contains "exec -c picks the container" "$OUT" "sleep"
rc=0
OUT=$(kubectl exec shell -c main -- sh -c 'echo partial; exit 3' 2>&1) || rc=$?
assert_eq "exec propagates exit code 3" "3" "$rc"
assert_contains "kubectl reports the exit code" "$OUT" "command terminated with exit code 3"
OUT=$(printf 'line one\nline two\n' | kubectl exec -i shell -c main -- cat)
assert_eq "exec -i feeds stdin and ends on EOF" "line one
line two" "$OUT"
OUT=$(head -c 300000 /dev/urandom | base64 -w0 | kubectl exec -i shell -c main -- busybox wc -c)
assert_eq "exec -i carries 400 KB of stdin" "400000" "$(tr -d ' ' <<<"$OUT")"
expect_fail "exec into a missing container fails" kubectl exec shell -c nosuch -- true
assert_contains "the error names the container" "$OUT" "nosuch"
expect_fail "exec of a missing command fails" kubectl exec shell -c main -- /no/such/binary
OUT=$(script -qec "kubectl exec -it shell -c main -- sh -c 'tty; echo TTY-DONE'" /dev/null </dev/null 2>&1)
assert_contains "exec -it gives the command a terminal" "$OUT" "/dev/pts/"
assert_contains "exec -it runs to completion" "$OUT" "TTY-DONE"
# kubectl sends its terminal's size (channel 4) as the session starts; the
# command polls until it has arrived.
OUT=$(script -qec "stty cols 123 rows 45; kubectl exec -it shell -c main -- sh -c \
  'for i in \$(busybox seq 50); do s=\$(busybox stty size); [ \"\$s\" != \"0 0\" ] && break; busybox usleep 100000; done; echo size \$s'" \
  /dev/null </dev/null 2>&1)
assert_contains "exec -it applies kubectl's terminal size" "$OUT" "size 45 123"
rc=0
script -qec "kubectl exec -it shell -c main -- sh -c 'exit 4'" /dev/null </dev/null >/dev/null 2>&1 || rc=$?
assert_eq "exec -it propagates the exit code" "4" "$rc"

# --- cp (exec + tar) -------------------------------------------------------------
head -c 200000 /dev/urandom >"$E2E_TMP/blob"
mkdir -p "$E2E_TMP/dir/sub" && echo nested >"$E2E_TMP/dir/sub/file.txt"
expect_ok "cp a file into the pod" kubectl cp "$E2E_TMP/blob" shell:/tmp/blob -c main
kc exec shell -c main -- busybox md5sum /tmp/blob
assert_eq "the copied file is intact in the pod" "$(md5sum <"$E2E_TMP/blob" | cut -d' ' -f1)" "$(cut -d' ' -f1 <<<"$OUT")"
expect_ok "cp a file out of the pod" kubectl cp shell:/tmp/blob "$E2E_TMP/blob.back" -c main
assert_eq "the file copied back is identical" "$(md5sum <"$E2E_TMP/blob" | cut -d' ' -f1)" \
  "$(md5sum <"$E2E_TMP/blob.back" 2>/dev/null | cut -d' ' -f1)"
expect_ok "cp a directory into the pod" kubectl cp "$E2E_TMP/dir" shell:/tmp/dir -c main
kc exec shell -c main -- cat /tmp/dir/sub/file.txt
assert_eq "the directory arrived" "nested" "$OUT"
expect_ok "cp a directory out of the pod" kubectl cp shell:/tmp/dir "$E2E_TMP/dir.back" -c main
assert_eq "the directory came back" "nested" "$(cat "$E2E_TMP/dir.back/sub/file.txt" 2>&1)"

# --- port-forward ------------------------------------------------------------------
PF_LOG="$E2E_TMP/pf.log"
bg kubectl port-forward pod/web :8080 >"$PF_LOG" 2>&1
PF_PID=$BG_PID
if wait_for 20 grep -q "Forwarding from 127.0.0.1:" "$PF_LOG"; then
  LPORT=$(sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) .*/\1/p' "$PF_LOG" | head -1)
  OUT=$(curl -s --max-time 10 "http://127.0.0.1:$LPORT/index.html")
  assert_eq "port-forward reaches the pod's server" "hello from berth" "$OUT"
  OUT=$(for i in 1 2 3; do curl -s --max-time 10 "http://127.0.0.1:$LPORT/index.html"; done)
  assert_eq "port-forward serves several connections" "hello from berthhello from berthhello from berth" \
    "$(tr -d '\n' <<<"$OUT")"
  kill "$PF_PID" 2>/dev/null
else
  fail "port-forward starts" "$(cat "$PF_LOG")"
fi
PF2_LOG="$E2E_TMP/pf2.log"
bg kubectl port-forward pod/web :9 >"$PF2_LOG" 2>&1
if wait_for 20 grep -q "Forwarding from 127.0.0.1:" "$PF2_LOG"; then
  LPORT=$(sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) .*/\1/p' "$PF2_LOG" | head -1)
  curl -s --max-time 5 "http://127.0.0.1:$LPORT/" >/dev/null
  check_wait "port-forward to a closed port reports the error" 10 grep -q "error forwarding port 9" "$PF2_LOG" ||
    fail "port-forward error" "$(cat "$PF2_LOG")"
  kill "$BG_PID" 2>/dev/null
else
  fail "port-forward to port 9 starts" "$(cat "$PF2_LOG")"
fi

# --- top ---------------------------------------------------------------------------
kc get --raw /apis/metrics.k8s.io/v1beta1
assert_contains "metrics.k8s.io is discoverable" "$OUT" '"name":"pods"'
check_wait "kubectl top pods shows the pods" 60 bash -c \
  "kubectl top pods 2>/dev/null | grep -q '^shell ' && kubectl top pods 2>/dev/null | grep -q '^web '" ||
  fail "top pods" "$(kubectl top pods 2>&1)"
kc top pods --containers
assert_match "top --containers shows each container with usage" "$OUT" 'shell +side +[0-9]+m +[0-9]+Mi'
check_wait "kubectl top nodes shows the node" 30 bash -c "kubectl top nodes 2>/dev/null | grep -Eq '^e2e-node +[0-9]+m +[0-9]+% +[0-9]+Mi +[0-9]+%'" ||
  fail "top nodes" "$(kubectl top nodes 2>&1)"
kc get --raw /apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web
assert_contains "a single PodMetrics" "$OUT" '"kind":"PodMetrics"'
expect_fail "metrics of a missing pod are NotFound" kubectl get --raw /apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nosuch

# --- a completed pod refuses exec ----------------------------------------------------
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: busybox:test, imagePullPolicy: Never, command: ["true"]}
EOF
check_wait "pod done completes" 60 bash -c "kubectl get pod done -o jsonpath='{.status.phase}' | grep -q Succeeded"
expect_fail "exec into a completed pod fails" kubectl exec done -- true
assert_contains "the error says why" "$OUT" "completed pod"

# --- clean up ------------------------------------------------------------------------
kubectl delete pod shell web done --grace-period=1 --wait=false >/dev/null
check_wait "all pods deleted" 60 bash -c "[[ -z \$(kubectl get pods -o name) ]]" || fail "pods" "$(kubectl get pods)"
check_wait "no pod directories left" 20 bash -c "[[ -z \$(ls $DATA/node/pods 2>/dev/null) ]]"

wait_for 5 bash -c "[[ \$(ps -o stat= --ppid $SERVER_PID | grep -c '^Z') -eq 0 ]]" &&
  pass "no zombie children of the server (orphans are reaped)" || fail "zombies" "$(ps -o pid,stat,cmd --ppid $SERVER_PID)"

finish
