#!/usr/bin/env bash
# Create / read / update / delete through the real kubectl.
source "$(dirname "$0")/lib.sh" "$@"
start_server
M="$E2E_TMP/manifests"
mkdir -p "$M"

log "client-side apply: created / unchanged / configured"
cat >"$M/cm.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  labels: {app: web, tier: front}
data:
  mode: "one"
EOF
expect_ok "apply creates" kubectl apply -f "$M/cm.yaml"
assert_eq "apply: created" "configmap/app-config created" "$OUT"
expect_ok "apply again" kubectl apply -f "$M/cm.yaml"
assert_eq "apply: unchanged" "configmap/app-config unchanged" "$OUT"
sed -i 's/mode: "one"/mode: "two"/' "$M/cm.yaml"
expect_ok "apply changed manifest" kubectl apply -f "$M/cm.yaml"
assert_eq "apply: configured" "configmap/app-config configured" "$OUT"
cm=$(kubectl get cm app-config -o json)
assert_eq "applied data is stored" "two" "$(jget "$cm" .data.mode)"
assert_match "last-applied annotation is JSON ending in newline" \
  "$(jq -c '.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]' <<<"$cm")" 'mode\\":\\"two\\".*\}\\n"$'

log "server-side apply"
cat >"$M/ssa.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa-config
data:
  k: v1
EOF
expect_ok "apply --server-side creates" kubectl apply --server-side -f "$M/ssa.yaml"
assert_eq "ssa: serverside-applied" "configmap/ssa-config serverside-applied" "$OUT"
sed -i 's/k: v1/k: v2\n  extra: "yes"/' "$M/ssa.yaml"
expect_ok "apply --server-side updates" kubectl apply --server-side -f "$M/ssa.yaml"
ssa=$(kubectl get cm ssa-config -o json)
assert_eq "ssa update: k" "v2" "$(jget "$ssa" .data.k)"
assert_eq "ssa update: extra" "yes" "$(jget "$ssa" .data.extra)"

log "create -f, generateName, dry-run=server"
cat >"$M/sec.yaml" <<'EOF'
apiVersion: v1
kind: Secret
metadata:
  name: from-file
  labels: {app: db}
stringData:
  password: s3cret
EOF
expect_ok "create -f secret" kubectl create -f "$M/sec.yaml"
assert_eq "create -f: created" "secret/from-file created" "$OUT"
assert_eq "stringData stored base64 in data" "s3cret" "$(kubectl get secret from-file -o jsonpath='{.data.password}' | base64 -d)"
expect_fail "create -f twice fails" kubectl create -f "$M/sec.yaml"
assert_contains "AlreadyExists message" "$OUT" 'Error from server (AlreadyExists): error when creating "'"$M/sec.yaml"'": secrets "from-file" already exists'

cat >"$M/gen.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  generateName: gen-
  labels: {generated: "true"}
