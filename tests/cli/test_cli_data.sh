#!/usr/bin/env bash
# neurodyn data check: loads every split and prints its size; a malformed or
# missing file exits 2 with one line naming it.  (data fetch needs the network
# and is not run here.)
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

# The real data sets, when fetched.
if d="$(mnist_dir)"; then
  (cd "$(dirname "$(dirname "$d")")" && "$ND" data check --dataset mnist) >"$TMP/real.out" 2>&1 || fail "data check on $d: $(cat "$TMP/real.out")"
  grep -q "^mnist: train 60000, test 10000 images of 28x28, 10 classes" "$TMP/real.out" || fail "real MNIST: $(cat "$TMP/real.out")"
fi
echo "ok"
