# Sourced by tests/cli/test_*.sh (run as `bash test_x.sh path/to/neurodyn`).
# Provides $ND (the program), $TMP (removed at exit), run, fail, and checks
# for the CLI contract's error format.
set -eu  # no pipefail: `printf ... | grep -q` may end the writer early
ND="${1:?usage: bash $0 path/to/neurodyn}"
[ -x "$ND" ] || { echo "FAIL: no program $ND" >&2; exit 1; }
PY=/usr/bin/python3
SRC="${ND_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/neurodyn-cli-test.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

fail() {
  echo "FAIL: $*" >&2
  if [ -n "${err:-}" ]; then printf 'stderr was:\n%s\n' "$err" >&2; fi
  exit 1
}

# run CMD...: runs CMD, sets $rc, $out (stdout) and $err (stderr).
run() {
  set +e
  "$@" >"$TMP/.stdout" 2>"$TMP/.stderr"
  rc=$?
  set -e
  out="$(cat "$TMP/.stdout")"
  err="$(cat "$TMP/.stderr")"
}

# no_sanitizer_report: fails if ASan/UBSan/LSan printed anything.
no_sanitizer_report() {
  case "$err" in
    *AddressSanitizer* | *LeakSanitizer* | *"runtime error:"* | *UndefinedBehaviorSanitizer*)
      fail "sanitizer report" ;;
  esac
}

# expect_ok CMD...: exit 0 and no sanitizer output.
expect_ok() {
  run "$@"
  no_sanitizer_report
  [ "$rc" -eq 0 ] || fail "'$*' exited $rc, expected 0"
}

# expect_error CODE PREFIX NEEDLE CMD...: exit CODE, stderr exactly one line
# that starts with PREFIX and contains NEEDLE (e.g. the file's name).
expect_error() {
  local code=$1 prefix=$2 needle=$3
  shift 3
  run "$@"
  no_sanitizer_report
  [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "'$*': expected one line on stderr"
  [ -n "$err" ] || fail "'$*': nothing on stderr"
  case "$err" in
    "$prefix"*) ;;
    *) fail "'$*': stderr does not start with '$prefix'" ;;
  esac
  case "$err" in
    *"$needle"*) ;;
    *) fail "'$*': stderr does not mention '$needle'" ;;
  esac
}

have_numpy() { "$PY" -c 'import numpy' >/dev/null 2>&1; }

mnist_dir() { # prints the MNIST directory the library would use, if any
  local d
  for d in "${ND_DATA_DIR:+$ND_DATA_DIR/mnist}" "$PWD/data/mnist" "$SRC/data/mnist"; do
    if [ -n "$d" ] && [ -f "$d/t10k-labels-idx1-ubyte" ] || [ -f "$d/t10k-labels-idx1-ubyte.gz" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}
