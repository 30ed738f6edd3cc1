#!/usr/bin/env bash
# Garbage collection: cascading deletes (background, orphan, foreground),
# namespace deletion, finalizers.
source "$(dirname "$0")/lib.sh" "$@"
start_server
M="$E2E_TMP/manifests"
mkdir -p "$M"

# deploy_manifest <name> <replicas>
deploy_manifest() {
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: $2
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec: {containers: [{name: c, image: busybox:1.36}]}
EOF
}
count() { kubectl get "$@" -o name 2>/dev/null | wc -l; }
# count_is <n> <kubectl get args...>
count_is() { local n=$1; shift; [[ "$(count "$@")" == "$n" ]]; }

log "background cascade"
deploy_manifest bg 2 >"$M/bg.yaml"
expect_ok "create deployment bg" kubectl apply -f "$M/bg.yaml"
check_wait "bg: RS created" 20 count_is 1 rs -l app=bg
check_wait "bg: 2 pods created" 20 count_is 2 pods -l app=bg
expect_ok "delete deployment (background)" kubectl delete deploy bg
assert_eq "delete output" 'deployment.apps "bg" deleted' "$OUT"
check_wait "bg: RS garbage-collected" 20 count_is 0 rs -l app=bg
check_wait "bg: pods garbage-collected" 20 count_is 0 pods -l app=bg

log "orphan cascade"
deploy_manifest orph 2 >"$M/orph.yaml"
expect_ok "create deployment orph" kubectl apply -f "$M/orph.yaml"
check_wait "orph: 2 pods created" 20 count_is 2 pods -l app=orph
rsname=$(kubectl get rs -l app=orph -o jsonpath='{.items[0].metadata.name}')
expect_ok "delete --cascade=orphan" kubectl delete deploy orph --cascade=orphan
expect_fail "orph: deployment gone" kubectl get deploy orph
check_wait "orph: RS loses its ownerReferences" 20 bash -c \
  "kubectl get rs $rsname -o json | jq -e '(.metadata.ownerReferences // []) | length == 0'"
assert_eq "orph: RS still exists" "1" "$(count rs -l app=orph)"
assert_eq "orph: pods still exist" "2" "$(count pods -l app=orph)"
assert_eq "orph: pods still owned by the RS" "$rsname $rsname" \
  "$(kubectl get pods -l app=orph -o json | jq -r '[.items[].metadata.ownerReferences[0].name] | join(" ")')"
assert_eq "orph: orphan finalizer cleared from the RS" "null" "$(kubectl get rs "$rsname" -o json | jq -c .metadata.finalizers)"
# The orphaned RS is independent: deleting it now cascades to its pods.
expect_ok "delete orphaned RS" kubectl delete rs "$rsname"
check_wait "orph: pods collected with the RS" 20 count_is 0 pods -l app=orph

log "foreground cascade"
deploy_manifest fg 2 >"$M/fg.yaml"
expect_ok "create deployment fg" kubectl apply -f "$M/fg.yaml"
check_wait "fg: 2 pods created" 20 count_is 2 pods -l app=fg
expect_ok "delete --cascade=foreground (waits)" kubectl delete deploy fg --cascade=foreground --timeout=40s
expect_fail "fg: deployment gone" kubectl get deploy fg
assert_eq "fg: RS gone before the owner" "0" "$(count rs -l app=fg)"
assert_eq "fg: pods gone before the owner" "0" "$(count pods -l app=fg)"

# Foreground deletion is held by a dependent that has a finalizer.
expect_ok "create parent configmap" kubectl create configmap parent --from-literal=a=1
puid=$(kubectl get cm parent -o jsonpath='{.metadata.uid}')
jq -n --arg uid "$puid" '{apiVersion:"v1",kind:"ConfigMap",metadata:{name:"child",finalizers:["example.com/hold"],
  ownerReferences:[{apiVersion:"v1",kind:"ConfigMap",name:"parent",uid:$uid,blockOwnerDeletion:true}]}}' >"$M/child.json"
expect_ok "create child with ownerRef and finalizer" kubectl create -f "$M/child.json"
expect_ok "foreground delete parent (no wait)" kubectl delete cm parent --cascade=foreground --wait=false
check_wait "child gets a deletionTimestamp" 20 bash -c "kubectl get cm child -o jsonpath='{.metadata.deletionTimestamp}' | grep -q T"
p=$(kubectl get cm parent -o json)
assert_eq "parent waits with the foregroundDeletion finalizer" '["foregroundDeletion"]' "$(jq -c .metadata.finalizers <<<"$p")"
assert_ne "parent has a deletionTimestamp" "null" "$(jq -r .metadata.deletionTimestamp <<<"$p")"
expect_ok "release the child's finalizer" kubectl patch cm child --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
check_wait "child deleted" 20 bash -c "! kubectl get cm child"
check_wait "parent deleted once the child is gone" 20 bash -c "! kubectl get cm parent"

