#!/usr/bin/env bash
# The registry with real clients: skopeo, podman and buildah push and pull against a
# running `berth server` with digests compared end to end; Harbor's model
# (projects with members and roles, public projects, robot accounts, quotas);
# promotion by ArtifactCopy without moving bytes; push/delete events; garbage
# collection while pushes run, after which every pushed image pulls intact;
# and the node agent running pods from images in this registry (a public one
# and a private one through an imagePullSecret). Images are made locally (no
# network) by tests/images/make-oci-image.py.
source "$(dirname "$0")/lib.sh" "$@"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

SERVER_ARGS=(--node-name e2e-node)
# Users: static API tokens (the registry's password is an API token).
mkdir -p "$DATA/pki"
cat >"$DATA/pki/tokens" <<'EOF2'
admin-token admin system:masters
dev-token dev
qa-token qa
ops-token ops release
EOF2
chmod 600 "$DATA/pki/tokens"
start_server
REG="127.0.0.1:$PORT"
CERTS="$E2E_TMP/certs"      # trust Berth's CA only; no client certificate
mkdir -p "$CERTS"
cp "$DATA/pki/ca.crt" "$CERTS/ca.crt"
export REGISTRY_AUTH_FILE="$E2E_TMP/auth.json"  # never the host's credentials
echo '{}' >"$REGISTRY_AUTH_FILE"

sk() { local rc=0; OUT=$(skopeo --command-timeout 120s "$@" 2>&1) || rc=$?; return $rc; }
PODMAN=(podman --root "$E2E_TMP/podman/root" --runroot "$E2E_TMP/podman/run" --storage-driver vfs
  --cgroup-manager cgroupfs --events-backend none --tmpdir "$E2E_TMP/podman/tmp")
mkdir -p "$E2E_TMP/podman/tmp"
pm() { local rc=0; OUT=$("${PODMAN[@]}" "$@" 2>&1) || rc=$?; return $rc; }
# digest_of <docker-ref> <user:token>: the manifest digest the registry serves.
digest_of() { skopeo inspect --cert-dir "$CERTS" --creds "$2" --format '{{.Digest}}' "docker://$1" 2>/dev/null; }

log "images, made locally"
bash "$ROOT/tests/images/build-busybox-rootfs.sh" "$E2E_TMP/rootfs" >/dev/null || fail "build the busybox rootfs"
OCI="$E2E_TMP/oci"
APP1=$(python3 "$ROOT/tests/images/make-oci-image.py" "$OCI" app1 --rootfs "$E2E_TMP/rootfs" --random-layers 2 \
  --layer-size 2000000 --seed 1 --cmd '["/bin/sh", "-c", "echo hello from the registry; sleep 3600"]')
APP2=$(python3 "$ROOT/tests/images/make-oci-image.py" "$OCI" app2 --rootfs "$E2E_TMP/rootfs" --random-layers 1 \
  --layer-size 1500000 --seed 2)
for i in 1 2 3; do python3 "$ROOT/tests/images/make-oci-image.py" "$OCI" conc$i --random-layers 2 \
  --layer-size 1000000 --seed $((10 + i)) >"$E2E_TMP/conc$i.digest"; done
assert_match "the layout's manifest digest" "$APP1" '^sha256:[0-9a-f]{64}$'

log "projects"
kubectl apply -f - >/dev/null <<'EOF2'
apiVersion: registry.berth.dev/v1
kind: Project
metadata: {name: test}
spec:
  members:
  - {kind: User, name: dev, role: developer}
  - {kind: User, name: qa, role: guest}
---
apiVersion: registry.berth.dev/v1
kind: Project
metadata: {name: prod}
spec:
  members:
  - {kind: Group, name: release, role: maintainer}
  - {kind: User, name: qa, role: guest}
---
apiVersion: registry.berth.dev/v1
kind: Project
metadata: {name: pub}
spec: {public: true}
---
apiVersion: registry.berth.dev/v1
kind: Project
metadata: {name: tiny}
spec:
  storageLimit: 1Mi
  members: [{kind: User, name: dev, role: developer}]
EOF2
expect_ok "kubectl get projects" kubectl get projects
assert_match "projects are listed with their columns" "$OUT" 'NAME +PUBLIC +REPOSITORIES +USED +LIMIT +AGE'
assert_match "pub is public" "$OUT" $'\n''pub +true'
expect_fail "an invalid project name is refused" kubectl apply -f - <<'EOF2'
apiVersion: registry.berth.dev/v1
kind: Project
metadata: {name: Bad_Name}
EOF2
expect_fail "an unknown role is refused" kubectl apply -f - <<'EOF2'
apiVersion: registry.berth.dev/v1
kind: Project
metadata: {name: roles}
spec: {members: [{kind: User, name: x, role: owner}]}
EOF2
assert_contains "with the supported values" "$OUT" 'supported values: "admin", "maintainer", "developer", "guest"'

log "skopeo: push and pull with digests compared"
expect_ok "skopeo copy oci: -> docker:// as a developer" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" \
  --dest-creds dev:dev-token "oci:$OCI:app1" "docker://$REG/test/app:1"