data: {x: "1"}
EOF
expect_ok "create -f with generateName" kubectl create -f "$M/gen.yaml" -o name
assert_match "generated name has random suffix" "$OUT" '^configmap/gen-[a-z0-9]{5}$'
gen1=${OUT#configmap/}
expect_ok "create -f with generateName again" kubectl create -f "$M/gen.yaml" -o name
assert_ne "second generated name differs" "configmap/$gen1" "$OUT"

expect_ok "create --dry-run=server" kubectl create configmap dry --from-literal=a=b --dry-run=server
assert_contains "dry-run reported" "$OUT" "configmap/dry created (server dry run)"
expect_fail "dry-run created nothing" kubectl get cm dry
assert_contains "dry-run object NotFound" "$OUT" 'configmaps "dry" not found'
expect_ok "apply --dry-run=server of a change" kubectl apply -f "$M/cm.yaml" --dry-run=server -o name
sed 's/mode: "two"/mode: "three"/' "$M/cm.yaml" | kubectl apply --dry-run=server -f - >/dev/null 2>&1
assert_eq "dry-run apply left data unchanged" "two" "$(kubectl get cm app-config -o jsonpath='{.data.mode}')"

log "create <generator> (protobuf bodies)"
expect_ok "create namespace" kubectl create namespace team-a
assert_eq "namespace created" "namespace/team-a created" "$OUT"
expect_ok "create configmap" kubectl -n team-a create configmap settings --from-literal=color=blue --from-literal=size=XL
expect_ok "create secret generic" kubectl -n team-a create secret generic creds --from-literal=user=admin
expect_ok "create deployment" kubectl -n team-a create deployment web --image=nginx:1.27 --replicas=2 --port=80
expect_ok "create service clusterip" kubectl -n team-a create service clusterip web --tcp=80:8080
assert_eq "configmap data from protobuf" "blue/XL" "$(kubectl -n team-a get cm settings -o jsonpath='{.data.color}/{.data.size}')"
assert_eq "secret data from protobuf" "admin" "$(kubectl -n team-a get secret creds -o jsonpath='{.data.user}' | base64 -d)"
dep=$(kubectl -n team-a get deploy web -o json)
assert_eq "deployment replicas from protobuf" "2" "$(jget "$dep" .spec.replicas)"
assert_eq "deployment image from protobuf" "nginx:1.27" "$(jget "$dep" '.spec.template.spec.containers[0].image')"
assert_eq "deployment containerPort from protobuf" "80" "$(jget "$dep" '.spec.template.spec.containers[0].ports[0].containerPort')"
assert_eq "deployment selector from protobuf" "web" "$(jget "$dep" .spec.selector.matchLabels.app)"
svc=$(kubectl -n team-a get svc web -o json)
assert_eq "service port from protobuf" "80" "$(jget "$svc" '.spec.ports[0].port')"
assert_eq "service targetPort (IntOrString) from protobuf" "8080" "$(jget "$svc" '.spec.ports[0].targetPort')"

log "get output formats and selectors"
expect_ok "get -o name" kubectl get cm -l app -o name
assert_eq "get -o name lists app-config" "configmap/app-config" "$OUT"
expect_ok "get -o yaml" kubectl get cm app-config -o yaml
assert_contains "yaml has kind" "$OUT" "kind: ConfigMap"
assert_contains "yaml has data" "$OUT" "mode: two"
expect_ok "get -o wide deploy" kubectl -n team-a get deploy -o wide
assert_match "wide has CONTAINERS IMAGES SELECTOR" "$OUT" 'CONTAINERS +IMAGES +SELECTOR'
assert_match "wide row" "$OUT" $'\nweb +[0-9]+/2 .* nginx +nginx:1.27 +app=web'
expect_ok "get -A" kubectl get cm -A
assert_match "-A has NAMESPACE column" "$OUT" '^NAMESPACE +NAME +DATA +AGE'
assert_match "-A row in team-a" "$OUT" $'\nteam-a +settings +2 '
assert_match "-A row in default" "$OUT" $'\ndefault +app-config +1 '
expect_ok "get -o json list" kubectl get cm -o json
assert_eq "json list kind" "List" "$(jget "$OUT" .kind)"

cat >"$M/labelled.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: l-a, labels: {env: prod, tier: web}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: l-b, labels: {env: dev, tier: web}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: l-c, labels: {env: qa}}
EOF
expect_ok "apply a multi-document file" kubectl apply -f "$M/labelled.yaml"
cat >"$M/list.yaml" <<'EOF'
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: li-1}, data: {k: "1"}}
- {apiVersion: v1, kind: Secret, metadata: {name: li-2}, stringData: {k: "2"}}
EOF
expect_ok "apply a kind: List" kubectl apply -f "$M/list.yaml"
assert_eq "List items created" $'configmap/li-1 created\nsecret/li-2 created' "$OUT"
expect_ok "delete a kind: List" kubectl delete -f "$M/list.yaml"
names() { kubectl get cm "$@" -o jsonpath='{range .items[*]}{.metadata.name} {end}'; }
assert_eq "-l env=prod" "l-a " "$(names -l env=prod)"
assert_eq "-l env!=prod (has env)" "l-b l-c " "$(names -l 'env,env!=prod')"
assert_eq "-l env in (dev,qa)" "l-b l-c " "$(names -l 'env in (dev,qa)')"
assert_eq "-l env notin (dev,qa) (has env)" "l-a " "$(names -l 'env,env notin (dev,qa)')"
assert_eq "-l tier (exists)" "l-a l-b " "$(names -l tier,env)"
assert_eq "-l !tier with env" "l-c " "$(names -l 'env,!tier')"
assert_eq "--field-selector metadata.name=" "l-b " "$(names --field-selector metadata.name=l-b)"
assert_eq "--field-selector metadata.name!= with label" "l-a l-c " "$(names -l env --field-selector metadata.name!=l-b)"
expect_ok "--show-labels" kubectl get cm l-a --show-labels
assert_match "--show-labels column" "$OUT" 'l-a +0 +[0-9a-z]+ +env=prod,tier=web'

