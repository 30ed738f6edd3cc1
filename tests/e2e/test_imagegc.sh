#!/usr/bin/env bash
# Image garbage collection on disk pressure, as kubelet's: with the thresholds
# at 0 % every image no pod needs is removed once it is older than the minimum
# age (blobs and layers freed), the images pods run from stay, and since the
# disk cannot get below 0 % the node records a FreeDiskSpaceFailed event.
source "$(dirname "$0")/lib.sh" "$@"

SERVER_ARGS=(--node-name e2e-node --image-gc-high-threshold 0 --image-gc-low-threshold 0 --image-gc-minimum-age 10)
import_busybox_image
# A second, unrelated image: one file.
mkdir -p "$E2E_TMP/tiny/etc"
echo tiny >"$E2E_TMP/tiny/etc/tiny"
"$BERTH" image import "$E2E_TMP/tiny" --name tiny:unused --data-dir "$DATA" >/dev/null 2>&1 || fail "import tiny"
expect_ok "both images are in the store" "$BERTH" image ls -q --data-dir "$DATA"
assert_contains "tiny:unused imported" "$OUT" "tiny:unused"
LAYERS_BEFORE=$(ls "$DATA/images/layers" | wc -l)

start_server
expect_node_ready
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: user}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: busybox:test, imagePullPolicy: Never, command: ["sleep", "3600"]}
EOF
check_wait "the pod runs" 60 bash -c "[[ \$(kubectl get pod user -o jsonpath='{.status.phase}') == Running ]]"
expect_ok "image ls" "$BERTH" image ls -q --data-dir "$DATA"
assert_contains "nothing is collected before the minimum age" "$OUT" "tiny:unused"
check_wait "the unused image is collected" 30 \
  bash -c "! '$BERTH' image ls -q --data-dir '$DATA' | grep -q tiny:unused"
expect_ok "image ls" "$BERTH" image ls -q --data-dir "$DATA"
assert_contains "the image the pod runs from stays" "$OUT" "busybox:test"
assert_eq "its layers were freed" "$((LAYERS_BEFORE - 1))" "$(ls "$DATA/images/layers" | wc -l)"
check_wait "the node reports that it could not free enough" 30 bash -c \
  "kubectl get events --field-selector involvedObject.kind=Node,reason=FreeDiskSpaceFailed -o name | grep -q ."
kc exec user -- echo still here
assert_eq "the pod keeps running" "still here" "$OUT"

kubectl delete pod user --wait=false >/dev/null
check_wait "pod gone" 60 bash -c "[[ -z \$(kubectl get pods -o name) ]]"
finish
