#!/usr/bin/env bash
# Berth's monitoring module against Debian's Prometheus (2.42), side by side
# in one run on the same machine and the same data. Ratios are Berth /
# Prometheus (below 1: Berth uses less), each with the goal in brackets.
#
#   ingest  both scrape the same INGEST_TARGETS targets of 1,000 series
#           (bench/metrics_targets) every SCRAPE_INTERVAL, one after the
#           other (never at once: 2 cores), the target server running in both
#           cases. After all targets are up and WARMUP seconds more, the
#           server's CPU (utime+stime from /proc/PID/stat) over WINDOW seconds
#           per million samples scraped in that window (the same PromQL on
#           both: sum_over_time of scrape_samples_scraped).
#   memory  VmRSS and VmHWM per head series at the end of that window.
#   disk    one data set (DATA_TARGETS x 1,000 series over DATA_HOURS at
#           DATA_STEP seconds, bench/monitor_load): Prometheus's blocks made
#           by promtool tsdb create-blocks-from openmetrics; the same samples
#           remote-written into Berth. Bytes per sample of the blocks (sizes
#           and sample counts from each block's meta.json) where Berth has
#           blocks; otherwise Berth's WAL and head chunk bytes, said so.
#   query   dashboard queries (rate, sum by, histogram_quantile; 1 h to 24 h
#           ranges) on that data set in both: median of QUERY_RUNS runs each,
#           alternating servers; Berth over HTTPS, Prometheus plain HTTP,
#           both over one loopback keep-alive connection (no handshake timed).
#
# Figures, never pass/fail. Environment (defaults; QUICK=1 in brackets, a
# check of the script in about 3 minutes, one of them waiting for Berth's
# housekeeping to cut blocks; the defaults take about 10):
#   INGEST_TARGETS 200 (40)   SCRAPE_INTERVAL 10 (5)   WARMUP 60 (15)   WINDOW 120 (20)
#   DATA_TARGETS 5 (1)        DATA_HOURS 25            DATA_STEP 60     QUERY_RUNS 7 (3)
#   FIRST prometheus|berth: which scrapes first (prometheus)
#   IDLE 10: seconds over which both servers' idle CPU is measured
#   BLOCK_WAIT 180, BLOCK_SETTLE 15: how long to wait for Berth's blocks
#     after the load, and for how long they must then not change (one
#     housekeeping pass, once a minute, cuts and compacts all it can).
#     Skipped when Berth's /metrics has no prometheus_tsdb_blocks_loaded.
#
#   bench/bench_monitor.sh [BUILD_DIR]   # needs berth, metrics_targets, monitor_load in it
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
BUILD=$(realpath "${1:-$here/build-bench}")
BERTH="$BUILD/berth"
TARGETS_BIN="$BUILD/metrics_targets"
LOAD="$BUILD/monitor_load"
for b in "$BERTH" "$TARGETS_BIN" "$LOAD"; do
  [[ -x $b ]] || { echo "missing $b (ninja -C $BUILD berth metrics_targets monitor_load)" >&2; exit 1; }
done
for c in prometheus promtool jq curl; do
  command -v "$c" >/dev/null || { echo "$c is not installed (bash scripts/install-deps.sh bench)" >&2; exit 1; }
done

if [[ ${QUICK:-0} == 1 ]]; then
  d_it=40 d_si=5 d_wu=15 d_win=20 d_dt=1 d_runs=3
else
  d_it=200 d_si=10 d_wu=60 d_win=120 d_dt=5 d_runs=7
fi
INGEST_TARGETS=${INGEST_TARGETS:-$d_it}
SCRAPE_INTERVAL=${SCRAPE_INTERVAL:-$d_si}
WARMUP=${WARMUP:-$d_wu}
WINDOW=${WINDOW:-$d_win}
DATA_TARGETS=${DATA_TARGETS:-$d_dt}
DATA_HOURS=${DATA_HOURS:-25}
DATA_STEP=${DATA_STEP:-60}
QUERY_RUNS=${QUERY_RUNS:-$d_runs}
FIRST=${FIRST:-prometheus}
BLOCK_WAIT=${BLOCK_WAIT:-180}
BLOCK_SETTLE=${BLOCK_SETTLE:-15}
IDLE=${IDLE:-10}

