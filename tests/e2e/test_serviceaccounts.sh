#!/usr/bin/env bash
# Service accounts and their tokens: the per-namespace "default" account and
# kube-root-ca.crt ConfigMap, TokenRequest through `kubectl create token`, the
# signed JWT checked by an independent verifier against the published JWKS,
# authentication with it (`kubectl auth whoami`), TokenReview, and the
# kube-api-access volume a pod gets: a token bound to the pod that stops
# working once the pod or the account is gone; and the `kubernetes` Service,
# through which a pod calls the API with that token.
source "$(dirname "$0")/lib.sh" "$@"

SERVER_ARGS=(--node-name e2e-node)
# Pods reach the API server at the pod network's gateway: listen there too
# (TLS and authentication as on loopback).
BIND=0.0.0.0
import_busybox_image
start_server
expect_node_ready

# token_kubeconfig <token> <file>: a kubeconfig that authenticates with the token only.
token_kubeconfig() {
  cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: berth, cluster: {server: "https://127.0.0.1:$PORT", certificate-authority: "$DATA/pki/ca.crt"}}]
users: [{name: sa, user: {token: "$1"}}]
contexts: [{name: sa, context: {cluster: berth, user: sa}}]
current-context: sa
EOF
}
# token_code <token> <path>: HTTP status of a GET with the bearer token alone.
token_code() {
  curl -s --max-time 10 --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $1" -o /dev/null -w '%{http_code}' \
    "https://127.0.0.1:$PORT$2"
}
# jwt_claims <token>: the verified claims as JSON, or a failure. Checks the
# ES256 signature with Python's cryptography package against the key the
# server publishes at /openid/v1/jwks.
jwt_claims() {
  kcurl /openid/v1/jwks >"$E2E_TMP/jwks.json" || return 1
  python3 - "$1" "$E2E_TMP/jwks.json" <<'PY'
import base64, json, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
def b64(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
head, body, sig = sys.argv[1].split(".")
header = json.loads(b64(head))
key = [k for k in json.load(open(sys.argv[2]))["keys"] if k["kid"] == header["kid"]][0]
assert header["alg"] == "ES256" and key["crv"] == "P-256"
pub = ec.EllipticCurvePublicNumbers(int.from_bytes(b64(key["x"]), "big"), int.from_bytes(b64(key["y"]), "big"),
                                    ec.SECP256R1()).public_key()
raw = b64(sig)
der = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
pub.verify(der, (head + "." + body).encode(), ec.ECDSA(hashes.SHA256()))
print(json.dumps(json.loads(b64(body))))
PY
}

# --- per-namespace defaults ----------------------------------------------------
check_wait "every namespace gets the default service account" 10 \
  bash -c "[[ \$(kubectl get sa -A --no-headers 2>/dev/null | grep -c ' default ') -ge 4 ]]"
kubectl create namespace team >/dev/null
check_wait "a new namespace gets default and kube-root-ca.crt" 10 \
  bash -c "kubectl -n team get sa default && kubectl -n team get configmap kube-root-ca.crt"
kc -n team get configmap kube-root-ca.crt -o jsonpath='{.data.ca\.crt}'
assert_eq "kube-root-ca.crt holds the cluster CA" "$(cat "$DATA/pki/ca.crt")" "$OUT"
kubectl -n team patch configmap kube-root-ca.crt --type merge -p '{"data":{"ca.crt":"edited"}}' >/dev/null
check_wait "an edited kube-root-ca.crt is put back" 10 \
  bash -c "kubectl -n team get configmap kube-root-ca.crt -o jsonpath='{.data.ca\.crt}' | grep -q 'BEGIN CERTIFICATE'"

# --- TokenRequest --------------------------------------------------------------
expect_ok "kubectl create token" kubectl create token default
TOKEN=$OUT
assert_match "the token is a JWT" "$TOKEN" '^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
expect_ok "the signature verifies against the published JWKS" jwt_claims "$TOKEN"
CLAIMS=$OUT
assert_eq "sub" "system:serviceaccount:default:default" "$(jget "$CLAIMS" .sub)"
assert_eq "iss" "https://kubernetes.default.svc.cluster.local" "$(jget "$CLAIMS" .iss)"
assert_eq "aud defaults to the API server" '["https://kubernetes.default.svc.cluster.local"]' "$(jget "$CLAIMS" '.aud|tojson')"
assert_eq "one hour by default" "3600" "$(jget "$CLAIMS" '.exp - .iat')"
assert_eq "service account uid" "$(kubectl get sa default -o jsonpath='{.metadata.uid}')" \
  "$(jget "$CLAIMS" '.["kubernetes.io"].serviceaccount.uid')"
kc get --raw /.well-known/openid-configuration
assert_eq "OIDC discovery names the issuer" "https://kubernetes.default.svc.cluster.local" "$(jget "$OUT" .issuer)"

token_kubeconfig "$TOKEN" "$E2E_TMP/sa.kubeconfig"
expect_ok "kubectl auth whoami with the token" kubectl --kubeconfig "$E2E_TMP/sa.kubeconfig" auth whoami -o json
assert_eq "the token's user" "system:serviceaccount:default:default" "$(jget "$OUT" .status.userInfo.username)"
assert_eq "the token's groups" "system:serviceaccounts system:serviceaccounts:default system:authenticated" \
  "$(jget "$OUT" '.status.userInfo.groups|join(" ")')"
expect_ok "the token reads the API" kubectl --kubeconfig "$E2E_TMP/sa.kubeconfig" get configmaps
kc auth whoami -o jsonpath='{.status.userInfo.username}'
assert_eq "whoami with the client certificate" "admin" "$OUT"

TAMPERED=$(python3 -c 'import sys; h,b,s=sys.argv[1].split("."); print(h+"."+b[:-2]+("A" if b[-2]!="A" else "B")+b[-1]+"."+s)' "$TOKEN")
assert_eq "a tampered token is refused" "401" "$(token_code "$TAMPERED" /api/v1/namespaces)"
assert_eq "the genuine token is accepted" "200" "$(token_code "$TOKEN" /api/v1/namespaces)"
expect_ok "create token --audience" kubectl create token default --audience vault
assert_eq "a token for another audience is refused by the API" "401" "$(token_code "$OUT" /api/v1/namespaces)"

expect_fail "a duration under 10 minutes is refused" kubectl create token default --duration 5m
assert_contains "with the apiserver's message" "$OUT" \
  'spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes'
expect_fail "a token for a missing account is refused" kubectl create token nosuch
assert_contains "not found" "$OUT" 'serviceaccounts "nosuch" not found'

REVIEW=$(jq -n --arg t "$TOKEN" '{apiVersion:"authentication.k8s.io/v1",kind:"TokenReview",spec:{token:$t}}')
kc create -f - -o json <<<"$REVIEW"
assert_eq "TokenReview authenticates the token" "true system:serviceaccount:default:default" \
  "$(jget "$OUT" '"\(.status.authenticated) \(.status.user.username)"')"
REVIEW=$(jq -n --arg t "$TAMPERED" '{apiVersion:"authentication.k8s.io/v1",kind:"TokenReview",spec:{token:$t}}')
kc create -f - -o json <<<"$REVIEW"
assert_eq "TokenReview refuses the tampered one" "false" "$(jget "$OUT" .status.authenticated)"

# --- the kube-api-access volume of a pod ---------------------------------------
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: busybox:test, imagePullPolicy: Never, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: optout}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: busybox:test, imagePullPolicy: Never, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: quiet}
automountServiceAccountToken: false
EOF
kc get pod reader -o json
assert_match "the pod gets a kube-api-access volume" "$(jget "$OUT" '.spec.volumes[0].name')" '^kube-api-access-[a-z0-9]{5}$'
assert_eq "mounted read-only at the standard path" "/var/run/secrets/kubernetes.io/serviceaccount true" \
  "$(jget "$OUT" '.spec.containers[0].volumeMounts[0] | "\(.mountPath) \(.readOnly)"')"