assert_eq "the registry serves the layout's manifest digest" "$APP1" "$(digest_of "$REG/test/app:1" qa:qa-token)"
sk inspect --raw --cert-dir "$CERTS" --creds qa:qa-token "docker://$REG/test/app:1"
assert_eq "the raw manifest hashes to that digest" "${APP1#sha256:}" "$(printf '%s' "$OUT" | sha256sum | cut -d' ' -f1)"
expect_ok "skopeo copy docker:// -> oci: as a guest" skopeo copy --preserve-digests --src-cert-dir "$CERTS" \
  --src-creds qa:qa-token "docker://$REG/test/app:1" "oci:$E2E_TMP/pulled:app1"
ok=1
for b in "$E2E_TMP"/pulled/blobs/sha256/*; do
  [[ "$(sha256sum "$b" | cut -d' ' -f1)" == "$(basename "$b")" ]] || ok=0
done
assert_eq "every pulled blob matches its digest" 1 "$ok"
assert_eq "and the same blobs as the source" "$(ls "$OCI/blobs/sha256" | sort | comm -12 - <(ls "$E2E_TMP/pulled/blobs/sha256" | sort) | wc -l)" \
  "$(ls "$E2E_TMP/pulled/blobs/sha256" | wc -l)"
expect_ok "skopeo copy app2" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" --dest-creds dev:dev-token \
  "oci:$OCI:app2" "docker://$REG/test/app:2"
expect_ok "skopeo list-tags" skopeo list-tags --cert-dir "$CERTS" --creds qa:qa-token "docker://$REG/test/app"
assert_eq "both tags" '["1","2"]' "$(jq -c .Tags <<<"$OUT")"

log "access rules"
expect_fail "a guest cannot push" skopeo copy --dest-cert-dir "$CERTS" --dest-creds qa:qa-token \
  "oci:$OCI:app2" "docker://$REG/test/app:guest"
expect_fail "no credentials: no push" skopeo copy --dest-cert-dir "$CERTS" --dest-no-creds \
  "oci:$OCI:app2" "docker://$REG/test/app:anon"
expect_fail "no credentials: no pull from a private project" skopeo inspect --cert-dir "$CERTS" --no-creds \
  "docker://$REG/test/app:1"
expect_fail "a wrong password is refused" skopeo inspect --cert-dir "$CERTS" --creds dev:wrong "docker://$REG/test/app:1"
assert_contains "as unauthorized" "$OUT" "unauthorized"
expect_fail "a developer of test is not a member of prod" skopeo inspect --cert-dir "$CERTS" --creds dev:dev-token \
  "docker://$REG/prod/app:1"
expect_ok "a maintainer (through its group) pushes to prod" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" \
  --dest-creds ops:ops-token "oci:$OCI:app2" "docker://$REG/prod/other:1"
expect_ok "and deletes there" skopeo delete --cert-dir "$CERTS" --creds ops:ops-token "docker://$REG/prod/other:1"
expect_fail "a developer cannot delete" skopeo delete --cert-dir "$CERTS" --creds dev:dev-token "docker://$REG/test/app:2"
expect_fail "a pushed tag outside any project is refused" skopeo copy --dest-cert-dir "$CERTS" \
  --dest-creds admin:admin-token "oci:$OCI:app2" "docker://$REG/nosuchproject/app:1"
assert_contains "naming the missing project" "$OUT" 'project \"nosuchproject\" does not exist'

mkdir -p "$E2E_TMP/certs-admin"
cp "$DATA/pki/ca.crt" "$E2E_TMP/certs-admin/ca.crt"
cp "$DATA/pki/admin.crt" "$E2E_TMP/certs-admin/client.cert"
cp "$DATA/pki/admin.key" "$E2E_TMP/certs-admin/client.key"
expect_ok "a client certificate the API accepts is enough (skopeo --cert-dir)" skopeo inspect \
  --cert-dir "$E2E_TMP/certs-admin" --no-creds "docker://$REG/test/app:1"
assert_eq "and reads the digest" "$APP1" "$(jq -r .Digest <<<"$OUT")"

log "public projects"
expect_ok "an administrator pushes to pub" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" \
  --dest-creds admin:admin-token "oci:$OCI:app1" "docker://$REG/pub/app:1"
expect_ok "anyone pulls from pub" skopeo inspect --cert-dir "$CERTS" --no-creds "docker://$REG/pub/app:1"
assert_eq "with the same digest" "$APP1" "$(jq -r .Digest <<<"$OUT")"
expect_fail "but nobody anonymous pushes there" skopeo copy --dest-cert-dir "$CERTS" --dest-no-creds \
  "oci:$OCI:app2" "docker://$REG/pub/app:2"

log "podman: pull and push"
expect_ok "podman pull as a guest" "${PODMAN[@]}" pull -q --cert-dir "$CERTS" --creds qa:qa-token "$REG/test/app:1"
expect_ok "podman image inspect" "${PODMAN[@]}" image inspect --format '{{.Digest}}' "$REG/test/app:1"
assert_eq "podman has the pushed digest" "$APP1" "$OUT"
expect_ok "podman tag" "${PODMAN[@]}" tag "$REG/test/app:1" "$REG/test/app:podman"
expect_ok "podman push as a developer" "${PODMAN[@]}" push -q --cert-dir "$CERTS" --creds dev:dev-token "$REG/test/app:podman"
PODMAN_DIGEST=$(digest_of "$REG/test/app:podman" qa:qa-token)
assert_match "the podman push is served" "$PODMAN_DIGEST" '^sha256:[0-9a-f]{64}$'
sk inspect --cert-dir "$CERTS" --creds qa:qa-token "docker://$REG/test/app:podman"
assert_eq "with the same layers as the skopeo push" "$(skopeo inspect --cert-dir "$CERTS" --creds qa:qa-token "docker://$REG/test/app:1" | jq -c .Layers)" \
  "$(jq -c .Layers <<<"$OUT")"
expect_fail "podman login with a wrong password fails" "${PODMAN[@]}" login --cert-dir "$CERTS" -u dev -p wrong "$REG"
assert_contains "as invalid credentials" "$OUT" "invalid username/password"
expect_ok "podman login as the developer" "${PODMAN[@]}" login --cert-dir "$CERTS" -u dev -p dev-token "$REG"
expect_ok "podman push with the stored login" "${PODMAN[@]}" push -q --cert-dir "$CERTS" "$REG/test/app:podman"
expect_ok "podman logout" "${PODMAN[@]}" logout "$REG"
expect_fail "podman push as a guest is refused" "${PODMAN[@]}" push -q --cert-dir "$CERTS" --creds qa:qa-token \
  "$REG/test/app:podman"

log "buildah: build, push, pull"
BUILDAH=(buildah --root "$E2E_TMP/buildah/root" --runroot "$E2E_TMP/buildah/run" --storage-driver vfs)
mkdir -p "$E2E_TMP/built/etc"
echo "built by buildah" >"$E2E_TMP/built/etc/motd"
CTR=$("${BUILDAH[@]}" from scratch 2>/dev/null)
assert_ne "buildah from scratch" "" "$CTR"
expect_ok "buildah copy" "${BUILDAH[@]}" copy "$CTR" "$E2E_TMP/built/etc" /etc
expect_ok "buildah commit" "${BUILDAH[@]}" commit -q "$CTR" built:1
expect_ok "buildah push as the developer" "${BUILDAH[@]}" push --cert-dir "$CERTS" --creds dev:dev-token \
  --digestfile "$E2E_TMP/built.digest" built:1 "docker://$REG/test/built:1"
assert_eq "the registry serves the digest buildah pushed" "$(cat "$E2E_TMP/built.digest")" \
  "$(digest_of "$REG/test/built:1" qa:qa-token)"
expect_ok "buildah rmi" "${BUILDAH[@]}" rmi -a -f
expect_ok "buildah pull as the guest" "${BUILDAH[@]}" pull -q --cert-dir "$CERTS" --creds qa:qa-token "docker://$REG/test/built:1"
expect_ok "buildah images" "${BUILDAH[@]}" images --format '{{.Name}}:{{.Tag}}'
assert_contains "the pulled image is there" "$OUT" "$REG/test/built:1"

log "robot accounts"
kubectl apply -f - >/dev/null <<'EOF2'
apiVersion: registry.berth.dev/v1
kind: RobotAccount
metadata: {name: ci}
spec:
  description: the pipeline's pusher
  permissions: [{project: test, actions: [pull, push]}]
---
apiVersion: registry.berth.dev/v1
kind: RobotAccount
metadata: {name: old}
spec:
  expiresAt: "2020-01-01T00:00:00Z"
  permissions: [{project: test, actions: [pull]}]
EOF2
check_wait "the robot gets its user name" 20 bash -c "[[ \$(kubectl get robotaccount ci -o jsonpath='{.status.username}') == 'robot\$ci' ]]"
check_wait "and its secret" 20 bash -c "kubectl get secret -n berth-system registry-robot-ci >/dev/null 2>&1"
ROBOT_SECRET=$(kubectl get secret -n berth-system registry-robot-ci -o jsonpath='{.data.secret}' | base64 -d)
assert_match "a generated secret" "$ROBOT_SECRET" '^[0-9a-f]{40}$'
expect_ok "the robot pushes to its project" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" \
  --dest-creds "robot\$ci:$ROBOT_SECRET" "oci:$OCI:app2" "docker://$REG/test/robot:1"
expect_fail "but not to another project" skopeo copy --dest-cert-dir "$CERTS" \
  --dest-creds "robot\$ci:$ROBOT_SECRET" "oci:$OCI:app2" "docker://$REG/prod/robot:1"
expect_fail "nor with a wrong secret" skopeo inspect --cert-dir "$CERTS" --creds "robot\$ci:nope" "docker://$REG/test/app:1"
check_wait "the expired robot has a secret too" 20 bash -c "kubectl get secret -n berth-system registry-robot-old >/dev/null 2>&1"
OLD_SECRET=$(kubectl get secret -n berth-system registry-robot-old -o jsonpath='{.data.secret}' | base64 -d)
expect_fail "an expired robot cannot log in" skopeo inspect --cert-dir "$CERTS" --creds "robot\$old:$OLD_SECRET" \
  "docker://$REG/test/app:1"
code=$(curl -s -o "$E2E_TMP/tok" -w '%{http_code}' --cacert "$DATA/pki/ca.crt" -u "robot\$old:$OLD_SECRET" \
  "https://$REG/service/token?service=berth&scope=repository:test/app:pull")
assert_eq "the token service answers 401" 401 "$code"
assert_contains "saying why" "$(cat "$E2E_TMP/tok")" "has expired"
kubectl patch robotaccount ci --type merge -p '{"spec":{"disabled":true}}' >/dev/null
expect_fail "a disabled robot cannot log in" skopeo inspect --cert-dir "$CERTS" --creds "robot\$ci:$ROBOT_SECRET" \
  "docker://$REG/test/app:1"

log "quota"
expect_fail "a push over the project's storage limit is refused" skopeo copy --dest-cert-dir "$CERTS" \
  --dest-creds dev:dev-token "oci:$OCI:app1" "docker://$REG/tiny/app:1"
assert_contains "quota exceeded" "$OUT" "quota exceeded"
expect_fail "nothing was tagged" skopeo inspect --cert-dir "$CERTS" --creds dev:dev-token "docker://$REG/tiny/app:1"

log "promotion: test -> prod without moving bytes"
BLOBS_BEFORE=$(find "$DATA/registry/blobs" -type f | wc -l)
BYTES_BEFORE=$(du -sb "$DATA/registry/blobs" | cut -f1)
kubectl apply -f - >/dev/null <<'EOF2'
apiVersion: registry.berth.dev/v1
kind: ArtifactCopy
metadata: {name: promote-app-1}
spec: {from: "test/app:1", to: "prod/app"}
EOF2
check_wait "the copy succeeds" 20 bash -c "[[ \$(kubectl get artifactcopy promote-app-1 -o jsonpath='{.status.phase}') == Succeeded ]]"
assert_eq "it reports the digest" "$APP1" "$(kubectl get artifactcopy promote-app-1 -o jsonpath='{.status.digest}')"
assert_eq "prod/app:1 has the tested digest" "$APP1" "$(digest_of "$REG/prod/app:1" ops:ops-token)"
assert_eq "no blob was written" "$BLOBS_BEFORE" "$(find "$DATA/registry/blobs" -type f | wc -l)"
assert_eq "no byte was added" "$BYTES_BEFORE" "$(du -sb "$DATA/registry/blobs" | cut -f1)"
expect_ok "a guest of prod pulls the promoted image" skopeo copy --src-cert-dir "$CERTS" --src-creds qa:qa-token \
  "docker://$REG/prod/app:1" "oci:$E2E_TMP/promoted:app1"
kubectl apply -f - >/dev/null <<'EOF2'
apiVersion: registry.berth.dev/v1
kind: ArtifactCopy
metadata: {name: promote-missing}
spec: {from: "test/app:nope", to: "prod/app"}
EOF2
check_wait "a copy of a missing tag fails" 20 bash -c "[[ \$(kubectl get artifactcopy promote-missing -o jsonpath='{.status.phase}') == Failed ]]"
assert_contains "saying what is missing" "$(kubectl get artifactcopy promote-missing -o jsonpath='{.status.message}')" "test/app:nope not found"

kubectl apply -f - >/dev/null <<'EOF2'
apiVersion: registry.berth.dev/v1
kind: ArtifactCopy
metadata: {name: over-quota}
spec: {from: "test/app:1", to: "tiny/app"}
EOF2
check_wait "a copy over the destination's quota fails" 20 bash -c \
  "[[ \$(kubectl get artifactcopy over-quota -o jsonpath='{.status.phase}') == Failed ]]"
assert_contains "quota exceeded" "$(kubectl get artifactcopy over-quota -o jsonpath='{.status.message}')" "quota exceeded"

log "events"
check_wait "pushes are recorded as events on the project" 20 bash -c \
  "kubectl get events --field-selector involvedObject.kind=Project,involvedObject.name=test,reason=ArtifactPushed -o name | grep -q ."
expect_ok "the prod promotion's event" kubectl get events --field-selector involvedObject.name=prod,reason=ArtifactPushed \
  -o jsonpath='{range .items[*]}{.message}{"\n"}{end}'
assert_contains "names the source" "$OUT" "copied from test/app:1"
expect_ok "skopeo delete test/app:2 as a project admin" skopeo delete --cert-dir "$CERTS" --creds admin:admin-token \
  "docker://$REG/test/app:2"
check_wait "the delete is an event" 20 bash -c \
  "kubectl get events --field-selector involvedObject.name=test,reason=ArtifactDeleted -o name | grep -q ."
check_wait "project status counts its three repositories (app, built, robot) and their bytes" 30 bash -c \
  "[[ \$(kubectl get project test -o jsonpath='{.status.repositoryCount}') == 3 ]] && (( \$(kubectl get project test -o jsonpath='{.status.usedBytes}') > 4000000 ))"

log "garbage collection while pushes run"
# app2's random layer is referenced by nothing now (test/app:2 was deleted;
# prod/other was deleted too).
APP2_LAYER=$(jq -r '.layers[-1].digest' "$OCI/blobs/sha256/$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]=="app2") | .digest' "$OCI/index.json" | cut -d: -f2)")
APP2_LAYER_FILE="$DATA/registry/blobs/sha256/${APP2_LAYER:7:2}/${APP2_LAYER#sha256:}"
# robot/1 still uses app2: delete it as well so the layer is garbage.
expect_ok "delete test/robot:1" skopeo delete --cert-dir "$CERTS" --creds admin:admin-token "docker://$REG/test/robot:1"
assert_eq "the unreferenced layer is still on disk" yes "$([[ -f $APP2_LAYER_FILE ]] && echo yes || echo no)"
CUTOFF=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# Whole seconds: wait until the clock has passed the cutoff so that every
# blob the concurrent pushes touch is newer than it.
wait_for 3 bash -c "[[ \$(date -u +%s) -gt $(date -u -d "$CUTOFF" +%s) ]]"
BYTES_BEFORE=$(du -sb "$DATA/registry" | cut -f1)
PIDS=()
for i in 1 2 3; do
  skopeo copy --preserve-digests --dest-cert-dir "$CERTS" --dest-creds dev:dev-token \
    "oci:$OCI:conc$i" "docker://$REG/test/conc$i:1" >"$E2E_TMP/push$i.log" 2>&1 &
  PIDS+=($!)
done
kubectl apply -f - >/dev/null <<EOF2
apiVersion: registry.berth.dev/v1
kind: GarbageCollection
metadata: {name: gc-1}
spec: {unreferencedBefore: "$CUTOFF"}
EOF2
check_wait "the collection succeeds" 30 bash -c "[[ \$(kubectl get gc gc-1 -o jsonpath='{.status.phase}') == Succeeded ]]"
for i in 1 2 3; do
  rc=0; wait "${PIDS[$((i - 1))]}" || rc=$?
  assert_eq "concurrent push $i succeeded" 0 "$rc"
done
expect_ok "kubectl get gc" kubectl get gc gc-1
assert_match "the table shows what was freed" "$OUT" 'gc-1 +Succeeded +[1-9][0-9]* +0 +[1-9][0-9]*'
FREED=$(kubectl get gc gc-1 -o jsonpath='{.status.bytesFreed}')
(( FREED >= 1500000 )) && pass "at least the unreferenced layer's bytes were freed ($FREED)" || fail "bytes freed" "$FREED"
assert_eq "its file is gone" no "$([[ -f $APP2_LAYER_FILE ]] && echo yes || echo no)"
for i in 1 2 3; do
  want=$(cat "$E2E_TMP/conc$i.digest")
  expect_ok "conc$i pulls after the collection" skopeo copy --preserve-digests --src-cert-dir "$CERTS" \
    --src-creds qa:qa-token "docker://$REG/test/conc$i:1" "oci:$E2E_TMP/after:conc$i"
  assert_eq "conc$i has its digest" "$want" "$(digest_of "$REG/test/conc$i:1" qa:qa-token)"
done
ok=1
for b in "$E2E_TMP"/after/blobs/sha256/*; do
  [[ "$(sha256sum "$b" | cut -d' ' -f1)" == "$(basename "$b")" ]] || ok=0
done
assert_eq "every blob pulled after the collection is intact" 1 "$ok"
for ref in test/app:1 test/app:podman prod/app:1 pub/app:1; do
  expect_ok "$ref still pulls" skopeo copy --src-cert-dir "$CERTS" --src-creds admin:admin-token \
    "docker://$REG/$ref" "oci:$E2E_TMP/kept:${ref//[:\/]/-}"
done

log "bad input: a chunk cut off mid-way, an abandoned upload"
# Raw HTTP over TLS with the admin client certificate (the policy admits it
# directly): a PATCH that promises 1000 bytes and sends 500 before closing.
upload_req() {  # upload_req METHOD PATH [curl args]: headers to $E2E_TMP/uh, body to $E2E_TMP/ub, prints the code
  local m=$1 p=$2; shift 2
  kcurl "$p" -X "$m" -D "$E2E_TMP/uh" -o "$E2E_TMP/ub" -w '%{http_code}' "$@"
}
uhdr() { tr -d '\r' <"$E2E_TMP/uh" | grep -i "^$1:" | tail -1 | sed 's/^[^:]*: *//'; }
assert_eq "start an upload" 202 "$(upload_req POST /v2/test/cut/blobs/uploads/)"
LOC=$(uhdr Location)
head -c 100 /dev/urandom >"$E2E_TMP/first100"
assert_eq "a first chunk of 100 bytes" 202 "$(upload_req PATCH "$LOC" -H 'Content-Type: application/octet-stream' \
  -H 'Content-Range: 0-99' --data-binary @"$E2E_TMP/first100")"
