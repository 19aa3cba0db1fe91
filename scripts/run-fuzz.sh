#!/usr/bin/env bash
# Runs every libFuzzer target fuzz_* built in BUILD_DIR for SECONDS each.
#   scripts/run-fuzz.sh BUILD_DIR SECONDS      (what `make fuzz` calls)
# Each target starts from a copy of its seed corpus fuzz/corpus/<target>/ in a
# temporary directory (the committed corpus never grows) and uses
# fuzz/<target>.dict when there is one.
#
# Inputs may be up to FUZZ_MAX_LEN bytes (default 2 MiB) and each one must
# finish within FUZZ_TIMEOUT seconds (default 2): together with large seeds
# generated here (a safetensors header of 25,000 zero-size tensors, a
# --config file of 20,000 keys, a checkpoint with 20,000 metadata entries, a
# record index of 1,024 streams and 100,000 chunks),
# a parser that is quadratic in the number of entries is reported as a
# timeout on its first run (the safetensors header took 66 s for 100,000
# entries before it sorted its names).  Crash, leak, timeout and OOM inputs
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
MAX_LEN=${FUZZ_MAX_LEN:-2097152}
TIMEOUT=${FUZZ_TIMEOUT:-2}

# large_seeds TARGET DIR: writes the many-entry seeds for TARGET into DIR.
large_seeds() {
  local py=/usr/bin/python3
  [ -x "$py" ] || py=$(command -v python3 || true)
  if [ -z "$py" ]; then
    echo "run-fuzz.sh: warning: no python3, large seeds for $1 skipped" >&2
    return 0
  fi
  "$py" - "$1" "$2" <<'PY'
import json, struct, sys
target, d = sys.argv[1], sys.argv[2]
def st(entries, meta):
    h = {f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(entries)}
    if meta:
        h["__metadata__"] = meta
    b = json.dumps(h, separators=(",", ":")).encode()
    return struct.pack("<Q", len(b)) + b
if target == "fuzz_safetensors":
    open(f"{d}/large-25000-tensors.safetensors", "wb").write(st(25000, None))
elif target == "fuzz_checkpoint":
    open(f"{d}/large-20000-meta.safetensors", "wb").write(st(10, {f"k{i}": "1" for i in range(20000)}))
elif target == "fuzz_record_index":
    ch = [{"file": f"c_{i}.npy", "t0": i, "frames": 1} for i in range(100000)]
    st = [{"name": f"s{i}", "kind": "vector", "frame_shape": [1], "dtype": "float32", "time_unit": "step",
           "dt": 1, "chunks": ch[:1] if i else ch} for i in range(1024)]
    open(f"{d}/large-1024-streams.json", "w").write(json.dumps({"format": "neurodyn-record", "version": 1,
                                                               "streams": st}))
elif target == "fuzz_config":
    open(f"{d}/large-20000-keys.json", "w").write(json.dumps({f"_k{i}": i for i in range(20000)}))
PY
}

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
  large_seeds "$name" "$corpus"
  art="$BUILD/fuzz-artifacts/$name"
  rm -rf "$art"
  mkdir -p "$art"
  args=(-max_total_time="$SECONDS_EACH" -max_len="$MAX_LEN" -timeout="$TIMEOUT" -rss_limit_mb=2048
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