W=$(mktemp -d /var/tmp/berth-bench-monitor.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
now() { date +%s.%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
status_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }  # calc FORMAT EXPR
ratio() { awk -v b="$1" -v p="$2" 'BEGIN {if (p > 0 && b != "" && p != "") printf "%.2f", b / p; else printf "n/a"}'; }
# wait_until TIMEOUT DESCRIPTION COMMAND...: polls every 0.2 s.
wait_until() {
  local timeout=$1 what=$2 deadline
  shift 2
  deadline=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    if (($(date +%s) >= deadline)); then
      echo "timed out after ${timeout}s waiting for: $what" >&2
      return 1
    fi
    sleep 0.2
  done
}
# stop_pid PID: SIGTERM, wait for the exit (up to 60 s), then SIGKILL.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  local i
  for i in $(seq 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

echo "== machine"
echo "date:       $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "host:       $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory:     $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "disk:       $(df -h "$W" | awk 'NR==2 {print $1 " (" $2 ") at " $6}')"
echo "commit:     $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$here" diff --quiet 2>/dev/null || echo ' (+local changes)')"
echo "prometheus: $(prometheus --version 2>&1 | head -1)"
echo "load:       $(load)"
echo "sizes:      ingest $INGEST_TARGETS targets x 1000 series every ${SCRAPE_INTERVAL}s, warm-up ${WARMUP}s, window ${WINDOW}s;"
echo "            data set $DATA_TARGETS x 1000 series, ${DATA_HOURS}h at ${DATA_STEP}s; $QUERY_RUNS runs per query"

# --- servers -------------------------------------------------------------------

BDATA="" BPORT="" BPID=""
# start_berth DATA_DIR [server flags...]
start_berth() {
  BDATA=$1
  shift
  BPORT=$(free_port)
  mkdir -p "$BDATA"
  "$BERTH" server --data-dir "$BDATA" --port "$BPORT" --bind 127.0.0.1 --no-agent --log-level warn "$@" \
    >>"$W/berth.log" 2>&1 &
  BPID=$!
  PIDS+=("$BPID")
  berth_ready() {
    kill -0 "$BPID" || return 0  # dead: stop waiting, checked below
    [[ -f $BDATA/pki/admin.key ]] && [[ $(bcurl /readyz -o /dev/null -w '%{http_code}') == 200 ]]
  }
  wait_until 60 "berth /readyz" berth_ready
  kill -0 "$BPID" 2>/dev/null || { echo "berth exited; log:" >&2; tail -n 30 "$W/berth.log" >&2; exit 1; }
}
bcurl() {
  local path=$1
  shift
  curl -sS --max-time 120 --cacert "$BDATA/pki/ca.crt" --cert "$BDATA/pki/admin.crt" --key "$BDATA/pki/admin.key" \
    "$@" "https://127.0.0.1:$BPORT$path"
}

PPORT="" PPID_=""
# start_prometheus CONFIG STORAGE_DIR
start_prometheus() {
  PPORT=$(free_port)
  prometheus --config.file="$1" --storage.tsdb.path="$2" --web.listen-address="127.0.0.1:$PPORT" \
    --log.level=warn >>"$W/prometheus.log" 2>&1 &
  PPID_=$!
  PIDS+=("$PPID_")
  prom_ready() { kill -0 "$PPID_" || return 0; curl -sf "http://127.0.0.1:$PPORT/-/ready"; }
  wait_until 120 "prometheus /-/ready" prom_ready
  kill -0 "$PPID_" 2>/dev/null || { echo "prometheus exited; log:" >&2; tail -n 30 "$W/prometheus.log" >&2; exit 1; }
}
pcurl() {
  local path=$1
  shift
  curl -sS --max-time 120 "$@" "http://127.0.0.1:$PPORT$path"
}

# The per-system helpers, by name: SYS is berth or prometheus.
api() { if [[ $1 == berth ]]; then bcurl "${@:2}"; else pcurl "${@:2}"; fi; }
pid_of() { if [[ $1 == berth ]]; then echo "$BPID"; else echo "$PPID_"; fi; }
# qv SYS EXPR [TIME]: the value of the first sample of an instant query, or "".
qv() {
  local t=()
  [[ $# -ge 3 ]] && t=(--data-urlencode "time=$3")
  api "$1" /api/v1/query --data-urlencode "query=$2" "${t[@]}" | jq -r '.data.result[0].value[1] // ""'
}
# metric SYS NAME: the sum of a metric's samples (all label sets) on the
# server's own /metrics.
metric() {
  api "$1" /metrics | awk -v n="$2" '{m = $1; sub(/\{.*/, "", m)} m == n {s += $NF; f = 1} END {if (f) printf "%.0f", s}'
}

# block_stats DIR: "blocks bytes chunk_bytes samples" over DIR/*/meta.json
# (Prometheus's and Berth's blocks have the same meta.json stats).
block_stats() {
  local n=0 bytes=0 cbytes=0 samples=0 d m b c
  for d in "$1"/*/; do
    # Complete blocks only: not DIR/<id>.tmp (being written) or .deleted.
    # While the server runs, a block may vanish under us (compacted away).
    [[ $(basename "$d") == *.* ]] && continue
    m=$(jq '.stats.numSamples' "$d/meta.json" 2>/dev/null) || continue
    b=$(du -sb "$d" 2>/dev/null | cut -f1) || continue
    c=$(du -sb "$d/chunks" 2>/dev/null | cut -f1) || c=0
    n=$((n + 1)) bytes=$((bytes + b)) cbytes=$((cbytes + ${c:-0})) samples=$((samples + m))
  done
  echo "$n $bytes $cbytes $samples"
}

declare -A R  # results: R[metric-sys]

# --- 1 and 2: ingest and memory ----------------------------------------------------

echo
echo "== ingest and memory: $INGEST_TARGETS targets x 1000 series every ${SCRAPE_INTERVAL}s"
"$TARGETS_BIN" --targets "$INGEST_TARGETS" --port-file "$W/targets.port" &
GPID=$!
PIDS+=("$GPID")
wait_until 10 "metrics_targets" test -s "$W/targets.port"
TPORT=$(cat "$W/targets.port")
{
  echo "global: {scrape_interval: ${SCRAPE_INTERVAL}s, scrape_timeout: ${SCRAPE_INTERVAL}s}"
  echo "scrape_configs:"
  echo "  - job_name: bench"
  echo "    static_configs:"
  for ((i = 0; i < INGEST_TARGETS; i++)); do
    echo "      - {targets: ['127.0.0.1:$TPORT'], labels: {__metrics_path__: /metrics/$i, instance: target-$i}}"
  done
} >"$W/scrape.yml"

ingest() {  # ingest SYS
  local sys=$1 pid up c0 c1 g0 g1 t0 t1 a0 a1 samples te dir
  if [[ $sys == berth ]]; then
    start_berth "$W/ingest-berth" --monitor-config "$W/scrape.yml"
    dir="$W/ingest-berth/monitor"
  else
    start_prometheus "$W/scrape.yml" "$W/ingest-prom"
    dir="$W/ingest-prom"
  fi
  pid=$(pid_of "$sys")
  all_up() { [[ $(qv "$sys" 'count(up{job="bench"} == 1)') == "$INGEST_TARGETS" ]]; }
  wait_until $((60 + 4 * SCRAPE_INTERVAL)) "$sys: all targets up" all_up
  sleep "$WARMUP"
  [[ $sys == prometheus ]] && a0=$(metric prometheus prometheus_tsdb_head_samples_appended_total)
  c0=$(cpu_s "$pid") g0=$(cpu_s "$GPID") t0=$(now)
  sleep "$WINDOW"
  c1=$(cpu_s "$pid") g1=$(cpu_s "$GPID") t1=$(now)
  R[rss-$sys]=$(status_kb "$pid" VmRSS)
  R[hwm-$sys]=$(status_kb "$pid" VmHWM)
  [[ $sys == prometheus ]] && a1=$(metric prometheus prometheus_tsdb_head_samples_appended_total)
  R[series-$sys]=$(metric "$sys" prometheus_tsdb_head_series)
  # Every scrape that started in the window is stored once each target has
  # a newer one.
  te=${t1%.*}
  scraped_after() { [[ $(qv "$sys" "min(timestamp(up{job=\"bench\"})) > $te") != "" ]]; }
  wait_until $((4 * SCRAPE_INTERVAL + 30)) "$sys: a scrape after the window" scraped_after
  samples=$(qv "$sys" "sum(sum_over_time(scrape_samples_scraped{job=\"bench\"}[${WINDOW}s]))" "$t1")
  R[cpu-$sys]=$(calc %.2f "$c1 - $c0")
  R[samples-$sys]=$samples
  R[cpupm-$sys]=$(calc %.3f "($c1 - $c0) / ($samples / 1e6)")
  R[scrape-$sys]=$(qv "$sys" "avg(avg_over_time(scrape_duration_seconds{job=\"bench\"}[${WINDOW}s]))" "$t1")
  # The WAL so far per sample appended so far (scraped samples plus the five
  # report series per scrape, since the start).
  local all wal
  all=$(qv "$sys" 'sum(sum_over_time(scrape_samples_scraped[1h])) + 5 * sum(count_over_time(up[1h]))')
  wal=$(du -sb "$dir/wal" | cut -f1)
  R[walps-$sys]=$(calc %.2f "$wal / $all")
  echo "$sys: pid $pid, window $(calc %.1f "$t1 - $t0") s, load $(load)"
  echo "  cpu ${R[cpu-$sys]} s for $samples samples = ${R[cpupm-$sys]} cpu-s per million samples" \
    "($(calc %.2f "($c1 - $c0) / ($t1 - $t0)") cores busy; metrics_targets $(calc %.2f "$g1 - $g0") cpu-s)"
  [[ $sys == prometheus ]] && echo "  prometheus_tsdb_head_samples_appended_total rose by $(calc %.0f "$a1 - $a0") (scraped + 5 report series per scrape)"
  echo "  mean scrape duration $(calc %.1f "${R[scrape-$sys]:-0} * 1000") ms"
  echo "  head series ${R[series-$sys]}, VmRSS ${R[rss-$sys]} KiB, VmHWM ${R[hwm-$sys]} KiB" \
    "= $(calc %.0f "${R[rss-$sys]} * 1024 / ${R[series-$sys]}") / $(calc %.0f "${R[hwm-$sys]} * 1024 / ${R[series-$sys]}") bytes per series"
  echo "  WAL $wal bytes for $(calc %.0f "$all") samples appended since the start = ${R[walps-$sys]} bytes per sample"
  stop_pid "$pid"
}
if [[ $FIRST == berth ]]; then order=(berth prometheus); else order=(prometheus berth); fi
for s in "${order[@]}"; do ingest "$s"; done
stop_pid "$GPID"

# --- 3 and 4: disk and query ---------------------------------------------------

echo
echo "== data set: $DATA_TARGETS x 1000 series, ${DATA_HOURS}h at ${DATA_STEP}s"
E=$(($(date +%s) / DATA_STEP * DATA_STEP))
S=$((E - DATA_HOURS * 3600))
t0=$(now)
out=$("$LOAD" openmetrics --targets "$DATA_TARGETS" --start "$S" --end "$E" --step "$DATA_STEP" --out "$W/data.om")
DATA_SAMPLES=$(awk '{print $2}' <<<"$out")
echo "openmetrics file: $DATA_SAMPLES samples, $(du -sh "$W/data.om" | cut -f1), $(calc %.1f "$(now) - $t0") s"
# 18 h blocks, as Prometheus compacts them with its default 15 d retention
# (block ranges 2 h, 6 h, 18 h, up to 10% of the retention).
t0=$(now)
promtool tsdb create-blocks-from openmetrics --max-block-duration=24h "$W/data.om" "$W/data-prom" >"$W/promtool.log" 2>&1 ||
  { cat "$W/promtool.log" >&2; exit 1; }
echo "promtool create-blocks-from openmetrics: $(calc %.1f "$(now) - $t0") s, load $(load)"
rm -f "$W/data.om"
read -r pn pbytes pcbytes psamples <<<"$(block_stats "$W/data-prom")"
echo "prometheus: $pn blocks, $pbytes bytes ($pcbytes in chunks/) for $psamples samples"

echo "global: {scrape_interval: 1m}" >"$W/empty.yml"
start_prometheus "$W/empty.yml" "$W/data-prom"
start_berth "$W/data-berth"
# What each costs doing nothing (Berth: its Kubernetes API and controllers
# too; both: no scraping but Berth's own metrics every 15 s). Part of the
# ingest window's CPU above.
c0=$(cpu_s "$PPID_") c1=$(cpu_s "$BPID") t0=$(now)
sleep "$IDLE"
c0=$(calc %.3f "($(cpu_s "$PPID_") - $c0) / ($(now) - $t0)") c1=$(calc %.3f "($(cpu_s "$BPID") - $c1) / ($(now) - $t0)")
echo "idle over ${IDLE}s: prometheus $c0 cores, berth $c1 cores"
out=$("$LOAD" remote-write --targets "$DATA_TARGETS" --start "$S" --end "$E" --step "$DATA_STEP" \
  --port "$BPORT" --data-dir "$BDATA")
echo "berth remote write: $out"
bdir="$W/data-berth/monitor"
if [[ -n $(metric berth prometheus_tsdb_blocks_loaded) ]]; then
  # Housekeeping (once a minute) cuts and compacts blocks in the
  # background: wait until blocks appear and then stay unchanged for
  # BLOCK_SETTLE seconds.
  sig="" since=$(date +%s) deadline=$(($(date +%s) + BLOCK_WAIT))
  while (($(date +%s) < deadline)); do
    cur=$(block_stats "$bdir")
    [[ $cur != "$sig" ]] && sig=$cur since=$(date +%s)
    [[ ${cur%% *} != 0 ]] && (($(date +%s) - since >= BLOCK_SETTLE)) && break
    sleep 2
  done
  echo "berth blocks after the load: $(block_stats "$bdir" | awk '{print $1}') (waited up to ${BLOCK_WAIT}s, settled for ${BLOCK_SETTLE}s)"
else
  echo "berth: no persisted blocks in this build (no prometheus_tsdb_blocks_loaded on its /metrics): not waiting for blocks"
fi
R[headchunks-berth]=$(metric berth prometheus_tsdb_head_chunks_bytes)
echo "after loading: prometheus VmRSS $(status_kb "$PPID_" VmRSS) KiB VmHWM $(status_kb "$PPID_" VmHWM) KiB;" \
  "berth VmRSS $(status_kb "$BPID" VmRSS) KiB VmHWM $(status_kb "$BPID" VmHWM) KiB"

echo
echo "== query: median of $QUERY_RUNS runs (ms), end $((E - 17)); Berth over HTTPS (TLS), Prometheus over plain HTTP"
# Ranges 1 h to 24 h, steps a dashboard would pick (about 250 to 1,000
# points). The evaluation times are offset from the data's 60 s grid, so no
# sample sits on a range's boundary (Prometheus 2 includes the left one,
# Prometheus 3 does not).
cat >"$W/queries.txt" <<'EOF'
rate_1h|3600|15|sum(rate(bench_requests_total[5m]))
sum_by_code_6h|21600|30|sum by (code) (rate(bench_requests_total{method="GET"}[5m]))
sum_by_instance_6h|21600|60|sum by (instance) (rate(bench_bytes_total{direction="out"}[5m]))
p99_24h|86400|120|histogram_quantile(0.99, sum by (le) (rate(bench_request_duration_seconds_bucket[5m])))
p90_by_handler_12h|43200|120|histogram_quantile(0.9, sum by (handler, le) (rate(bench_request_duration_seconds_bucket{handler=~"h1.*"}[10m])))
mean_latency_24h|86400|300|sum(rate(bench_request_duration_seconds_sum[5m])) / sum(rate(bench_request_duration_seconds_count[5m]))
topk_errors_24h|86400|600|topk(5, sum by (handler) (increase(bench_errors_total[1h])))
avg_gauge_24h|86400|300|avg by (instance) (bench_temperature_celsius)
max_over_time_24h|86400|3600|max(max_over_time(bench_queue_length[1h]))
instant_sum_by|0|0|sum by (handler) (rate(bench_requests_total[5m]))
EOF
echo "load before: $(load)"
printf '%-20s %10s %10s %7s %8s %8s  %s\n' query prometheus berth ratio series points answers
"$LOAD" query --prom-port "$PPORT" --port "$BPORT" --data-dir "$BDATA" --queries "$W/queries.txt" \
  --end $((E - 17)) --runs "$QUERY_RUNS" >"$W/query.out" || echo "(some queries failed; see above)"
while read -r _ label pm bm r series points agree; do
  printf '%-20s %10s %10s %7s %8s %8s  %s\n' "$label" "$pm" "$bm" "$r" "$series" "$points" "$agree"
done <"$W/query.out"
echo "load after:  $(load)"
# One dashboard refresh: every query once.
R[query-prometheus]=$(awk '{s += $3} END {printf "%.1f", s}' "$W/query.out")
R[query-berth]=$(awk '{s += $4} END {printf "%.1f", s}' "$W/query.out")
# The geometric mean of the per-query ratios: each query counts the same.
R[query-geo]=$(awk '$5 > 0 {s += log($5); n++} END {if (n) printf "%.2f", exp(s / n); else print "n/a"}' "$W/query.out")

stop_pid "$BPID"
stop_pid "$PPID_"
echo
echo "== disk (berth stopped)"
read -r bn bbytes bcbytes bsamples <<<"$(block_stats "$bdir")"
bwal=$(du -sb "$bdir/wal" 2>/dev/null | cut -f1)
ball=$(du -sb "$bdir" | cut -f1)
hsamples=$((DATA_SAMPLES - bsamples))
echo "prometheus blocks: $(calc %.3f "$pbytes / $psamples") bytes per sample ($pn blocks; $(calc %.3f "$pcbytes / $psamples") in chunks/, the rest index and meta)"
if ((bn > 0)); then
  echo "berth blocks:      $(calc %.3f "$bbytes / $bsamples") bytes per sample ($bn blocks holding $bsamples of the $DATA_SAMPLES samples; $(calc %.3f "$bcbytes / $bsamples") in chunks/)"
  R[disk-berth]=$(calc %.3f "$bbytes / $bsamples")
else
  echo "berth blocks:      not available (no block under DATA/monitor: this build keeps every sample in the head and its WAL)"
fi
if ((hsamples > 0)); then
  R[headps-berth]=$(calc %.3f "${R[headchunks-berth]} / $hsamples")
  echo "berth head chunks: ${R[headps-berth]} bytes per sample (${R[headchunks-berth]} bytes in memory for the $hsamples samples not in blocks, before the stop)"
fi
echo "berth WAL:         $bwal bytes after the stop = $(calc %.3f "$bwal / $DATA_SAMPLES") per sample of the data set"
echo "berth DATA/monitor: $ball bytes = $(calc %.3f "$ball / $DATA_SAMPLES") per sample of the data set (blocks + WAL + the rest)"
R[disk-prometheus]=$(calc %.3f "$pbytes / $psamples")

echo
echo "== summary: Berth / Prometheus (goal)"
fmt='%-44s %12s %12s %7s  %s\n'
printf "$fmt" metric prometheus berth ratio goal
printf "$fmt" "ingest: cpu-s per million samples" "${R[cpupm-prometheus]}" "${R[cpupm-berth]}" \
  "$(ratio "${R[cpupm-berth]}" "${R[cpupm-prometheus]}")" "<= 0.5"
for m in rss hwm; do
  p=$(calc %.0f "${R[$m-prometheus]} * 1024 / ${R[series-prometheus]}")
  b=$(calc %.0f "${R[$m-berth]} * 1024 / ${R[series-berth]}")
  printf "$fmt" "memory: $([[ $m == rss ]] && echo VmRSS || echo VmHWM) bytes per head series" "$p" "$b" "$(ratio "$b" "$p")" "<= 0.5"
done
if [[ -n ${R[disk-berth]:-} ]]; then
  printf "$fmt" "disk: block bytes per sample" "${R[disk-prometheus]}" "${R[disk-berth]}" \
    "$(ratio "${R[disk-berth]}" "${R[disk-prometheus]}")" "<= 0.6"
else
  printf "$fmt" "disk: block bytes per sample" "${R[disk-prometheus]}" "n/a" "n/a" "<= 0.6 (berth has no blocks yet)"
  pc=$(calc %.3f "$pcbytes / $psamples")
  printf "$fmt" "  stand-in: chunk bytes per sample (head)" "$pc" "${R[headps-berth]}" \
    "$(ratio "${R[headps-berth]}" "$pc")" "(prometheus: block chunks/)"
fi
printf "$fmt" "  everything on disk per sample (data set)" "${R[disk-prometheus]}" "$(calc %.3f "$ball / $DATA_SAMPLES")" \
  "$(ratio "$(calc %.3f "$ball / $DATA_SAMPLES")" "${R[disk-prometheus]}")" "-"
printf "$fmt" "  WAL bytes per sample (ingest phase)" "${R[walps-prometheus]}" "${R[walps-berth]}" \
  "$(ratio "${R[walps-berth]}" "${R[walps-prometheus]}")" "-"
printf "$fmt" "query: sum of the per-query medians (ms)" "${R[query-prometheus]}" "${R[query-berth]}" \
  "$(ratio "${R[query-berth]}" "${R[query-prometheus]}")" "<= 0.7"
printf "$fmt" "query: geometric mean of per-query ratios" "" "" "${R[query-geo]}" "<= 0.7"
echo "load at the end: $(load)"
