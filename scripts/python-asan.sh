#!/usr/bin/env bash
# The Python package's tests with the extension and libneurodyn built with
# AddressSanitizer + UBSan (Debian's python3 itself is not instrumented, so
# the sanitizer runtimes are preloaded; leak checking is off because the
# interpreter keeps memory until exit).  Needs the ASan build: `make asan`.
#   scripts/python-asan.sh [build/asan] [build/release]
set -euo pipefail
ASAN_BUILD=$(realpath "${1:-build/asan}")
RELEASE=$(realpath "${2:-build/release}")
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
cmake --build "$ASAN_BUILD" --target neurodyn_static >/dev/null
(cd python && NEURODYN_BUILD_DIR="$ASAN_BUILD" CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" \
  LDFLAGS="-fsanitize=address,undefined" /usr/bin/python3 setup.py -q build_ext --build-lib "$OUT/lib" \
  --build-temp "$OUT/tmp" >/dev/null 2>&1)
cp python/neurodyn/*.py "$OUT/lib/neurodyn/"
cd python/tests
ND_CLI="$RELEASE/neurodyn" ND_NUM_THREADS=2 PYTHONPATH="$OUT/lib" \
  LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
  ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 /usr/bin/python3 -m pytest -q -p no:cacheprovider .
