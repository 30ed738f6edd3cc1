#!/usr/bin/env bash
# Crash safety: kill -9 the server in the middle of a write load, restart on
# the same data dir, and check that every acknowledged write survived, that no
# object is half-written, and that watches resume from the last seen RV.
source "$(dirname "$0")/lib.sh" "$@"
start_server

# Writer: THREADS keep-alive HTTPS connections POSTing configmaps; each 201 is
# appended (name, resourceVersion) to ack.<thread> and flushed before the
# next request. Stops at the first connection error (the server died).
cat >"$E2E_TMP/writer.py" <<'EOF'
import http.client, json, ssl, sys, threading, hashlib
port, pki, outdir, threads = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/admin.crt", pki + "/admin.key")
def payload(name):
    # Several KiB, derived from the name, so a torn write would show.
    return hashlib.sha256(name.encode()).hexdigest() * 64
def run(t):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    with open("%s/ack.%d" % (outdir, t), "w") as out:
        i = 0
        while True:
            name = "load-%d-%d" % (t, i)
            body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": name, "labels": {"load": "yes"}},
                               "data": {"payload": payload(name)}})
            try:
                conn.request("POST", "/api/v1/namespaces/default/configmaps", body,
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
            except Exception:
                return
            if r.status == 201:
                rv = json.loads(data)["metadata"]["resourceVersion"]
                out.write("%s %s\n" % (name, rv))
                out.flush()
            i += 1
ts = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
for x in ts: x.start()
for x in ts: x.join()
EOF

acked() { cat "$E2E_TMP"/ack.[0-9]* 2>/dev/null | wc -l; }
# Watch all the writes while they happen.
bg kcurl "/api/v1/namespaces/default/configmaps?watch=true&labelSelector=load%3Dyes" -N -o "$E2E_TMP/watch.out" 2>/dev/null
log "write load"
bg python3 "$E2E_TMP/writer.py" "$PORT" "$DATA/pki" "$E2E_TMP" 4
writer=$BG_PID
check_wait "writers got at least 400 acknowledgements" 40 bash -c "[[ \$(cat '$E2E_TMP'/ack.[0-9]* | wc -l) -ge 400 ]]"
kill9_server
log "server killed with SIGKILL after $(acked) acknowledged writes"
rc=0; wait "$writer" || rc=$?
assert_eq "writers stop when the server dies" "0" "$rc"
n_acked=$(acked)
sort -k1,1 "$E2E_TMP"/ack.[0-9]* | awk '{print $1}' >"$E2E_TMP/acked.names"
last_rv=$(cat "$E2E_TMP"/ack.[0-9]* | awk '$2 > m {m = $2} END {print m}')
watch_rv=$(jq -r .object.metadata.resourceVersion "$E2E_TMP/watch.out" 2>/dev/null | sort -n | tail -n1)
log "last acknowledged RV $last_rv; last RV seen by the watch $watch_rv"

log "restart on the same data dir"
start_server
list=$(kcurl "/api/v1/namespaces/default/configmaps?labelSelector=load%3Dyes")
assert_eq "list after restart is a ConfigMapList" "ConfigMapList" "$(jget "$list" .kind)"
jq -r '.items[].metadata.name' <<<"$list" | sort >"$E2E_TMP/present.names"
missing=$(comm -23 "$E2E_TMP/acked.names" "$E2E_TMP/present.names" | head -n 5)
assert_eq "every acknowledged configmap survived ($n_acked acked, $(wc -l <"$E2E_TMP/present.names") present)" "" "$missing"
# Objects that were written but not yet acknowledged may exist; none may be torn.
printf '%s' "$list" >"$E2E_TMP/list.json"
torn=$(python3 - "$E2E_TMP/list.json" <<'EOF'
import hashlib, json, sys
items = json.load(open(sys.argv[1]))["items"]
bad = [i["metadata"]["name"] for i in items
       if i.get("data", {}).get("payload") != hashlib.sha256(i["metadata"]["name"].encode()).hexdigest() * 64
       or not i["metadata"].get("uid") or not i["metadata"].get("resourceVersion")]
print(" ".join(bad[:5]))
EOF
)
assert_eq "no half-written object" "" "$torn"
acked_rvs=$(sort -k1,1 "$E2E_TMP"/ack.[0-9]* | awk '{print $1" "$2}')
live_rvs=$(jq -r '.items[] | "\(.metadata.name) \(.metadata.resourceVersion)"' <<<"$list" | sort -k1,1 | join - <(awk '{print $1}' "$E2E_TMP/acked.names"))
assert_eq "acknowledged objects keep their resourceVersions" "$acked_rvs" "$live_rvs"
list_rv=$(jget "$list" .metadata.resourceVersion)
if (( list_rv >= last_rv )); then pass "store revision after restart ($list_rv) >= last acknowledged ($last_rv)"; else
  fail "store revision after restart >= last acknowledged" "$list_rv < $last_rv"; fi

log "watch resumes from the last seen resourceVersion"
from=${watch_rv:-$last_rv}
ev=$(kcurl "/api/v1/namespaces/default/configmaps?watch=true&labelSelector=load%3Dyes&resourceVersion=$from&timeoutSeconds=1")
assert_not_contains "resumed watch has no ERROR event" "$ev" '"type":"ERROR"'
old_min=$(jq -r '.object.metadata.resourceVersion' <<<"$ev" | sort -n | head -n1)
if [[ -z "$old_min" ]] || (( old_min > from )); then pass "resumed watch only sends RVs after $from"; else
  fail "resumed watch only sends RVs after $from" "got RV $old_min"; fi
bg kcurl "/api/v1/namespaces/default/configmaps?watch=true&labelSelector=load%3Dyes&resourceVersion=$from" -N -o "$E2E_TMP/watch2.out" 2>/dev/null
c=$(kcurl /api/v1/namespaces/default/configmaps -H 'Content-Type: application/json' \
  -d '{"metadata":{"name":"after-restart","labels":{"load":"yes"}},"data":{"payload":"x"}}')
new_rv=$(jget "$c" .metadata.resourceVersion)
if (( new_rv > last_rv )); then pass "new writes get RVs after every acknowledged one"; else
  fail "new writes get RVs after every acknowledged one" "$new_rv <= $last_rv"; fi
check_wait "resumed watch sees a write made after the restart" 20 grep -q '"name":"after-restart"' "$E2E_TMP/watch2.out"
expect_ok "kubectl works after the restart" kubectl get cm after-restart -o name

log "a second crash right after a clean restart"
kill9_server
start_server
assert_eq "after a second SIGKILL the object is still there" "after-restart" "$(kcurl /api/v1/namespaces/default/configmaps/after-restart | jq -r .metadata.name)"
assert_eq "and so are the acknowledged ones" "$(wc -l <"$E2E_TMP/acked.names")" \
  "$(kcurl "/api/v1/namespaces/default/configmaps?labelSelector=load%3Dyes" | jq -r '.items[].metadata.name' | sort | comm -12 - "$E2E_TMP/acked.names" | wc -l)"

finish
