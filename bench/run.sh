#!/usr/bin/env bash
# Builds (if needed) and runs the benchmarks, with the machine they ran on.
#
#   bench/run.sh [build-dir] [-- bench_api flags...]
#
# Environment: BENCH_JOBS (ninja -j, default 1), BENCH_STORE_SECONDS (default 3),
# SKIP_STORE=1 to skip bench_store, SKIP_PODS=1 to skip bench_pods (which
# needs root: it runs real containers), BENCH_PODS (default 30), SKIP_REGISTRY=1
# to skip bench_registry.sh (Berth's registry against docker-registry),
# SKIP_MONITOR=1 to skip bench_monitor.sh (the monitoring module against
# Prometheus; its sizes come from its own environment variables, QUICK=1 too).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build-bench}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift
jobs="${BENCH_JOBS:-1}"

echo "== machine"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "host:    $(uname -srm)"
echo "nproc:   $(nproc)"
echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "disk:    $(df -h "${TMPDIR:-/tmp}" | awk 'NR==2 {print $1 " (" $2 ") at " $6}')"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit:  $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$here" diff --quiet 2>/dev/null || echo ' (+local changes)')"

echo "== build ($build, -j$jobs)"
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
targets=(berth berth-shim bench_api)
[[ "${SKIP_PODS:-0}" != 1 ]] && targets+=(bench_pods)
[[ -f "$here/bench/bench_store.cpp" && "${SKIP_STORE:-0}" != 1 ]] && targets+=(bench_store)
[[ "${SKIP_MONITOR:-0}" != 1 ]] && targets+=(metrics_targets monitor_load)
ninja -C "$build" -j"$jobs" "${targets[@]}" | tail -n 1

if [[ " ${targets[*]} " == *" bench_store "* ]]; then
  echo "== bench_store"
  "$build/bench_store" "${BENCH_STORE_SECONDS:-3}"
fi

echo "== bench_api"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench_api" --berth "$build/berth" "$@"
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ "${SKIP_REGISTRY:-0}" != 1 ]]; then
  echo "== bench_registry"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  bash "$here/bench/bench_registry.sh" "$build/berth"
  echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
fi

if [[ "${SKIP_MONITOR:-0}" != 1 ]]; then
  echo "== bench_monitor"
  bash "$here/bench/bench_monitor.sh" "$build"
fi

if [[ " ${targets[*]} " == *" bench_pods "* ]]; then
  echo "== bench_pods"
  rootfs=$(mktemp -d)
  bash "$here/tests/images/build-busybox-rootfs.sh" "$rootfs/rootfs" >/dev/null
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$build/bench_pods" --berth "$build/berth" --rootfs "$rootfs/rootfs" --pods "${BENCH_PODS:-30}"
  echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
  rm -rf "$rootfs"
fi
