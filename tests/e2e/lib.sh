# Shared helpers for the Berth end-to-end tests.
#
# Usage, from tests/e2e/test_X.sh:
#   source "$(dirname "$0")/lib.sh" "$@"     # $1 = path to the berth binary
#   start_server
#   ... assertions ...
#   finish
#
# Every test gets its own data dir, port, HOME (so kubectl's discovery cache
# is private) and KUBECONFIG. Synchronisation is done only by polling a
# condition with a deadline (wait_for); never by sleeping for a fixed time.

set -u
set -o pipefail

if [[ $# -lt 1 || ! -x "$1" ]]; then
  echo "usage: $0 <path-to-berth-binary>" >&2
  exit 2
fi
BERTH=$(realpath "$1")
TEST_NAME=$(basename "$0" .sh)

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/berth-e2e-${TEST_NAME}.XXXXXX")
DATA="$E2E_TMP/data"
export HOME="$E2E_TMP/home"
mkdir -p "$HOME"
export KUBECONFIG="$DATA/kubeconfig.yaml"
# kubectl must never talk to anything but our server.
unset KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
export NO_PROXY='*'

PASSED=0
FAILED=0
SERVER_PID=""
PORT=""
SERVER_LOG=""
BG_PIDS=()
FINISHED=0
OUT=""   # output of the last kc / expect_fail / run call

_ts() { date +%H:%M:%S.%3N; }
log() { echo "[$(_ts)] $*"; }

pass() {
  PASSED=$((PASSED + 1))
  echo "  ok: $1"
}

fail() {
  FAILED=$((FAILED + 1))
  echo "  FAIL: $1" >&2
  shift
  local line
  for line in "$@"; do printf '        %s\n' "$line" >&2; done
}

# --- assertions ---------------------------------------------------------------

# assert_eq <description> <expected> <actual>
assert_eq() {
  if [[ "$2" == "$3" ]]; then pass "$1"; else
    fail "$1" "expected: $(printf %q "${2:0:1000}")" "actual:   $(printf %q "${3:0:1000}")"
  fi
}

# assert_ne <description> <unexpected> <actual>
assert_ne() {
  if [[ "$2" != "$3" ]]; then pass "$1"; else
    fail "$1" "expected anything but: $(printf %q "$2")"
  fi
}

# assert_contains <description> <haystack> <needle>
assert_contains() {
  if [[ "$2" == *"$3"* ]]; then pass "$1"; else
    fail "$1" "expected to contain: $3" "in: ${2:0:2000}"
  fi
}

# assert_not_contains <description> <haystack> <needle>
assert_not_contains() {
  if [[ "$2" != *"$3"* ]]; then pass "$1"; else
    fail "$1" "expected NOT to contain: $3" "in: ${2:0:2000}"
  fi
}

# assert_match <description> <string> <extended-regex>
assert_match() {
  if [[ "$2" =~ $3 ]]; then pass "$1"; else
    fail "$1" "expected to match: $3" "in: ${2:0:2000}"
  fi
}

# expect_ok <description> <command...>: the command must exit 0; its combined
# output is left in $OUT.
expect_ok() {
  local desc=$1; shift
  local rc=0
  OUT=$("$@" 2>&1) || rc=$?
  if [[ $rc -eq 0 ]]; then pass "$desc"; else
    fail "$desc" "command: $*" "exit code: $rc" "output: ${OUT:0:2000}"
  fi
  return $rc
}

# expect_fail <description> <command...>: the command must exit non-zero; its
# combined output is left in $OUT for further assertions.
expect_fail() {
  local desc=$1; shift
  local rc=0
  OUT=$("$@" 2>&1) || rc=$?
  if [[ $rc -ne 0 ]]; then pass "$desc"; return 0; fi
  fail "$desc" "command unexpectedly succeeded: $*" "output: ${OUT:0:2000}"
  return 1
}

# wait_for <timeout-seconds> <command...>: polls the command (every 0.1 s)
# until it exits 0 or the deadline passes. Returns 1 on timeout.
wait_for() {
  local timeout=$1; shift
  local deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
  while true; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if (( $(date +%s%N) >= deadline )); then return 1; fi
    sleep 0.1
  done
}

# check_wait <description> <timeout> <command...>: wait_for as an assertion.
check_wait() {
  local desc=$1 timeout=$2; shift 2
  if wait_for "$timeout" "$@"; then pass "$desc"; else
    fail "$desc" "condition not met within ${timeout}s: $*"
    return 1
  fi
}

# --- clients -----------------------------------------------------------------

# kc <kubectl args...>: runs kubectl; its combined output goes to $OUT;
# returns kubectl's exit code.
kc() {
  local rc=0
  OUT=$(kubectl --request-timeout=30s "$@" 2>&1) || rc=$?
  return $rc
}

# kcurl <path> [curl args...]: authenticated (client certificate) HTTPS request.
# Prints the body; use -w/-o for status codes.
kcurl() {
  local path=$1; shift
  curl -sS --max-time 30 --cacert "$DATA/pki/ca.crt" --cert "$DATA/pki/admin.crt" --key "$DATA/pki/admin.key" \
    "$@" "https://127.0.0.1:$PORT$path"
}

# http_code <path> [curl args...]: prints only the HTTP status code; the body
# goes to $E2E_TMP/body.
http_code() {
  local path=$1; shift
  kcurl "$path" -o "$E2E_TMP/body" -w '%{http_code}' "$@"
}
body() { cat "$E2E_TMP/body"; }

# jget <json-text> <jq filter>
jget() { jq -r "$2" <<<"$1"; }

# import_busybox_image [ref]: builds the busybox-static test root file system
# (no network needed) and imports it into $DATA's image store as busybox:test.
import_busybox_image() {
  local ref=${1:-busybox:test}
  bash "$(dirname "${BASH_SOURCE[0]}")/../images/build-busybox-rootfs.sh" "$E2E_TMP/rootfs" >/dev/null &&
    "$BERTH" image import "$E2E_TMP/rootfs" --name "$ref" --data-dir "$DATA" >/dev/null 2>&1 ||
    { fail "import the busybox test image"; finish; }
}

# expect_node_ready [name]: the embedded node agent registers its Node and
# reports it Ready (an assertion).
expect_node_ready() {
  local node=${1:-e2e-node}
  check_wait "the embedded node registers and is Ready" 30 bash -c \
    "kubectl get node $node -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' 2>/dev/null | grep -q True"
}

# --- server lifecycle ---------------------------------------------------------

# Extra `berth server` flags. Tests of the API alone run without the node
# agent; tests that run pods set SERVER_ARGS=() (or their own flags) first.
if [[ -z ${SERVER_ARGS+x} ]]; then SERVER_ARGS=(--no-agent); fi

_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

_ready() {
  [[ -f "$DATA/pki/admin.key" ]] && [[ "$(curl -s --max-time 2 --cacert "$DATA/pki/ca.crt" --cert "$DATA/pki/admin.crt" \
    --key "$DATA/pki/admin.key" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/readyz")" == 200 ]]
}

_server_alive() { [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; }

# start_server: starts `berth server` on $DATA (reused if it exists) on a free
# port, waits for /readyz and the kubeconfig. Retries when the port is taken.
start_server() {
  local attempt
  mkdir -p "$DATA"
  for attempt in 1 2 3 4 5; do
    PORT=$(_free_port)
    SERVER_LOG="$E2E_TMP/server.$attempt.$PORT.log"
    "$BERTH" server --data-dir "$DATA" --port "$PORT" --bind "${BIND:-127.0.0.1}" "${SERVER_ARGS[@]}" >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    local deadline=$(( $(date +%s) + 30 ))
    while (( $(date +%s) < deadline )); do
      if _ready && [[ -f "$KUBECONFIG" ]] && grep -q ":$PORT" "$KUBECONFIG"; then
        log "berth server pid $SERVER_PID ready on port $PORT (data $DATA)"
        return 0
      fi
      if ! _server_alive; then break; fi
      sleep 0.05
    done
    if _server_alive; then
      echo "berth server did not become ready within 30s; log:" >&2
      tail -n 50 "$SERVER_LOG" >&2
      kill -KILL "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null
      SERVER_PID=""
      break
    fi
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
    if grep -qi 'address already in use\|bind' "$SERVER_LOG"; then
      log "port $PORT was taken; retrying"
      continue
    fi
    echo "berth server exited during startup; log:" >&2
    tail -n 50 "$SERVER_LOG" >&2
    break
  done
  fail "start berth server"
  finish
}

# stop_server: SIGTERM, then the process must exit 0 within 15 s.
stop_server() {
  [[ -z "$SERVER_PID" ]] && return 0
  local pid=$SERVER_PID
  kill -TERM "$pid" 2>/dev/null
  if wait_for 15 bash -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status"; then
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    SERVER_PID=""
    if [[ $rc -eq 0 ]]; then pass "server exits cleanly on SIGTERM"; else
      fail "server exits cleanly on SIGTERM" "exit code $rc" "$(tail -n 20 "$SERVER_LOG")"
    fi
  else
    fail "server exits within 15s of SIGTERM" "$(tail -n 20 "$SERVER_LOG")"
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    SERVER_PID=""
  fi
}

# kill9_server: SIGKILL, no questions asked.
kill9_server() {
  [[ -z "$SERVER_PID" ]] && return 0
  kill -KILL "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}

# bg <command...>: runs a command in the background and remembers it for cleanup.
# The pid is in $BG_PID.
bg() {
  "$@" &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
}

_cleanup() {
  local rc=$?
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [[ -n "$SERVER_PID" ]]; then
    if [[ $FINISHED -eq 0 ]]; then
      kill -KILL "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null
    else
      stop_server
    fi
  fi
  if [[ $FINISHED -eq 0 ]]; then
    FAILED=$((FAILED + 1))
    echo "  FAIL: test script aborted before finish" >&2
    echo "$PASSED passed, $FAILED failed"
    rc=1
  fi
  if [[ $rc -ne 0 && -n "$SERVER_LOG" && -f "$SERVER_LOG" ]]; then
    echo "--- last server log lines ($SERVER_LOG) ---" >&2
    tail -n 30 "$SERVER_LOG" >&2
  fi
  # Pods still running after a failed test: remove their containers first.
  if [[ -d "$DATA/node/pods" ]]; then "$BERTH" reset --data-dir "$DATA" >/dev/null 2>&1; fi
  # Pods may have left mounts under the data dir (a failed test): never let
  # rm follow a bind mount out of it.
  local m
  for m in $(findmnt -rn -o TARGET | grep "^$E2E_TMP/" | sort -r); do umount -l "$m" 2>/dev/null; done
  rm -rf "$E2E_TMP"
  exit $rc
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# finish: stops the server (checking a clean exit), prints the summary line
# and exits 0 only if nothing failed.
finish() {
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  BG_PIDS=()
  stop_server
  FINISHED=1
  echo "$PASSED passed, $FAILED failed"
  if [[ $FAILED -eq 0 ]]; then exit 0; else exit 1; fi
}