python3 - "$PORT" "$LOC" "$DATA/pki" <<'EOF2'
import socket, ssl, sys
port, loc, pki = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/admin.crt", pki + "/admin.key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
s.sendall(f"PATCH {loc} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
          f"Content-Range: 100-1099\r\nContent-Length: 1000\r\n\r\n".encode() + b"x" * 500)
s.close()
EOF2
check_wait "the cut chunk is dropped: the upload has its first 100 bytes again" 20 bash -c \
  "[[ \$(curl -s --cacert '$DATA/pki/ca.crt' --cert '$DATA/pki/admin.crt' --key '$DATA/pki/admin.key' -D - -o /dev/null \
     'https://127.0.0.1:$PORT$LOC' | tr -d '\r' | grep -i '^range:' | sed 's/^[^:]*: *//') == 0-99 ]]"
D100="sha256:$(sha256sum "$E2E_TMP/first100" | cut -d' ' -f1)"
assert_eq "the upload completes with the first 100 bytes" 201 "$(upload_req PUT "$LOC?digest=$D100")"
FILES_BEFORE=$(find "$DATA/registry" -type f | wc -l)
MISSING='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]}'
assert_eq "a manifest naming a missing blob is refused" 400 "$(upload_req PUT /v2/test/cut/manifests/broken \
  -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "$MISSING")"
