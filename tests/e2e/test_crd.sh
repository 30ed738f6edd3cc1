#!/usr/bin/env bash
# CustomResourceDefinitions: establish, discovery, CRs, printer columns,
# patches, schema validation, strict fields, explain, cascade on CRD delete.
source "$(dirname "$0")/lib.sh" "$@"
start_server
M="$E2E_TMP/manifests"
mkdir -p "$M"

cat >"$M/crd.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec, description: The cron spec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        description: CronTab runs a command on a schedule.
        properties:
          spec:
            type: object
            description: Desired schedule.
            required: [cronSpec]
            properties:
              cronSpec:
                type: string
                description: Cron format schedule.
                pattern: '^(\S+ ){4}\S+$'
              image: {type: string, description: Container image to run.}
              replicas: {type: integer, minimum: 1, maximum: 10}
              mode: {type: string, enum: [Fast, Slow]}
          status:
            type: object
            properties:
              phase: {type: string}
EOF

log "establish and discover"
expect_ok "apply CRD" kubectl apply -f "$M/crd.yaml"
assert_eq "apply CRD output" "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created" "$OUT"
expect_ok "wait Established" kubectl wait --for=condition=Established crd/crontabs.stable.example.com --timeout=30s
crd=$(kubectl get crd crontabs.stable.example.com -o json)
assert_eq "NamesAccepted True" "True" "$(jget "$crd" '.status.conditions[] | select(.type=="NamesAccepted") | .status')"
assert_eq "acceptedNames.kind" "CronTab" "$(jget "$crd" .status.acceptedNames.kind)"
assert_eq "storedVersions" '["v1"]' "$(jq -c .status.storedVersions <<<"$crd")"
expect_ok "api-resources shows the CRD" kubectl api-resources --api-group=stable.example.com
assert_match "api-resources row" "$OUT" $'\ncrontabs +ct +stable.example.com/v1 +true +CronTab'
assert_eq "discovery: group version" "stable.example.com/v1" \
  "$(kcurl /apis/stable.example.com | jq -r .preferredVersion.groupVersion)"

log "custom resources"
cat >"$M/ct.yaml" <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: nightly
  labels: {team: ops}
spec:
  cronSpec: "0 3 * * *"
  image: backup:2
  replicas: 2
EOF
expect_ok "create CR" kubectl apply -f "$M/ct.yaml"
assert_eq "create CR output" "crontab.stable.example.com/nightly created" "$OUT"
expect_ok "get by short name with printer columns" kubectl get ct
assert_match "printer column header" "$OUT" '^NAME +SPEC +REPLICAS +AGE'
assert_match "printer column row" "$OUT" $'\nnightly +0 3 \\* \\* \\* +2 +[0-9]+s'
expect_ok "get -o wide" kubectl get crontabs.stable.example.com nightly -o wide
assert_contains "wide row" "$OUT" "0 3 * * *"
expect_ok "get all includes the category" kubectl get all
assert_contains "get all lists the CR" "$OUT" "crontab.stable.example.com/nightly"
expect_ok "re-apply unchanged" kubectl apply -f "$M/ct.yaml"
assert_eq "re-apply CR unchanged" "crontab.stable.example.com/nightly unchanged" "$OUT"
sed -i 's/image: backup:2/image: backup:3/' "$M/ct.yaml"
expect_ok "apply change (merge patch for CRs)" kubectl apply -f "$M/ct.yaml"
assert_eq "apply CR configured" "crontab.stable.example.com/nightly configured" "$OUT"
expect_ok "merge patch" kubectl patch ct nightly --type=merge -p '{"spec":{"replicas":5}}'
ct=$(kubectl get ct nightly -o json)
assert_eq "CR after patches" "backup:3/5/0 3 * * *" "$(jget "$ct" '"\(.spec.image)/\(.spec.replicas)/\(.spec.cronSpec)"')"
assert_eq "CR generation bumped by spec changes" "3" "$(jget "$ct" .metadata.generation)"
expect_fail "strategic merge patch is refused for CRs" kubectl patch ct nightly --type=strategic -p '{"spec":{"replicas":4}}'
assert_contains "SMP refusal (415) message" "$OUT" \
  'application/strategic-merge-patch+json is not supported by stable.example.com/v1, Kind=CronTab: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml'
expect_ok "status subresource update" kubectl patch ct nightly --subresource=status --type=merge -p '{"status":{"phase":"Done"}}'
assert_eq "status stored" "Done" "$(kubectl get ct nightly -o jsonpath='{.status.phase}')"
expect_ok "status in a main-resource patch is ignored" kubectl patch ct nightly --type=merge -p '{"status":{"phase":"Hacked"}}'
assert_eq "status unchanged by main patch" "Done" "$(kubectl get ct nightly -o jsonpath='{.status.phase}')"
expect_ok "label selector on CRs" kubectl get ct -l team=ops -o name
assert_eq "label selector result" "crontab.stable.example.com/nightly" "$OUT"