log "label / annotate"
expect_ok "label" kubectl label cm l-c color=red
assert_eq "label added" "red" "$(kubectl get cm l-c -o jsonpath='{.metadata.labels.color}')"
expect_fail "label without --overwrite refuses change" kubectl label cm l-c color=blue
assert_contains "label conflict message" "$OUT" "'color' already has a value (red), and --overwrite is false"
expect_ok "label --overwrite" kubectl label cm l-c color=blue --overwrite
assert_eq "label overwritten" "blue" "$(kubectl get cm l-c -o jsonpath='{.metadata.labels.color}')"
expect_ok "label removal" kubectl label cm l-c color-
assert_eq "label removed" '{"env":"qa"}' "$(kubectl get cm l-c -o json | jq -c .metadata.labels)"
expect_ok "annotate" kubectl annotate cm l-c note='first note'
expect_ok "annotate --overwrite" kubectl annotate cm l-c note='second note' --overwrite
assert_eq "annotation overwritten" "second note" "$(kubectl get cm l-c -o jsonpath='{.metadata.annotations.note}')"
expect_ok "annotation removal" kubectl annotate cm l-c note-
assert_eq "annotation removed" "null" "$(kubectl get cm l-c -o json | jq -c '.metadata.annotations.note')"

log "patch"
expect_ok "patch --type=merge" kubectl patch cm l-a --type=merge -p '{"data":{"m":"1","n":"2"}}'
expect_ok "patch --type=merge null deletes" kubectl patch cm l-a --type=merge -p '{"data":{"n":null}}'
assert_eq "merge patch result" '{"m":"1"}' "$(kubectl get cm l-a -o json | jq -c .data)"
expect_ok "patch --type=json" kubectl patch cm l-a --type=json -p '[{"op":"add","path":"/data/j","value":"x"},{"op":"replace","path":"/data/m","value":"9"}]'
assert_eq "json patch result" '{"j":"x","m":"9"}' "$(kubectl get cm l-a -o json | jq -c -S .data)"
expect_fail "json patch test op failure" kubectl patch cm l-a --type=json -p '[{"op":"test","path":"/data/m","value":"nope"}]'
expect_ok "patch --type=strategic (containers merged by name)" kubectl -n team-a patch deploy web --type=strategic \
  -p '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.36"}]}}}}'
# As in Kubernetes: without $setElementOrder, patch items go before server-only ones.
assert_eq "strategic patch merged containers" "sidecar nginx" \
  "$(kubectl -n team-a get deploy web -o jsonpath='{.spec.template.spec.containers[*].name}')"
expect_ok "patch --type=strategic \$patch delete" kubectl -n team-a patch deploy web --type=strategic \
  -p '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}'
assert_eq "strategic delete directive" "nginx" \
  "$(kubectl -n team-a get deploy web -o jsonpath='{.spec.template.spec.containers[*].name}')"

log "edit with a scripted editor"
cat >"$E2E_TMP/editor.sh" <<'EOF'
#!/bin/sh
sed -i 's/mode: two/mode: edited/' "$1"
EOF
chmod +x "$E2E_TMP/editor.sh"
expect_ok "kubectl edit" env KUBE_EDITOR="$E2E_TMP/editor.sh" kubectl edit cm app-config
assert_eq "edit reported" "configmap/app-config edited" "$OUT"
assert_eq "edit stored" "edited" "$(kubectl get cm app-config -o jsonpath='{.data.mode}')"