assert_contains "MANIFEST_BLOB_UNKNOWN" "$(cat "$E2E_TMP/ub")" MANIFEST_BLOB_UNKNOWN
assert_eq "and leaves no file behind" "$FILES_BEFORE" "$(find "$DATA/registry" -type f | wc -l)"
assert_eq "start an upload and abandon it" 202 "$(upload_req POST /v2/test/cut/blobs/uploads/)"
ABANDONED=$(uhdr Location)
UUID=${ABANDONED##*/}
assert_eq "its file exists" yes "$([[ -f $DATA/registry/uploads/$UUID ]] && echo yes || echo no)"
STARTED=$(date +%s)
wait_for 5 bash -c "(( \$(date +%s) > $STARTED + 1 ))"
kubectl apply -f - >/dev/null <<'EOF2'
apiVersion: registry.berth.dev/v1
kind: GarbageCollection
metadata: {name: gc-uploads}
spec: {uploadExpirySeconds: 1}
EOF2
check_wait "the collection succeeds" 30 bash -c "[[ \$(kubectl get gc gc-uploads -o jsonpath='{.status.phase}') == Succeeded ]]"
assert_eq "it removed the abandoned upload" 1 "$(kubectl get gc gc-uploads -o jsonpath='{.status.uploadsDeleted}')"
assert_eq "whose file is gone" no "$([[ -f $DATA/registry/uploads/$UUID ]] && echo yes || echo no)"
assert_eq "and whose session is unknown" 404 "$(upload_req GET "$ABANDONED")"
assert_contains "BLOB_UPLOAD_UNKNOWN" "$(cat "$E2E_TMP/ub")" BLOB_UPLOAD_UNKNOWN

log "policies: a project without spec, immutable tags, webhooks, retention"
HOOK_PORT=$(_free_port)
python3 - "$HOOK_PORT" "$E2E_TMP/hooks.jsonl" >"$E2E_TMP/hook-server.log" 2>&1 <<'EOF2' &
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b" AUTH=" + self.headers.get("Authorization", "").encode() + b"\n")
        self.send_response(204)
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF2
BG_PIDS+=($!)
kubectl apply -f - >/dev/null <<'EOF2'
apiVersion: registry.berth.dev/v1
kind: Project
metadata: {name: pol}
EOF2
expect_ok "a project without spec takes pushes" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" \
  --dest-creds admin:admin-token "oci:$OCI:conc1" "docker://$REG/pol/keep:1"
