#!/usr/bin/env bash
# The registry against Debian's docker-registry (the reference distribution
# registry, 2.8), side by side in one run on the same machine, with the same
# client (skopeo) and the same images, both over TLS with the same certificate:
#
#   push   a 200 MB image of 4 layers (oci: layout -> docker://), fresh repository each round
#   pull   the same image (docker:// -> oci: layout), fresh directory each round
#   conc   50 skopeo pulls at once of a 20 MB image
#   rss    each server's peak resident memory (VmHWM) over the whole run
#
# Berth runs with --no-agent (API server, controllers and registry) and token
# authentication; docker-registry runs without authentication. Figures are
# medians of ROUNDS rounds (default 3) taken alternately, and ratios are
# docker-registry time / Berth time (above 1: Berth is faster).
#
#   bench/bench_registry.sh BERTH_BINARY
set -euo pipefail
BERTH=$(realpath "$1")
ROUNDS=${ROUNDS:-3}
CONC=${CONC:-50}
here="$(cd "$(dirname "$0")/.." && pwd)"
command -v docker-registry >/dev/null || { echo "docker-registry is not installed (bash scripts/install-deps.sh bench)" >&2; exit 1; }
W=$(mktemp -d /var/tmp/berth-bench-registry.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# Every round pushes an image no registry has seen (skopeo would otherwise
# mount blobs it knows from an earlier push instead of uploading them).
echo "images: 4 x 50 MB layers (push/pull), 4 x 5 MB layers ($CONC concurrent pulls), new ones each round"
make_images() {
  rm -rf "$W/oci"
  python3 "$here/tests/images/make-oci-image.py" "$W/oci" big --random-layers 4 --layer-size $((50 * 1000 * 1000)) --seed $((100 + $1)) >/dev/null
  python3 "$here/tests/images/make-oci-image.py" "$W/oci" small --random-layers 4 --layer-size $((5 * 1000 * 1000)) --seed $((200 + $1)) >/dev/null
}

# Berth
BPORT=$(free_port)
mkdir -p "$W/berth/pki"
echo "bench-token admin system:masters" >"$W/berth/pki/tokens"
chmod 600 "$W/berth/pki/tokens"
"$BERTH" server --data-dir "$W/berth" --port "$BPORT" --bind 127.0.0.1 --no-agent --log-level warn >"$W/berth.log" 2>&1 &
BPID=$!
PIDS+=($BPID)
for _ in $(seq 200); do
  curl -s --cacert "$W/berth/pki/ca.crt" -o /dev/null "https://127.0.0.1:$BPORT/v2/" 2>/dev/null && break
  sleep 0.05
done
KUBECONFIG="$W/berth/kubeconfig.yaml" kubectl apply -f - >/dev/null <<'EOF2'
apiVersion: registry.berth.dev/v1
kind: Project
metadata: {name: bench}
EOF2

# docker-registry, with Berth's serving certificate so that one CA serves both.
DPORT=$(free_port)
cat >"$W/registry.yml" <<EOF2
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $W/dreg}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$DPORT
  tls: {certificate: $W/berth/pki/server.crt, key: $W/berth/pki/server.key}
EOF2
env -u REGISTRY_AUTH_FILE docker-registry serve "$W/registry.yml" >"$W/dreg.log" 2>&1 &
DPID=$!
PIDS+=($DPID)
for _ in $(seq 200); do
  curl -s --cacert "$W/berth/pki/ca.crt" -o /dev/null "https://127.0.0.1:$DPORT/v2/" 2>/dev/null && break
  sleep 0.05
done
mkdir -p "$W/certs"
cp "$W/berth/pki/ca.crt" "$W/certs/ca.crt"
export REGISTRY_AUTH_FILE="$W/auth.json"
echo '{}' >"$REGISTRY_AUTH_FILE"
echo "berth pid $BPID port $BPORT; docker-registry $(docker-registry --version 2>/dev/null | awk '{print $3}') pid $DPID port $DPORT"

# CPU time (ms) a server process has used so far.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$1/stat"; }
pid_of() { [[ $1 == berth ]] && echo "$BPID" || echo "$DPID"; }

creds() { [[ $1 == berth ]] && echo "--dest-creds=admin:bench-token" || echo "--dest-no-creds"; }
screds() { [[ $1 == berth ]] && echo "--src-creds=admin:bench-token" || echo "--src-no-creds"; }
port() { [[ $1 == berth ]] && echo "$BPORT" || echo "$DPORT"; }