log "schema validation"
bad() {
  cat <<EOF
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: $1}
spec: $2
EOF
}
bad broken '{cronSpec: "not a cron", replicas: 50, mode: Medium}' >"$M/bad.yaml"
expect_fail "invalid CR rejected" kubectl apply -f "$M/bad.yaml"
assert_contains "422 message prefix" "$OUT" 'The CronTab "broken" is invalid: '
assert_contains "pattern cause" "$OUT" 'spec.cronSpec: Invalid value: "not a cron": spec.cronSpec in body should match '"'"'^(\S+ ){4}\S+$'"'"
assert_contains "maximum cause" "$OUT" 'spec.replicas: Invalid value: 50: spec.replicas in body should be less than or equal to 10'
assert_contains "enum cause" "$OUT" 'spec.mode: Unsupported value: "Medium": supported values: "Fast", "Slow"'
bad typed '{cronSpec: "* * * * *", replicas: "three"}' >"$M/bad2.yaml"
expect_fail "wrong type rejected" kubectl create -f "$M/bad2.yaml"
assert_contains "type cause" "$OUT" 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'
bad noreq '{image: x}' >"$M/bad3.yaml"
expect_fail "missing required field rejected" kubectl create -f "$M/bad3.yaml"
assert_contains "required cause" "$OUT" 'spec.cronSpec: Required value'
code=$(http_code /apis/stable.example.com/v1/namespaces/default/crontabs -H 'Content-Type: application/json' \
  -d '{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"c"},"spec":{"cronSpec":"x","replicas":0}}')
assert_eq "invalid CR via curl -> 422" "422" "$code"
b=$(body)
assert_eq "422 Status reason Invalid" "Invalid" "$(jget "$b" .reason)"
assert_eq "422 field causes" "FieldValueInvalid:spec.cronSpec FieldValueInvalid:spec.replicas" \
  "$(jq -r '[.details.causes[] | "\(.reason):\(.field)"] | sort | join(" ")' <<<"$b")"
assert_eq "422 details kind/group" "CronTab/stable.example.com/c" "$(jget "$b" '"\(.details.kind)/\(.details.group)/\(.details.name)"')"

bad extra '{cronSpec: "* * * * *", colour: red}' >"$M/extra.yaml"
expect_fail "unknown field rejected with --validate=strict" kubectl create -f "$M/extra.yaml" --validate=strict
assert_contains "strict decoding error" "$OUT" 'strict decoding error: unknown field "spec.colour"'
expect_ok "unknown field pruned with --validate=false" kubectl create -f "$M/extra.yaml" --validate=false
assert_eq "pruned field not stored" "null" "$(kubectl get ct extra -o json | jq -c .spec.colour)"

log "explain"
expect_ok "explain deployment.spec" kubectl explain deployment.spec
assert_contains "explain built-in kind" "$OUT" "KIND:       Deployment"
assert_match "explain built-in field list" "$OUT" 'replicas[[:space:]]+<integer>'
assert_match "explain built-in template field" "$OUT" 'template[[:space:]]+<PodTemplateSpec> -required-'
expect_ok "explain the CR" kubectl explain crontab.spec
assert_contains "explain CR kind" "$OUT" "KIND:       CronTab"
assert_contains "explain CR description" "$OUT" "Desired schedule."
assert_match "explain CR field" "$OUT" 'cronSpec[[:space:]]+<string> -required-'
assert_contains "explain CR field description" "$OUT" "Cron format schedule."

log "delete the CRD"
expect_ok "second CR" kubectl create -f "$M/bad3.yaml" --validate=false -o name --dry-run=client
expect_ok "delete CRD" kubectl delete crd crontabs.stable.example.com --timeout=40s
check_wait "CR endpoint gone" 30 bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' --cacert '$DATA/pki/ca.crt' --cert '$DATA/pki/admin.crt' --key '$DATA/pki/admin.key' https://127.0.0.1:$PORT/apis/stable.example.com/v1/namespaces/default/crontabs) == 404 ]]"
expect_fail "kubectl get ct after CRD deletion" kubectl get crontabs.stable.example.com
assert_contains "resource type unknown" "$OUT" 'the server doesn'"'"'t have a resource type "crontabs"'
# Re-creating the CRD must not resurrect the old CRs.
expect_ok "re-create the CRD" kubectl apply -f "$M/crd.yaml"
expect_ok "wait Established again" kubectl wait --for=condition=Established crd/crontabs.stable.example.com --timeout=30s
expect_ok "list CRs after re-create" kubectl get crontabs.stable.example.com -A -o name
assert_eq "CRs were removed with the CRD" "" "$OUT"

finish