DEAD_PORT=$(_free_port)
kubectl apply -f - >/dev/null <<EOF2
apiVersion: registry.berth.dev/v1
kind: Project
metadata: {name: pol}
spec:
  immutableTags: ["v*"]
  webhooks:
  - {url: "http://127.0.0.1:$HOOK_PORT/hook", events: [PUSH_ARTIFACT, DELETE_ARTIFACT], authHeader: "Bearer hook-secret"}
  - {url: "http://127.0.0.1:$DEAD_PORT/nobody", events: [DELETE_ARTIFACT]}
EOF2
expect_ok "push pol/app:v1" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" --dest-creds admin:admin-token \
  "oci:$OCI:app1" "docker://$REG/pol/app:v1"
expect_ok "pushing the same content to an immutable tag again is fine" skopeo copy --preserve-digests \
  --dest-cert-dir "$CERTS" --dest-creds admin:admin-token "oci:$OCI:app1" "docker://$REG/pol/app:v1"
expect_fail "an immutable tag cannot be moved" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" \
  --dest-creds admin:admin-token "oci:$OCI:app2" "docker://$REG/pol/app:v1"
assert_contains "saying so" "$OUT" "is immutable"
assert_eq "v1 still names app1" "$APP1" "$(digest_of "$REG/pol/app:v1" admin:admin-token)"
expect_fail "nor deleted" skopeo delete --cert-dir "$CERTS" --creds admin:admin-token "docker://$REG/pol/app:v1"
expect_ok "a mutable tag moves" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" --dest-creds admin:admin-token \
  "oci:$OCI:app2" "docker://$REG/pol/app:latest"
