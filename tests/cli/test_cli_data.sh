#!/usr/bin/env bash
# neurodyn data check: loads every split and prints its size; a malformed or
# missing file exits 2 with one line naming it; --data DIR, $ND_DATA_DIR and
# ./data in that order, with no fall-back.  (data fetch needs the network and
# is not run here; the real data sets: test_cli_data_real.sh.)
source "$(dirname "$0")/common.bash"

expect_error 2 "neurodyn data:" "fetch or check" "$ND" data
expect_ok "$ND" data fetch --help
case "$out" in *get-data.sh*) ;; *) fail "data fetch --help does not mention get-data.sh" ;; esac

# A data directory with a truncated training image file ($ND_DATA_DIR wins
# over ./data and the source tree's data/).
mkdir -p "$TMP/data/mnist"
"$PY" - "$TMP/data/mnist" <<'PY'
import struct, sys
d = sys.argv[1]
def idx(name, dims, payload):
    open(f"{d}/{name}", "wb").write(bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims) + payload)
idx("train-images-idx3-ubyte", (5, 28, 28), bytes(100))       # truncated
idx("train-labels-idx1-ubyte", (5,), bytes([1, 2, 3, 4, 5]))
idx("t10k-images-idx3-ubyte", (2, 28, 28), bytes(2 * 784))
idx("t10k-labels-idx1-ubyte", (2,), bytes([0, 9]))
PY
expect_error 2 "neurodyn data check:" "train-images-idx3-ubyte" env ND_DATA_DIR="$TMP/data" "$ND" data check --dataset mnist
case "$err" in *truncated*) ;; *) fail "truncated file: message does not say truncated" ;; esac
# Fix it: 5 training and 2 test images.
"$PY" -c "
import struct, sys
open(sys.argv[1], 'wb').write(bytes([0, 0, 8, 3]) + struct.pack('>III', 5, 28, 28) + bytes(5 * 784))
" "$TMP/data/mnist/train-images-idx3-ubyte"
expect_ok env ND_DATA_DIR="$TMP/data" "$ND" data check --dataset mnist
case "$out" in "mnist: train 5, test 2 images of 28x28, 10 classes"*) ;; *) fail "data check output: $out" ;; esac
rm "$TMP/data/mnist/t10k-labels-idx1-ubyte"
expect_error 2 "neurodyn data check:" "t10k-labels-idx1-ubyte" env ND_DATA_DIR="$TMP/data" "$ND" data check --dataset mnist

"$PY" -c "
import struct, sys
open(sys.argv[1], 'wb').write(bytes([0, 0, 8, 1]) + struct.pack('>I', 2) + bytes([0, 9]))
" "$TMP/data/mnist/t10k-labels-idx1-ubyte"
# --data DIR wins over $ND_DATA_DIR; a data directory that does not exist is
# an error naming it, never a fall-back to ./data.
expect_ok env ND_DATA_DIR="$TMP/nowhere" "$ND" data check --dataset mnist --data "$TMP/data"
case "$out" in "mnist: train 5, test 2 images of 28x28, 10 classes ($TMP/data/mnist)"*) ;; *) fail "--data: $out" ;; esac
expect_ok "$ND" data check --dataset mnist --data "$TMP/data/mnist" # the set's own directory
expect_error 2 "neurodyn data check:" "ND_DATA_DIR=$TMP/nowhere does not exist" \
  env ND_DATA_DIR="$TMP/nowhere" "$ND" data check --dataset mnist
mkdir -p "$TMP/cwd/data/mnist" && cp "$TMP/data/mnist/"* "$TMP/cwd/data/mnist/"
(cd "$TMP/cwd" && env ND_DATA_DIR="$TMP/nowhere" "$ND" data check --dataset mnist) >/dev/null 2>&1 &&
  fail "a missing ND_DATA_DIR fell back to ./data"
(cd "$TMP/cwd" && env -u ND_DATA_DIR "$ND" data check --dataset mnist) >"$TMP/cwd.out" 2>&1 ||
  fail "./data not used without ND_DATA_DIR: $(cat "$TMP/cwd.out")"
expect_error 2 "neurodyn data check:" "data directory $TMP/none does not exist" \
  "$ND" data check --dataset mnist --data "$TMP/none"
expect_error 2 "neurodyn data check:" "$TMP/data/fashion-mnist does not exist" \
  "$ND" data check --dataset fashion-mnist --data "$TMP/data"
expect_error 2 "neurodyn data check:" "--data" "$ND" data check --data=
expect_ok "$ND" data fetch --help
case "$out" in *--data*) ;; *) fail "data fetch --help does not mention --data" ;; esac
echo "ok"
