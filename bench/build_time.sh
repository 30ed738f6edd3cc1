#!/usr/bin/env bash
# Clean build time of the whole project (every target: server, tests, benches),
# in a fresh temp build dir, ccache disabled.
#
#   bench/build_time.sh [jobs=$(nproc)] [build-type=RelWithDebInfo]
#
# Run it on a quiet machine: other builds share the cores and inflate it.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
jobs="${1:-$(nproc)}"
type="${2:-RelWithDebInfo}"
build="$(mktemp -d "${TMPDIR:-/tmp}/berth-build-time-XXXXXX")"
trap 'rm -rf "$build"' EXIT
export CCACHE_DISABLE=1

echo "date:   $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "nproc:  $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg) (before)"
echo "build:  $build, -j$jobs, $type, CCACHE_DISABLE=1"

t0=$(date +%s.%N)
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="$type" >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
t1=$(date +%s.%N)
ninja -C "$build" -j"$jobs" >"$build.ninja.log" 2>&1 || { tail -n 50 "$build.ninja.log"; exit 1; }
t2=$(date +%s.%N)
steps=$(grep -c '^\[' "$build.ninja.log" || true)
rm -f "$build.configure.log" "$build.ninja.log"

awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$steps" -v j="$jobs" 'BEGIN {
  printf "configure: %6.1f s\n", b - a
  printf "build:     %6.1f s  (%d steps, -j%d)\n", c - b, n, j
  printf "total:     %6.1f s  (goal <= 600 s on 2 cores)\n", c - a
}'
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg) (after)"
