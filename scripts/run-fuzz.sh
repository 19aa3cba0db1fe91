#!/usr/bin/env bash
# Runs every libFuzzer target fuzz_* built in BUILD_DIR for SECONDS each.
#   scripts/run-fuzz.sh BUILD_DIR SECONDS      (what `make fuzz` calls)
# Each target starts from a copy of its seed corpus fuzz/corpus/<target>/ in a
# temporary directory (the committed corpus never grows) and uses
# fuzz/<target>.dict when there is one.  Crash, leak, timeout and OOM inputs
# are kept in BUILD_DIR/fuzz-artifacts/<target>/.  Exits 1 if any target
# failed, after running all of them; prints one summary line per target.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
BUILD=$1
SECONDS_EACH=$2
case "$SECONDS_EACH" in
  '' | *[!0-9]*) echo "run-fuzz.sh: SECONDS must be a positive integer, got '$SECONDS_EACH'" >&2; exit 2 ;;
esac
SRC="$(cd "$(dirname "$0")/.." && pwd)"
MAX_LEN=${FUZZ_MAX_LEN:-4096}

shopt -s nullglob
targets=()
for bin in "$BUILD"/fuzz_*; do
  [ -f "$bin" ] && [ -x "$bin" ] && targets+=("$bin")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "run-fuzz.sh: no fuzz_* programs in $BUILD (configure with -DND_FUZZ=ON and build first)" >&2
  exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nd-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failed=()
summary=()
for bin in "${targets[@]}"; do
  name=$(basename "$bin")
  corpus="$WORK/$name"
  mkdir -p "$corpus"
  if [ -d "$SRC/fuzz/corpus/$name" ]; then
    cp "$SRC/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true
  else
    echo "run-fuzz.sh: warning: no seed corpus fuzz/corpus/$name" >&2
  fi
  art="$BUILD/fuzz-artifacts/$name"
  rm -rf "$art"
  mkdir -p "$art"
  args=(-max_total_time="$SECONDS_EACH" -max_len="$MAX_LEN" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$art/")
  [ -f "$SRC/fuzz/$name.dict" ] && args+=(-dict="$SRC/fuzz/$name.dict")
  echo "run-fuzz.sh: $name for ${SECONDS_EACH}s (seeds: $(ls "$corpus" | wc -l))" >&2
  log="$WORK/$name.log"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n1)
  if [ $rc -ne 0 ] || ls "$art" | grep -q .; then
    failed+=("$name")
    echo "---- $name failed (exit $rc); last lines of its log:" >&2
    tail -n 60 "$log" >&2
    summary+=("$name: FAILED (exit $rc, ${execs:-?} executions); inputs kept in $art")
  else
    rmdir "$art" 2>/dev/null || true
    summary+=("$name: ok, ${execs:-?} executions in ${SECONDS_EACH}s, ${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l) files")
  fi
done
printf 'run-fuzz.sh: %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "run-fuzz.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
