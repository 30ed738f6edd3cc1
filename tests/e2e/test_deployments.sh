#!/usr/bin/env bash
# Deployment -> ReplicaSet -> Pod, scale, rollouts, history, undo, pause,
# restart. There is no kubelet, so pods stay Pending (as on a cluster without
# nodes).
source "$(dirname "$0")/lib.sh" "$@"
start_server
M="$E2E_TMP/manifests"
mkdir -p "$M"

cat >"$M/web.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.26
        ports: [{containerPort: 80}]
EOF

rs_count() { kubectl get rs -l app=web -o json | jq '.items | length'; }
pod_count() { kubectl get pods -l app=web -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length'; }
rs_json() { kubectl get rs -l app=web -o json; }
# rs_revision <rs-name>
rs_revision() { kubectl get rs "$1" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}'; }
# The ReplicaSet whose template has image $1.
rs_for_image() { rs_json | jq -r --arg img "$1" '.items[] | select(.spec.template.spec.containers[0].image == $img) | .metadata.name'; }
observed() {
  local d; d=$(kubectl get deploy web -o json) || return 1
  [[ "$(jq -r .metadata.generation <<<"$d")" == "$(jq -r .status.observedGeneration <<<"$d")" ]]
}

log "create"
expect_ok "apply deployment" kubectl apply -f "$M/web.yaml"
check_wait "a ReplicaSet is created" 20 bash -c "[[ \$(kubectl get rs -l app=web -o name | wc -l) == 1 ]]"
rs1=$(rs_json | jq -r '.items[0].metadata.name')
rs=$(kubectl get rs "$rs1" -o json)
dep=$(kubectl get deploy web -o json)
duid=$(jget "$dep" .metadata.uid)
hash=$(jget "$rs" '.metadata.labels["pod-template-hash"]')
assert_match "RS has a pod-template-hash label" "$hash" '^[a-z0-9]{6,10}$'
assert_eq "RS name is <deploy>-<hash>" "web-$hash" "$rs1"
assert_eq "RS selector has the hash" "$hash" "$(jget "$rs" '.spec.selector.matchLabels["pod-template-hash"]')"
assert_eq "RS template labels have the hash" "$hash" "$(jget "$rs" '.spec.template.metadata.labels["pod-template-hash"]')"
assert_eq "RS controller ownerRef is the deployment" "apps/v1/Deployment/web/$duid/true" \
  "$(jget "$rs" '.metadata.ownerReferences[0] | "\(.apiVersion)/\(.kind)/\(.name)/\(.uid)/\(.controller)"')"
assert_eq "RS revision 1" "1" "$(rs_revision "$rs1")"
check_wait "2 pods are created" 20 bash -c "[[ \$(kubectl get pods -l app=web -o name | wc -l) == 2 ]]"
pods=$(kubectl get pods -l app=web -o json)
assert_eq "pods are Pending" "Pending Pending" "$(jq -r '[.items[].status.phase] | join(" ")' <<<"$pods")"
assert_eq "pods are owned by the RS" "$rs1 $rs1" "$(jq -r '[.items[].metadata.ownerReferences[] | select(.controller) | .name] | join(" ")' <<<"$pods")"
assert_eq "pods carry pod-template-hash" "$hash $hash" "$(jq -r '[.items[].metadata.labels["pod-template-hash"]] | join(" ")' <<<"$pods")"
assert_match "pod names are <rs>-<suffix>" "$(jq -r '.items[0].metadata.name' <<<"$pods")" "^$rs1-[a-z0-9]{5}\$"
check_wait "deployment status observed" 20 observed
dep=$(kubectl get deploy web -o json)
assert_eq "deployment revision annotation" "1" "$(jget "$dep" '.metadata.annotations["deployment.kubernetes.io/revision"]')"
assert_eq "status.replicas" "2" "$(jget "$dep" .status.replicas)"
assert_eq "status.updatedReplicas" "2" "$(jget "$dep" .status.updatedReplicas)"
assert_eq "Available condition (no nodes: False)" "False/MinimumReplicasUnavailable" \
  "$(jget "$dep" '.status.conditions[] | select(.type=="Available") | "\(.status)/\(.reason)"')"
assert_eq "Progressing condition True" "True" "$(jget "$dep" '.status.conditions[] | select(.type=="Progressing") | .status')"
expect_ok "kubectl wait --for=condition=Progressing" kubectl wait --for=condition=Progressing deploy/web --timeout=20s
expect_ok "get deploy" kubectl get deploy web
assert_match "get deploy columns" "$OUT" $'NAME +READY +UP-TO-DATE +AVAILABLE +AGE\nweb +0/2 +2 +0 +'

log "scale"
expect_ok "kubectl scale --replicas=3" kubectl scale deploy web --replicas=3
assert_eq "scale output" "deployment.apps/web scaled" "$OUT"
check_wait "3 pods after scale up" 20 bash -c "[[ \$(kubectl get pods -l app=web -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length') == 3 ]]"
assert_eq "RS scaled to 3" "3" "$(kubectl get rs "$rs1" -o jsonpath='{.spec.replicas}')"
sc=$(kcurl /apis/apps/v1/namespaces/default/deployments/web/scale)
assert_eq "GET /scale" "Scale autoscaling/v1 3 app=web" "$(jget "$sc" '"\(.kind) \(.apiVersion) \(.spec.replicas) \(.status.selector)"')"
code=$(http_code /apis/apps/v1/namespaces/default/deployments/web/scale -X PUT -H 'Content-Type: application/json' \
  -d '{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web","namespace":"default"},"spec":{"replicas":1}}')
assert_eq "PUT /scale 200" "200" "$code"
assert_eq "deployment spec.replicas via /scale" "1" "$(kubectl get deploy web -o jsonpath='{.spec.replicas}')"
check_wait "1 pod after scale down" 20 bash -c "[[ \$(kubectl get pods -l app=web -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length') == 1 ]]"
code=$(http_code /apis/apps/v1/namespaces/default/deployments/web/scale -X PATCH \
  -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"replicas":-1}}')