kc get pod optout -o jsonpath='{.spec.volumes}'
assert_eq "automountServiceAccountToken: false on the pod opts out" "" "$OUT"
kubectl run quiet-pod --image busybox:test --image-pull-policy Never --overrides '{"spec":{"serviceAccountName":"quiet","terminationGracePeriodSeconds":1}}' \
  --command -- sleep 3600 >/dev/null
kc get pod quiet-pod -o jsonpath='{.spec.volumes}'
assert_eq "automountServiceAccountToken: false on the account opts out" "" "$OUT"

check_wait "the pod runs" 60 bash -c "[[ \$(kubectl get pod reader -o jsonpath='{.status.phase}') == Running ]]" ||
  fail "reader" "$(kubectl describe pod reader 2>&1 | tail -20)"
SA_DIR=/var/run/secrets/kubernetes.io/serviceaccount
expect_ok "the pod reads its token" kubectl exec reader -- cat $SA_DIR/token
POD_TOKEN=$OUT
expect_ok "the pod's token verifies" jwt_claims "$POD_TOKEN"
assert_eq "bound to the pod" "reader $(kubectl get pod reader -o jsonpath='{.metadata.uid}')" \
  "$(jget "$OUT" '.["kubernetes.io"].pod | "\(.name) \(.uid)"')"