check_wait "the webhook receives the push" 20 bash -c "grep '\"v1\"' '$E2E_TMP/hooks.jsonl' 2>/dev/null | grep -q PUSH_ARTIFACT"
HOOK=$(grep -m1 '"v1"' "$E2E_TMP/hooks.jsonl" | sed 's/ AUTH=.*//')
assert_eq "with Harbor's payload" "PUSH_ARTIFACT admin pol/app pol app $APP1 v1 private" \
  "$(jq -r '[.type, .operator, .event_data.repository.repo_full_name, .event_data.repository.namespace, .event_data.repository.name, .event_data.resources[0].digest, .event_data.resources[0].tag, .event_data.repository.repo_type] | join(" ")' <<<"$HOOK")"
assert_contains "and the configured Authorization header" "$(grep -m1 '"v1"' "$E2E_TMP/hooks.jsonl")" "AUTH=Bearer hook-secret"
expect_ok "delete pol/app:latest" skopeo delete --cert-dir "$CERTS" --creds admin:admin-token "docker://$REG/pol/app:latest"
check_wait "the webhook receives the delete" 20 bash -c "grep -q DELETE_ARTIFACT '$E2E_TMP/hooks.jsonl'"
check_wait "an unreachable webhook is reported as an event" 40 bash -c \
  "kubectl get events --field-selector involvedObject.name=pol,reason=WebhookFailed -o jsonpath='{.items[*].message}' | grep -q '$DEAD_PORT'"
for n in 2 3; do
  expect_ok "push pol/keep:$n" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" --dest-creds admin:admin-token \
    "oci:$OCI:conc$n" "docker://$REG/pol/keep:$n"
