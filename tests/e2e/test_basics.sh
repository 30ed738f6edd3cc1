#!/usr/bin/env bash
# Version, health, metrics, authentication and discovery.
source "$(dirname "$0")/lib.sh" "$@"
start_server

log "version and health"
v=$(kcurl /version)
assert_eq "/version major" "1" "$(jget "$v" .major)"
assert_eq "/version minor" "32" "$(jget "$v" .minor)"
assert_match "/version gitVersion" "$(jget "$v" .gitVersion)" '^v1\.32\.'
assert_eq "/readyz 200" "200" "$(http_code /readyz)"
assert_eq "/livez 200" "200" "$(http_code /livez)"

log "metrics"
kc get ns >/dev/null  # some traffic for the request counters
m=$(kcurl /metrics)
assert_contains "/metrics apiserver_request_total" "$m" "apiserver_request_total{"
assert_contains "/metrics apiserver_request_duration_seconds" "$m" "apiserver_request_duration_seconds_bucket{"
assert_match "/metrics apiserver_storage_size_bytes > 0" "$m" $'(^|\n)apiserver_storage_size_bytes [1-9]'
assert_match "/metrics counts namespace lists" "$m" 'apiserver_request_total\{[^}]*resource="namespaces"'

log "authentication"
code=$(curl -sS --max-time 10 --cacert "$DATA/pki/ca.crt" -o "$E2E_TMP/anon" -w '%{http_code}' "https://127.0.0.1:$PORT/api/v1/namespaces")
assert_eq "anonymous request -> 401" "401" "$code"
anon=$(cat "$E2E_TMP/anon")
assert_eq "401 body is a Status" "Status" "$(jget "$anon" .kind)"
assert_eq "401 Status reason" "Unauthorized" "$(jget "$anon" .reason)"
assert_eq "401 Status code" "401" "$(jget "$anon" .code)"

code=$(curl -sS --max-time 10 --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer not-a-real-token" \
  -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/api/v1/namespaces")
assert_eq "wrong bearer token -> 401" "401" "$code"

token=$(awk '$2 == "admin" {print $1; exit}' "$DATA/pki/tokens")
assert_ne "admin token present in pki/tokens" "" "$token"
code=$(curl -sS --max-time 10 --cacert "$DATA/pki/ca.crt" -H "Authorization: Bearer $token" \
  -o "$E2E_TMP/tok" -w '%{http_code}' "https://127.0.0.1:$PORT/api/v1/namespaces")
assert_eq "admin bearer token -> 200" "200" "$code"
assert_eq "admin bearer token lists namespaces" "NamespaceList" "$(jq -r .kind "$E2E_TMP/tok")"

# The token also works for kubectl (no client certificate).
expect_ok "kubectl with bearer token only" kubectl --server "https://127.0.0.1:$PORT" \
  --certificate-authority "$DATA/pki/ca.crt" --token "$token" --kubeconfig /dev/null get ns -o name
assert_contains "kubectl (token) sees namespace/default" "$OUT" "namespace/default"

# Plain HTTP on the TLS port must not work.
rc=0
plain=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/version" 2>&1) || rc=$?
if [[ $rc -ne 0 || "$plain" == 400 || "$plain" == 000 ]]; then pass "plain HTTP is refused ($rc/$plain)"
else fail "plain HTTP is refused" "curl exit $rc, HTTP $plain"; fi
# The server is still fine after it.
assert_eq "server healthy after plain HTTP" "200" "$(http_code /readyz)"

log "discovery through kubectl"
expect_ok "kubectl api-resources" kubectl api-resources
ar=$OUT
assert_match "api-resources: pods with short name po" "$ar" $'(^|\n)pods +po +v1 +true +Pod'
assert_match "api-resources: deployments with short name deploy" "$ar" $'\ndeployments +deploy +apps/v1 +true +Deployment'
assert_match "api-resources: crds with short names" "$ar" $'\ncustomresourcedefinitions +crd,crds +apiextensions.k8s.io/v1 +false +CustomResourceDefinition'
assert_match "api-resources: namespaces cluster-scoped" "$ar" $'\nnamespaces +ns +v1 +false +Namespace'
expect_ok "kubectl api-resources --namespaced=false -o name" kubectl api-resources --namespaced=false -o name
assert_contains "cluster-scoped list has namespaces" "$OUT" "namespaces"
assert_not_contains "cluster-scoped list has no pods" "$OUT" $'\npods\n'

expect_ok "kubectl get ns" kubectl get ns
assert_match "get ns: default Active" "$OUT" $'\ndefault +Active'
assert_match "get ns: kube-system Active" "$OUT" $'\nkube-system +Active'
expect_ok "kubectl get po (short name)" kubectl get po
assert_contains "no pods yet" "$OUT" "No resources found in default namespace."
expect_ok "kubectl version" kubectl version -o json
assert_eq "kubectl version sees server minor 32" "32" "$(jq -r .serverVersion.minor <<<"$OUT")"

finish