push() {  # push TARGET ROUND -> ms
  local t0 t1
  t0=$(now_ms)
  skopeo copy -q --preserve-digests --dest-cert-dir "$W/certs" "$(creds "$1")" "oci:$W/oci:big" \
    "docker://127.0.0.1:$(port "$1")/bench/push$2:1" >/dev/null
  t1=$(now_ms)
  echo $((t1 - t0))
}
pull() {  # pull TARGET ROUND -> ms
  local t0 t1 out="$W/pull-$1-$2"
  t0=$(now_ms)
  skopeo copy -q --src-cert-dir "$W/certs" "$(screds "$1")" "docker://127.0.0.1:$(port "$1")/bench/push$2:1" \
    "oci:$out:big" >/dev/null
  t1=$(now_ms)
  rm -rf "$out"
  echo $((t1 - t0))
}
push_small() {  # push_small TARGET ROUND: the image conc pulls (not timed)
  skopeo copy -q --preserve-digests --dest-cert-dir "$W/certs" "$(creds "$1")" "oci:$W/oci:small" \
    "docker://127.0.0.1:$(port "$1")/bench/small$2:1" >/dev/null
}
conc() {  # conc TARGET ROUND -> ms for CONC simultaneous pulls of the small image
  local t0 t1 i pids=()
  t0=$(now_ms)
  for i in $(seq "$CONC"); do
    skopeo copy -q --src-cert-dir "$W/certs" "$(screds "$1")" "docker://127.0.0.1:$(port "$1")/bench/small$2:1" \
      "oci:$W/conc-$1-$i:small" >/dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(now_ms)
  rm -rf "$W"/conc-"$1"-*
  echo $((t1 - t0))
}

declare -A R C
# timed OP TARGET ROUND: records wall ms in R and the server's CPU ms in C.
timed() {
  local c0 ms
  c0=$(cpu_ms "$(pid_of "$2")")
  ms=$("$1" "$2" "$3")
  R[$1-$2]+="$ms "
  C[$1-$2]+="$(($(cpu_ms "$(pid_of "$2")") - c0)) "
}
for round in $(seq "$ROUNDS"); do
  make_images "$round"
  # Alternate which registry goes first.
  order=(berth dreg)
  (( round % 2 == 0 )) && order=(dreg berth)
  for target in "${order[@]}"; do
    timed push "$target" "$round"
    timed pull "$target" "$round"
    push_small "$target" "$round"
    timed conc "$target" "$round"
  done
  echo "round $round done"
done

hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
BHWM=$(hwm "$BPID")
DHWM=$(hwm "$DPID")
echo
printf '%-40s %12s %16s %8s\n' "metric (median of $ROUNDS)" "berth" "docker-registry" "ratio"
row() {  # row LABEL ARRAY-NAME METRIC
  local -n arr=$2
  local b d
  b=$(tr ' ' '\n' <<<"${arr[$3-berth]}" | grep . | median)
  d=$(tr ' ' '\n' <<<"${arr[$3-dreg]}" | grep . | median)
  printf '%-40s %12s %16s %7.2fx\n' "$1" "$b" "$d" "$(awk -v b="$b" -v d="$d" 'BEGIN {print (b > 0) ? d / b : 0}')"
}
row "push 200 MB, wall (ms)" R push
row "pull 200 MB, wall (ms)" R pull
row "$CONC concurrent pulls of 20 MB, wall (ms)" R conc
row "push 200 MB, server CPU (ms)" C push
row "pull 200 MB, server CPU (ms)" C pull
row "$CONC concurrent pulls, server CPU (ms)" C conc
printf '%-40s %12s %16s %7.2fx\n' "peak RSS (MiB)" "$((BHWM / 1024))" "$((DHWM / 1024))" \
  "$(awk -v b="$BHWM" -v d="$DHWM" 'BEGIN {print d / b}')"
echo "client (skopeo) CPU is most of the machine's work: see docs/benchmarks.md"
echo "raw ms: push berth [${R[push-berth]}] dreg [${R[push-dreg]}]; pull berth [${R[pull-berth]}] dreg [${R[pull-dreg]}]; conc berth [${R[conc-berth]}] dreg [${R[conc-dreg]}]"
