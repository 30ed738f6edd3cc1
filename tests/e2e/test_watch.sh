#!/usr/bin/env bash
# Watches: kubectl get -w, kubectl wait, resume from a resourceVersion, 410
# after compaction, timeoutSeconds.
source "$(dirname "$0")/lib.sh" "$@"
start_server
M="$E2E_TMP/manifests"
mkdir -p "$M"

log "kubectl get pods -w"
W="$E2E_TMP/getw.out"
bg kubectl get pods -w --request-timeout=0 >"$W" 2>&1
getw_pid=$BG_PID
expect_ok "run a pod" kubectl run watched --image=busybox:1.36 -- sleep 3600
check_wait "get -w sees the created pod" 20 grep -qE '^watched +0/1 +Pending' "$W"
expect_ok "label the pod" kubectl label pod watched seen=yes
expect_ok "delete the pod" kubectl delete pod watched --wait=false
# The deletion is one more row for the same pod.
check_wait "get -w sees further events for the pod" 20 bash -c "[[ \$(grep -c '^watched ' '$W') -ge 2 ]]"
if kill -0 "$getw_pid" 2>/dev/null; then pass "get -w keeps the stream open"; else
  fail "get -w keeps the stream open" "$(cat "$W")"; fi

log "kubectl wait --for=delete (object held by a finalizer)"
cat >"$M/fin.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  finalizers: [example.com/hold]
data: {a: "1"}
EOF
expect_ok "create finalized configmap" kubectl apply -f "$M/fin.yaml"
expect_ok "delete --wait=false" kubectl delete cm held --wait=false
check_wait "configmap has a deletionTimestamp" 10 bash -c \
  "kubectl get cm held -o jsonpath='{.metadata.deletionTimestamp}' | grep -q T"
bg kubectl wait --for=delete cm/held --timeout=40s >"$E2E_TMP/wait.out" 2>&1
wait_pid=$BG_PID
# Let kubectl wait establish its watch: it lists+watches with a name field
# selector; poll the server's open-watch gauge until the watch is there.
check_wait "kubectl wait opened a watch" 20 bash -c \
  "curl -s --cacert '$DATA/pki/ca.crt' --cert '$DATA/pki/admin.crt' --key '$DATA/pki/admin.key' https://127.0.0.1:$PORT/metrics \
   | grep -E '^apiserver_longrunning_requests\\{verb=\"WATCH\"\\} [2-9]'"
if kill -0 "$wait_pid" 2>/dev/null; then pass "kubectl wait blocks while the finalizer is there"; else
  fail "kubectl wait blocks while the finalizer is there"; fi
expect_ok "remove the finalizer" kubectl patch cm held --type=merge -p '{"metadata":{"finalizers":null}}'
rc=0; wait "$wait_pid" || rc=$?
assert_eq "kubectl wait --for=delete returns 0 once the object is gone" "0" "$rc"
expect_fail "configmap is gone" kubectl get cm held

log "kubectl wait --for=condition=Established on a CRD"
cat >"$M/crd.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
EOF
expect_ok "apply CRD" kubectl apply -f "$M/crd.yaml"
expect_ok "kubectl wait --for=condition=Established" kubectl wait --for=condition=Established crd/widgets.example.com --timeout=30s
assert_eq "wait output" "customresourcedefinition.apiextensions.k8s.io/widgets.example.com condition met" "$OUT"
expect_ok "kubectl wait --for=jsonpath on the CRD" kubectl wait --for=jsonpath='{.status.acceptedNames.kind}'=Widget crd/widgets.example.com --timeout=30s

log "watch resume from a resourceVersion (curl)"
CM=/api/v1/namespaces/default/configmaps
mk() { kcurl "$CM" -H 'Content-Type: application/json' -d "{\"metadata\":{\"name\":\"$1\",\"labels\":{\"w\":\"r\"}},\"data\":{\"v\":\"$2\"}}"; }
a=$(mk res-a 1)
rv_a=$(jget "$a" .metadata.resourceVersion)
b=$(mk res-b 1)
rv_b=$(jget "$b" .metadata.resourceVersion)
kcurl "$CM/res-a" -X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"data":{"v":"2"}}' >/dev/null
if (( rv_b > rv_a )); then pass "resourceVersions increase ($rv_a < $rv_b)"; else fail "resourceVersions increase" "$rv_a, $rv_b"; fi
t0=$(date +%s%N)
ev=$(kcurl "$CM?watch=true&labelSelector=w%3Dr&resourceVersion=$rv_a&timeoutSeconds=2")
t1=$(date +%s%N)
types=$(jq -r '[.type, .object.metadata.name, .object.data.v] | join(":")' <<<"$ev" | tr '\n' ' ')
assert_eq "watch from RV sees only later changes, in order" "ADDED:res-b:1 MODIFIED:res-a:2 " "$types"
el=$(( (t1 - t0) / 1000000 ))
if (( el >= 1500 && el < 10000 )); then pass "timeoutSeconds=2 closes the stream (${el} ms)"; else
  fail "timeoutSeconds=2 closes the stream" "took ${el} ms"; fi