log "finalizers"
cat >"$M/fin.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: guarded
  finalizers: [example.com/one, example.com/two]
data: {k: v}
EOF
expect_ok "create object with finalizers" kubectl apply -f "$M/fin.yaml"
expect_ok "delete it (no wait)" kubectl delete cm guarded --wait=false
g=$(kubectl get cm guarded -o json)
assert_ne "still present with a deletionTimestamp" "null" "$(jq -r .metadata.deletionTimestamp <<<"$g")"
assert_eq "finalizers kept" '["example.com/one","example.com/two"]' "$(jq -c .metadata.finalizers <<<"$g")"
expect_fail "adding a finalizer while deleting is refused" \
  kubectl patch cm guarded --type=json -p '[{"op":"add","path":"/metadata/finalizers/-","value":"example.com/three"}]'
assert_contains "refusal reason" "$OUT" \
  'The ConfigMap "guarded" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/three"}'
expect_ok "remove one finalizer" kubectl patch cm guarded --type=json -p '[{"op":"remove","path":"/metadata/finalizers/0"}]'
assert_eq "one finalizer left, still there" '["example.com/two"]' "$(kubectl get cm guarded -o json | jq -c .metadata.finalizers)"
expect_ok "remove the last finalizer" kubectl patch cm guarded --type=merge -p '{"metadata":{"finalizers":[]}}'
check_wait "object is gone once finalizers are empty" 20 bash -c "! kubectl get cm guarded"

log "namespace deletion"
expect_ok "create namespace doomed" kubectl create namespace doomed
expect_ok "deployment in doomed" bash -c "$(declare -f deploy_manifest); deploy_manifest app 2 | kubectl -n doomed apply -f -"
expect_ok "configmap in doomed" kubectl -n doomed create configmap c1 --from-literal=a=b
cat >"$M/nsfin.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: sticky
  namespace: doomed
  finalizers: [example.com/hold]
EOF
expect_ok "finalized configmap in doomed" kubectl apply -f "$M/nsfin.yaml"
check_wait "doomed: pods created" 20 count_is 2 pods -n doomed
expect_ok "delete namespace (no wait)" kubectl delete namespace doomed --wait=false
check_wait "namespace is Terminating" 20 bash -c "kubectl get ns doomed -o jsonpath='{.status.phase}' | grep -qx Terminating"
expect_fail "create in a terminating namespace" kubectl -n doomed create configmap late --from-literal=a=b
assert_contains "Forbidden: namespace is terminating" "$OUT" \
  'error: failed to create configmap: configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated'
kubectl -n doomed create configmap late2 -o json --dry-run=client | jq '.metadata.name = "late2"' >"$M/late2.json"
expect_fail "create -f in a terminating namespace" kubectl -n doomed create -f "$M/late2.json"
assert_contains "Forbidden via create -f" "$OUT" \
  'Error from server (Forbidden): error when creating "'"$M/late2.json"'": configmaps "late2" is forbidden: unable to create new content in namespace doomed because it is being terminated'
check_wait "doomed: deployment, RS, pods and plain configmap removed" 30 bash -c \
  "[[ \$(kubectl -n doomed get deploy,rs,pods -o name | wc -l) == 0 ]] && ! kubectl -n doomed get cm c1"
assert_eq "namespace still Terminating while a finalizer holds content" "Terminating" \
  "$(kubectl get ns doomed -o jsonpath='{.status.phase}')"
expect_ok "release the finalizer" kubectl -n doomed patch cm sticky --type=merge -p '{"metadata":{"finalizers":null}}'
check_wait "namespace goes away" 30 bash -c "! kubectl get ns doomed"
expect_fail "get deleted namespace" kubectl get ns doomed
assert_eq "NotFound for the namespace" 'Error from server (NotFound): namespaces "doomed" not found' "$OUT"
expect_ok "namespace can be created again" kubectl create namespace doomed
expect_ok "and is empty" kubectl -n doomed get cm -o name
# kube-root-ca.crt is the one ConfigMap every namespace gets anew.
assert_eq "no leftovers in the recreated namespace" "" "$(grep -v '^configmap/kube-root-ca.crt$' <<<"$OUT")"

finish