done
expect_ok "push pol/keep:4" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" --dest-creds admin:admin-token \
  "oci:$OCI:app2" "docker://$REG/pol/keep:4"
kubectl patch project pol --type merge -p '{"spec":{"retention":{"rules":[{"repositories":"keep","tags":"*","keepLast":2}]}}}' >/dev/null
GEN=$(kubectl get project pol -o jsonpath='{.metadata.generation}')
check_wait "retention runs for the new policy" 20 bash -c \
  "[[ \$(kubectl get project pol -o jsonpath='{.status.retentionGeneration}') == $GEN ]]"
assert_eq "it removed two tags" 2 "$(kubectl get project pol -o jsonpath='{.status.retentionDeletedTags}')"
expect_ok "list pol/keep" skopeo list-tags --cert-dir "$CERTS" --creds admin:admin-token "docker://$REG/pol/keep"
assert_eq "the two most recent pushes stay" '["3","4"]' "$(jq -c .Tags <<<"$OUT")"
expect_ok "list pol/app" skopeo list-tags --cert-dir "$CERTS" --creds admin:admin-token "docker://$REG/pol/app"
assert_eq "another repository is not touched" '["v1"]' "$(jq -c .Tags <<<"$OUT")"

log "deleting a project removes its repositories"
kubectl apply -f - >/dev/null <<'EOF2'
apiVersion: registry.berth.dev/v1
kind: Project
metadata: {name: tmp}
EOF2
assert_eq "a new project carries the registry's finalizer" "registry.berth.dev/repositories" \
  "$(kubectl get project tmp -o jsonpath='{.metadata.finalizers[0]}')"
expect_ok "push tmp/app:1" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" --dest-creds admin:admin-token \
  "oci:$OCI:app2" "docker://$REG/tmp/app:1"
expect_ok "kubectl delete project tmp" kubectl delete project tmp --timeout=30s
kubectl apply -f - >/dev/null <<'EOF2'
apiVersion: registry.berth.dev/v1
kind: Project
metadata: {name: tmp}
EOF2
expect_fail "a project of the same name starts empty" skopeo list-tags --cert-dir "$CERTS" --creds admin:admin-token \
  "docker://$REG/tmp/app"
assert_contains "the repository is unknown" "$OUT" "404"

log "replication with an external registry (Debian's docker-registry) and with Berth itself"
DREG_PORT=$(_free_port)
cat >"$E2E_TMP/dreg.yml" <<EOF2
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $E2E_TMP/dreg}}
http: {addr: 127.0.0.1:$DREG_PORT}
EOF2
# docker-registry reads REGISTRY_* variables as configuration; skopeo's is not one.
env -u REGISTRY_AUTH_FILE docker-registry serve "$E2E_TMP/dreg.yml" >"$E2E_TMP/dreg.log" 2>&1 &
BG_PIDS+=($!)
check_wait "docker-registry listens" 20 bash -c "curl -sf http://127.0.0.1:$DREG_PORT/v2/ >/dev/null"
kubectl apply -f - >/dev/null <<EOF2
apiVersion: registry.berth.dev/v1
kind: Replication
metadata: {name: to-dreg}
spec:
  direction: Push
  remote: {url: "http://127.0.0.1:$DREG_PORT"}
  repositories: ["test/app"]
  tags: "1"
EOF2
check_wait "a push replication succeeds" 60 bash -c "[[ \$(kubectl get replication to-dreg -o jsonpath='{.status.phase}') == Succeeded ]]"
assert_eq "it copied one artifact" 1 "$(kubectl get replication to-dreg -o jsonpath='{.status.copied}')"
assert_eq "docker-registry serves the same digest" "$APP1" \
  "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://127.0.0.1:$DREG_PORT/test/app:1" 2>&1)"
kubectl patch replication to-dreg --type merge -p '{"spec":{"tags":"*"}}' >/dev/null
check_wait "the changed spec runs again" 60 bash -c \
  "[[ \$(kubectl get replication to-dreg -o jsonpath='{.status.observedGeneration}/{.status.phase}') == 2/Succeeded ]]"
assert_eq "what is in place is skipped" 1 "$(kubectl get replication to-dreg -o jsonpath='{.status.skipped}')"
expect_ok "docker-registry lists the tags" skopeo list-tags --tls-verify=false "docker://127.0.0.1:$DREG_PORT/test/app"
assert_eq "both replicated tags" '["1","podman"]' "$(jq -c '.Tags | sort' <<<"$OUT")"
expect_ok "push an image to docker-registry" skopeo copy --preserve-digests --dest-tls-verify=false \
  "oci:$OCI:conc2" "docker://127.0.0.1:$DREG_PORT/upstream/tool:2.0"
kubectl apply -f - >/dev/null <<EOF2
apiVersion: registry.berth.dev/v1
kind: Project
metadata: {name: mirror}
spec: {members: [{kind: User, name: dev, role: developer}]}
---
apiVersion: registry.berth.dev/v1
kind: Replication
metadata: {name: from-dreg}
spec:
  direction: Pull
  remote: {url: "http://127.0.0.1:$DREG_PORT"}
  repositories: ["upstream/tool"]
  destination: mirror
EOF2
check_wait "a pull replication succeeds" 60 bash -c "[[ \$(kubectl get replication from-dreg -o jsonpath='{.status.phase}') == Succeeded ]]"
assert_eq "the mirrored image has the upstream digest" "$(cat "$E2E_TMP/conc2.digest")" \
  "$(digest_of "$REG/mirror/upstream/tool:2.0" dev:dev-token)"