ev=$(kcurl "$CM?watch=true&labelSelector=w%3Dr&resourceVersion=0&timeoutSeconds=1")
assert_eq "watch from RV 0 starts with synthetic ADDED events" "ADDED:res-a ADDED:res-b " \
  "$(jq -r '[.type, .object.metadata.name] | join(":")' <<<"$ev" | sort | tr '\n' ' ')"
ev=$(kcurl "$CM?watch=true&fieldSelector=metadata.name%3Dres-b&resourceVersion=$rv_a&timeoutSeconds=1")
assert_eq "watch with a name field selector" "ADDED:res-b " "$(jq -r '[.type, .object.metadata.name] | join(":")' <<<"$ev" | tr '\n' ' ')"
bm=$(kcurl "$CM?watch=true&resourceVersion=$rv_b&timeoutSeconds=1&allowWatchBookmarks=true" | jq -r .type | sort -u | tr '\n' ' ')
assert_not_contains "no ERROR on a normal watch" "$bm" "ERROR"

log "watch from a compacted resourceVersion -> 410"
old_rv=$rv_a
# More than the store's history window (10000 revisions, compacted in steps
# of window/8): 5800 creates in parallel over keep-alive connections, then one
# deletecollection (5800 deletes).
N=5800
for ((i = 0; i < N; i++)); do printf 'url = "https://127.0.0.1:%s%s"\n-o /dev/null\n' "$PORT" "$CM"; done >"$E2E_TMP/bulk.cfg"
t0=$(date +%s)
codes=$(curl -sS -Z --parallel-max 16 --max-time 120 --cacert "$DATA/pki/ca.crt" --cert "$DATA/pki/admin.crt" --key "$DATA/pki/admin.key" \
  -H 'Content-Type: application/json' -d '{"metadata":{"generateName":"bulk-","labels":{"bulk":"1"}}}' \
  -K "$E2E_TMP/bulk.cfg" -w '%{http_code}\n' 2>/dev/null | sort | uniq -c | awk '{print $2"x"$1}' | tr '\n' ' ')
assert_eq "bulk creates all 201" "201x$N " "$codes"
code=$(http_code "$CM?labelSelector=bulk%3D1" -X DELETE --max-time 120)
assert_eq "deletecollection 200" "200" "$code"
log "bulk writes took $(( $(date +%s) - t0 )) s"
left=$(kcurl "$CM?labelSelector=bulk%3D1" | jq '.items | length')
assert_eq "deletecollection removed everything" "0" "$left"
gone() {
  kcurl "$CM?watch=true&resourceVersion=$old_rv&timeoutSeconds=1" >"$E2E_TMP/gone.out"
  [[ "$(head -n1 "$E2E_TMP/gone.out" | jq -r '.type + ":" + (.object.code|tostring)')" == "ERROR:410" ]]
}
check_wait "watch from an old RV gets ERROR 410 once compacted" 60 gone
g=$(head -n1 "$E2E_TMP/gone.out")
assert_eq "410 event is a Status with reason Expired" "Status:Expired:Failure" \
  "$(jq -r '.object.kind + ":" + .object.reason + ":" + .object.status' <<<"$g")"
assert_eq "the stream ends after the ERROR event" "1" "$(wc -l <"$E2E_TMP/gone.out" | tr -d ' ')"
# A current RV still works.
cur=$(kcurl "$CM?limit=1" | jq -r .metadata.resourceVersion)
mk res-c 1 >/dev/null
ev=$(kcurl "$CM?watch=true&resourceVersion=$cur&timeoutSeconds=1")
assert_eq "watch from a current RV still works" "ADDED:res-c " "$(jq -r '[.type, .object.metadata.name] | join(":")' <<<"$ev" | tr '\n' ' ')"
# kubectl get -w after the churn still sees new objects.
expect_ok "run a second pod" kubectl run after --image=busybox:1.36
check_wait "get -w still sees pods after the churn" 20 grep -qE '^after +0/1 +Pending' "$W"

finish