assert_eq "negative replicas via /scale -> 422" "422" "$code"
expect_ok "scale back to 2" kubectl scale deploy/web --replicas=2
check_wait "2 pods again" 20 bash -c "[[ \$(kubectl get pods -l app=web -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length') == 2 ]]"

log "set image / history / undo"
expect_ok "set image" kubectl set image deploy/web nginx=nginx:1.27
assert_eq "set image output" "deployment.apps/web image updated" "$OUT"
check_wait "a second RS appears" 20 bash -c "[[ \$(kubectl get rs -l app=web -o name | wc -l) == 2 ]]"
rs2=$(rs_for_image nginx:1.27)
assert_ne "new RS for nginx:1.27" "" "$rs2"
assert_eq "new RS revision 2" "2" "$(rs_revision "$rs2")"
check_wait "deployment revision 2" 20 bash -c "[[ \$(kubectl get deploy web -o jsonpath='{.metadata.annotations.deployment\\.kubernetes\\.io/revision}') == 2 ]]"
expect_ok "rollout history" kubectl rollout history deploy/web
assert_match "history lists revisions 1 and 2" "$OUT" $'REVISION +CHANGE-CAUSE\n1 +<none>\n2 +<none>'
expect_ok "rollout history --revision=1" kubectl rollout history deploy/web --revision=1
assert_match "revision 1 detail shows the old image" "$OUT" 'Image:[[:space:]]+nginx:1.26'
assert_contains "revision 1 detail shows the hash label" "$OUT" "pod-template-hash=$hash"

