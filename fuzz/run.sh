#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, with a corpus
# directory per target under fuzz/corpus/ (created; not committed).
set -euo pipefail
build=${1:-build-fuzz}
secs=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus="$root/fuzz/corpus/$name"
  mkdir -p "$corpus"
  echo "== $name (${secs}s)"
  if ! "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 "$corpus" 2>"$build/$name.log"; then
    echo "FAILED: $name (see $build/$name.log)"
    tail -30 "$build/$name.log"
    status=1
  else
    grep -E '^#[0-9]+.*DONE' "$build/$name.log" | tail -1 || true
  fi
done
exit $status