expect_ok "and pulls intact" skopeo copy --src-cert-dir "$CERTS" --src-creds dev:dev-token \
  "docker://$REG/mirror/upstream/tool:2.0" "oci:$E2E_TMP/mirrored:tool"
kc create secret generic dev-registry -n default --from-literal=username=dev --from-literal=password=dev-token
CA_INDENTED=$(sed 's/^/      /' "$DATA/pki/ca.crt")
kubectl apply -f - >/dev/null <<EOF2
apiVersion: registry.berth.dev/v1
kind: Replication
metadata: {name: to-self}
spec:
  direction: Push
  remote:
    url: "https://$REG"
    credentialsSecret: {namespace: default, name: dev-registry}
    caBundle: |
$CA_INDENTED
  repositories: ["test/conc*"]
  destination: mirror
EOF2
check_wait "a push through a token service with credentials and a CA bundle succeeds" 60 bash -c \
  "[[ \$(kubectl get replication to-self -o jsonpath='{.status.phase}') == Succeeded ]]"
assert_eq "three repositories' artifacts" 3 "$(kubectl get replication to-self -o jsonpath='{.status.copied}')"
assert_eq "under the destination prefix" "$(cat "$E2E_TMP/conc3.digest")" "$(digest_of "$REG/mirror/test/conc3:1" dev:dev-token)"
kubectl apply -f - >/dev/null <<EOF2
apiVersion: registry.berth.dev/v1
kind: Replication
metadata: {name: to-nowhere}
spec:
  direction: Push
  remote: {url: "http://127.0.0.1:$DEAD_PORT"}
  repositories: ["test/app"]
EOF2
check_wait "a replication to an unreachable registry fails" 60 bash -c \
  "[[ \$(kubectl get replication to-nowhere -o jsonpath='{.status.phase}') == Failed ]]"
assert_contains "saying why" "$(kubectl get replication to-nowhere -o jsonpath='{.status.message}')" "registry unreachable"
expect_fail "a Pull without a destination is refused" kubectl apply -f - <<EOF2
apiVersion: registry.berth.dev/v1
kind: Replication
metadata: {name: bad}
spec: {direction: Pull, remote: {url: "http://127.0.0.1:1"}, repositories: [x/y]}
EOF2
assert_contains "naming the field" "$OUT" "spec.destination"

log "durability: what was acknowledged survives kill -9"
expect_ok "push test/durable:1" skopeo copy --preserve-digests --dest-cert-dir "$CERTS" --dest-creds dev:dev-token \
  "oci:$OCI:conc3" "docker://$REG/test/durable:1"
kill9_server
start_server
REG="127.0.0.1:$PORT"
assert_eq "the image pushed just before kill -9 is there" "$(cat "$E2E_TMP/conc3.digest")" \
  "$(digest_of "$REG/test/durable:1" qa:qa-token)"
expect_ok "and pulls intact" skopeo copy --src-cert-dir "$CERTS" --src-creds qa:qa-token \
  "docker://$REG/test/durable:1" "oci:$E2E_TMP/durable:1"
ok=1
for b in "$E2E_TMP"/durable/blobs/sha256/*; do
  [[ "$(sha256sum "$b" | cut -d' ' -f1)" == "$(basename "$b")" ]] || ok=0
done
assert_eq "every blob matches its digest" 1 "$ok"
assert_eq "tags, promotions and policies are kept" "$APP1 $APP1" \
  "$(digest_of "$REG/test/app:1" qa:qa-token) $(digest_of "$REG/pol/app:v1" admin:admin-token)"
expect_fail "immutability still holds" skopeo delete --cert-dir "$CERTS" --creds admin:admin-token "docker://$REG/pol/app:v1"

log "pods run images from this registry"
expect_node_ready
kubectl apply -f - >/dev/null <<EOF2
apiVersion: v1
kind: Pod
metadata: {name: from-public}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: "$REG/pub/app:1"}]
EOF2
check_wait "a pod runs from the public project" 90 bash -c "[[ \$(kubectl get pod from-public -o jsonpath='{.status.phase}') == Running ]]"
check_wait "its command prints" 30 bash -c "kubectl logs from-public 2>/dev/null | grep -q 'hello from the registry'"
kc create secret docker-registry regcred --docker-server="$REG" --docker-username=qa --docker-password=qa-token
kubectl apply -f - >/dev/null <<EOF2
apiVersion: v1
kind: Pod
metadata: {name: from-private}
spec:
  terminationGracePeriodSeconds: 1
  imagePullSecrets: [{name: regcred}]
  containers: [{name: main, image: "$REG/prod/app:1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: no-secret}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: "$REG/test/app:1"}]
EOF2
check_wait "a pod runs from a private project with a pull secret" 90 bash -c \
  "[[ \$(kubectl get pod from-private -o jsonpath='{.status.phase}') == Running ]]"
check_wait "without a secret the pull is refused" 60 bash -c \
  "kubectl get pod no-secret -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}' | grep -q 'ErrImagePull\|ImagePullBackOff'"
kubectl delete pod from-public from-private no-secret --wait=false >/dev/null 2>&1
check_wait "the pods are gone" 60 bash -c "[[ -z \$(kubectl get pods -o name) ]]"

finish