log "byte-exact labels and annotations"
long=$(head -c 6000 /dev/zero | tr '\0' 'x')
weird=$'héllo wörld ✓ 日本語 🚀 "quoted" \\back\\slash\ttab\nnew line <&> ${notavar}'
jq -n --arg long "$long" --arg weird "$weird" '{apiVersion:"v1",kind:"ConfigMap",
  metadata:{name:"exact",labels:{"example.com/label-63":"a123456789b123456789c123456789d123456789e123456789f123456789abz",
  "k":"v.-_x"},annotations:{weird:$weird,long:$long,"empty":""}},data:{weird:$weird}}' >"$M/exact.json"
expect_ok "apply exotic metadata" kubectl apply -f "$M/exact.json"
ex=$(kubectl get cm exact -o json)
assert_eq "unicode annotation byte-exact" "$weird" "$(jq -j .metadata.annotations.weird <<<"$ex")"
assert_eq "unicode data byte-exact" "$weird" "$(jq -j .data.weird <<<"$ex")"
assert_eq "long annotation byte-exact" "$long" "$(jq -j .metadata.annotations.long <<<"$ex")"
assert_eq "empty annotation kept" '""' "$(jq -c .metadata.annotations.empty <<<"$ex")"
assert_eq "63-char label value exact" "a123456789b123456789c123456789d123456789e123456789f123456789abz" \
  "$(jq -r '.metadata.labels["example.com/label-63"]' <<<"$ex")"
la=$(jq -r '.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]' <<<"$ex")
assert_eq "last-applied keeps unicode" "$weird" "$(jq -j .metadata.annotations.weird <<<"$la")"
expect_ok "re-apply exotic metadata" kubectl apply -f "$M/exact.json"
assert_eq "exotic re-apply is unchanged" "configmap/exact unchanged" "$OUT"

log "describe"
expect_ok "create pod" kubectl run solo --image=busybox:1.36 --labels=run=solo -- sleep 3600
uid=$(kubectl get pod solo -o jsonpath='{.metadata.uid}')
jq -n --arg uid "$uid" '{apiVersion:"v1",kind:"Event",metadata:{name:"solo.e2e1"},
  involvedObject:{apiVersion:"v1",kind:"Pod",name:"solo",namespace:"default",uid:$uid},
  reason:"E2eTesting",message:"hello from the e2e suite",type:"Warning",count:1,
  firstTimestamp:"2025-01-01T00:00:00Z",lastTimestamp:"2025-01-01T00:00:00Z",source:{component:"e2e"}}' >"$M/ev.json"
expect_ok "create event for the pod" kubectl create -f "$M/ev.json"
expect_ok "describe pod" kubectl describe pod solo
assert_match "describe pod: name" "$OUT" $'^Name: +solo\n'
assert_match "describe pod: image" "$OUT" 'Image: +busybox:1.36'
assert_match "describe pod: event shown" "$OUT" 'Warning +E2eTesting +.* +e2e +hello from the e2e suite'
expect_ok "describe deployment" kubectl -n team-a describe deploy web
assert_match "describe deploy: replicas" "$OUT" 'Replicas: +2 desired'
assert_match "describe deploy: ScalingReplicaSet event" "$OUT" 'Normal +ScalingReplicaSet +.*Scaled up replica set web-[a-z0-9]+ .*to 2'

log "delete"
expect_ok "delete configmap" kubectl delete cm l-a
assert_eq "delete output" 'configmap "l-a" deleted' "$OUT"
expect_fail "get deleted" kubectl get cm l-a
assert_eq "get deleted: NotFound" 'Error from server (NotFound): configmaps "l-a" not found' "$OUT"
expect_fail "delete missing" kubectl delete cm l-a
assert_eq "delete missing: NotFound" 'Error from server (NotFound): configmaps "l-a" not found' "$OUT"
expect_ok "delete -l" kubectl delete cm -l env
assert_eq "delete -l removed all matches" "" "$(names -l env)"
expect_ok "delete -f" kubectl delete -f "$M/sec.yaml"
expect_fail "secret gone" kubectl get secret from-file

finish