expect_ok "rollout undo" kubectl rollout undo deploy/web
assert_eq "undo output" "deployment.apps/web rolled back" "$OUT"
assert_eq "undo restored the template image" "nginx:1.26" "$(kubectl get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')"
check_wait "old RS gets revision 3" 20 bash -c "[[ \$(kubectl get rs $rs1 -o jsonpath='{.metadata.annotations.deployment\\.kubernetes\\.io/revision}') == 3 ]]"
assert_eq "undo reuses the old RS (still 2 RSes)" "2" "$(rs_count)"
expect_ok "rollout history after undo" kubectl rollout history deploy/web
assert_match "history after undo: revisions 2 and 3" "$OUT" $'REVISION +CHANGE-CAUSE\n2 +<none>\n3 +<none>'

expect_ok "rollout undo --to-revision=2" kubectl rollout undo deploy/web --to-revision=2
assert_eq "undo --to-revision image" "nginx:1.27" "$(kubectl get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}')"
check_wait "RS of revision 2 becomes revision 4" 20 bash -c "[[ \$(kubectl get rs $rs2 -o jsonpath='{.metadata.annotations.deployment\\.kubernetes\\.io/revision}') == 4 ]]"
assert_eq "still 2 RSes" "2" "$(rs_count)"
expect_fail "undo to a missing revision" kubectl rollout undo deploy/web --to-revision=42
assert_contains "missing revision message" "$OUT" "unable to find specified revision 42 in history"

log "pause / resume / restart"
expect_ok "rollout pause" kubectl rollout pause deploy/web
assert_eq "pause output" "deployment.apps/web paused" "$OUT"
expect_ok "set image while paused" kubectl set image deploy/web nginx=nginx:1.28
check_wait "controller observed the paused change" 20 observed
assert_eq "paused condition" "Unknown/DeploymentPaused" \
  "$(kubectl get deploy web -o json | jq -r '.status.conditions[] | select(.type=="Progressing") | "\(.status)/\(.reason)"')"
assert_eq "no new RS while paused" "2" "$(rs_count)"
expect_ok "rollout resume" kubectl rollout resume deploy/web
check_wait "resume creates the RS for nginx:1.28" 20 bash -c "[[ \$(kubectl get rs -l app=web -o name | wc -l) == 3 ]]"
rs3=$(rs_for_image nginx:1.28)
assert_eq "RS for nginx:1.28 has revision 5" "5" "$(rs_revision "$rs3")"

expect_ok "rollout restart" kubectl rollout restart deploy/web
assert_eq "restart output" "deployment.apps/web restarted" "$OUT"
assert_match "restartedAt annotation on the template" \
  "$(kubectl get deploy web -o jsonpath='{.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}')" '^20[0-9]{2}-'
check_wait "restart creates a new RS" 20 bash -c "[[ \$(kubectl get rs -l app=web -o name | wc -l) == 4 ]]"
check_wait "deployment status observed after restart" 20 observed
newest=$(kubectl get deploy web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')
assert_eq "restart is revision 6" "6" "$newest"
newrs=$(rs_json | jq -r '.items[] | select(.metadata.annotations["deployment.kubernetes.io/revision"] == "6") | .metadata.name')

expect_ok "describe deploy" kubectl describe deploy web
assert_match "describe shows NewReplicaSet" "$OUT" "NewReplicaSet: +$newrs \\([0-9]+/[0-9]+ replicas created\\)"
assert_match "describe shows OldReplicaSets" "$OUT" "OldReplicaSets: +.*$rs1"
assert_match "describe shows the selector" "$OUT" 'Selector: +app=web'
assert_match "describe shows ScalingReplicaSet events" "$OUT" "Normal +ScalingReplicaSet .* Scaled up replica set $newrs"

log "rollout status completes with zero replicas"
expect_ok "scale to 0" kubectl scale deploy web --replicas=0
expect_ok "rollout status" kubectl rollout status deploy/web --timeout=40s
assert_contains "rollout status success" "$OUT" 'deployment "web" successfully rolled out'
check_wait "all pods removed at 0 replicas" 20 bash -c "[[ \$(kubectl get pods -l app=web -o name | wc -l) == 0 ]]"

finish