assert_eq "naming its node" "e2e-node" "$(jget "$OUT" '.["kubernetes.io"].node.name')"
assert_eq "for 3607 s" "3607" "$(jget "$OUT" '.exp - .iat')"
kc exec reader -- cat $SA_DIR/namespace
assert_eq "the namespace file" "default" "$OUT"
kc exec reader -- cat $SA_DIR/ca.crt
assert_eq "the CA file" "$(cat "$DATA/pki/ca.crt")" "$OUT"
kc exec reader -- ls $SA_DIR
assert_eq "nothing else in the directory" "ca.crt namespace token" "$(echo $OUT)"
assert_eq "the pod's token authenticates" "200" "$(token_code "$POD_TOKEN" /api/v1/namespaces/default/pods)"

# --- in-cluster access through the kubernetes Service -----------------------------
kc get service kubernetes -o jsonpath='{.spec.clusterIP} {.spec.ports[0].port} {.spec.ports[0].targetPort}'
assert_eq "the kubernetes Service: 10.43.0.1:443 to the API port" "10.43.0.1 443 $PORT" "$OUT"
kc get endpoints kubernetes -o jsonpath='{.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}'
assert_eq "its endpoint is the API server on the pod network" "10.42.0.1:$PORT" "$OUT"
kc exec reader -- sh -c 'echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT'
assert_eq "pods get KUBERNETES_SERVICE_HOST/PORT" "10.43.0.1:443" "$OUT"
kc exec reader -- nslookup kubernetes.default.svc.cluster.local
assert_contains "cluster DNS resolves kubernetes.default.svc" "$OUT" "10.43.0.1"
# From the pod's network namespace, curl (which verifies the certificate
# against the cluster CA; busybox's own TLS is too small for the server's
# cipher suites) calls the API through the Service with the pod's token.
POD_NETNS=/run/berth/netns/berth-$(kubectl get pod reader -o jsonpath='{.metadata.uid}')
OUT=$(nsenter --net="$POD_NETNS" curl -sS --max-time 10 --cacert "$DATA/pki/ca.crt" \
  -H "Authorization: Bearer $POD_TOKEN" https://10.43.0.1/api/v1/namespaces/default/pods/reader 2>&1)
assert_eq "the pod's network reaches the API through 10.43.0.1 with a verified certificate" "reader" \
  "$(jq -r .metadata.name <<<"$OUT" 2>/dev/null)"
OUT=$(nsenter --net="$POD_NETNS" curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$DATA/pki/ca.crt" \
  https://10.43.0.1/api 2>&1)
assert_eq "without a token: 401" "401" "$OUT"
OUT=$(openssl x509 -in "$DATA/pki/server.crt" -noout -ext subjectAltName 2>&1)
assert_contains "the serving certificate names the Service's address" "$OUT" "IP Address:10.43.0.1"
assert_contains "and kubernetes.default.svc" "$OUT" "DNS:kubernetes.default.svc"
expect_fail "the token volume is read-only in the container" kubectl exec reader -- sh -c "echo x > $SA_DIR/token"

kubectl delete pod reader --wait=false >/dev/null
check_wait "the token of a deleted pod stops working" 60 \
  bash -c "[[ \$(curl -s --cacert '$DATA/pki/ca.crt' -H 'Authorization: Bearer $POD_TOKEN' -o /dev/null -w '%{http_code}' https://127.0.0.1:$PORT/api) == 401 ]]"

kubectl delete sa default >/dev/null
assert_eq "a token of a deleted account is refused" "401" "$(token_code "$TOKEN" /api/v1/namespaces)"
check_wait "the default account comes back" 10 kubectl get sa default
kc get sa default -o jsonpath='{.metadata.uid}'
assert_ne "with a new uid" "$(jget "$CLAIMS" '.["kubernetes.io"].serviceaccount.uid')" "$OUT"
assert_eq "so the old token stays refused" "401" "$(token_code "$TOKEN" /api/v1/namespaces)"

kubectl delete pod optout quiet-pod --wait=false >/dev/null
check_wait "pods are gone" 60 bash -c "[[ -z \$(kubectl get pods -o name) ]]"
finish
