#!/usr/bin/env bash
# neurodyn inspect: prints names, dtypes and shapes of IDX, NPY and
# safetensors files (written here by NumPy and by hand, independently of the
# library); every missing or corrupt file exits 2 with one line on stderr
# that names the file.
source "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: /usr/bin/python3 has no numpy"; exit 77; }

"$PY" - "$TMP" <<'PY'
import json, struct, sys
import numpy as np
T = sys.argv[1]
# IDX: magic 00 00 <type> <ndim>, big-endian sizes, big-endian data.
hdr = bytes([0, 0, 0x08, 3]) + struct.pack(">III", 3, 4, 5)
open(T + "/ok.idx", "wb").write(hdr + bytes(range(60)))
open(T + "/f32-idx1-ubyte", "wb").write(bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 3) + np.array([1.5, -2, 4], ">f4").tobytes())
open(T + "/truncated-idx3-ubyte", "wb").write(hdr + bytes(range(30)))
open(T + "/short-header.idx", "wb").write(bytes([0, 0, 0x08, 3]) + struct.pack(">I", 3))
open(T + "/bad-magic.idx", "wb").write(bytes([0x12, 0x34, 0x08, 3]) + struct.pack(">III", 3, 4, 5) + bytes(60))
# NPY written by NumPy.
np.save(T + "/ok.npy", np.arange(6, dtype=np.float64).reshape(2, 3))
b = open(T + "/ok.npy", "rb").read()
open(T + "/truncated.npy", "wb").write(b[:-5])
# safetensors by hand: 8-byte LE header length, JSON header, data buffer.
def st(path, header, data):
    h = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)
st(T + "/ok.safetensors", {"__metadata__": {"step": "7"},
    "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
    "b": {"dtype": "I64", "shape": [3], "data_offsets": [16, 40]}},
   np.array([1, 2, 3, 4], "<f4").tobytes() + np.array([5, 6, 7], "<i8").tobytes())
st(T + "/offsets-past-end.safetensors", {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, bytes(8))
st(T + "/offsets-too-big.safetensors", {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 1600]}}, bytes(16))
open(T + "/header-too-long.safetensors", "wb").write(struct.pack("<Q", 1 << 40) + b"{}")
st(T + "/bad-json.safetensors", {}, b"")
b = open(T + "/bad-json.safetensors", "rb").read()
open(T + "/bad-json.safetensors", "wb").write(struct.pack("<Q", 5) + b"{\"a\":")
open(T + "/junk.bin", "wb").write(b"hello, world")
# Files of other kinds: a real PNG (zlib + CRCs by hand), JSON Lines, JSON, text.
import zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(b"\0\x10\x20\0\x30\x40")) + chunk(b"IEND", b""))
open(T + "/fields.png", "wb").write(png)
open(T + "/W.safetensors", "wb").write(png)  # named as a tensor file, but a PNG
open(T + "/metrics.jsonl", "w").write('{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "loss": 0.25}\n')
open(T + "/config.json", "w").write('{"hidden": 100, "p": 3}\n')
open(T + "/empty.npy", "wb").write(b"")
PY

# Valid files: format, names, dtypes and shapes.
expect_ok "$ND" inspect "$TMP/ok.idx"
printf '%s\n' "$out" | grep -q "ok.idx: IDX, 1 tensor" || fail "IDX header line: $out"
printf '%s\n' "$out" | grep -Eq "^  data +u8 +3x4x5 .*min 0 max 59 mean 29.5" || fail "IDX tensor line: $out"
expect_ok "$ND" inspect "$TMP/f32-idx1-ubyte"
printf '%s\n' "$out" | grep -Eq "^  data +f32 +3 .*min -2 max 4 mean 1.16667" || fail "f32 IDX: $out"
expect_ok "$ND" inspect "$TMP/ok.npy"
printf '%s\n' "$out" | grep -Eq "^  ok +f64 +2x3 .*min 0 max 5 mean 2.5" || fail "NPY tensor line: $out"
expect_ok "$ND" inspect --no-stats "$TMP/ok.safetensors" "$TMP/ok.npy"
printf '%s\n' "$out" | grep -q "ok.safetensors: safetensors, 2 tensors" || fail "safetensors header line: $out"
printf '%s\n' "$out" | grep -Eq "^  a +f32 +2x2 +4 elements, 16 bytes$" || fail "safetensors tensor a: $out"
printf '%s\n' "$out" | grep -Eq "^  b +i64 +3 +3 elements, 24 bytes$" || fail "safetensors tensor b: $out"
printf '%s\n' "$out" | grep -q "metadata step = 7" || fail "safetensors metadata: $out"
printf '%s\n' "$out" | grep -q "ok.npy: NPY" || fail "second file not inspected: $out"

# Corrupt and missing files: exit 2, one line naming the file and the problem.
expect_error 2 "neurodyn inspect:" "$TMP/truncated-idx3-ubyte" "$ND" inspect "$TMP/truncated-idx3-ubyte"
case "$err" in *truncated*) ;; *) fail "truncated IDX: message does not say truncated" ;; esac
expect_error 2 "neurodyn inspect:" "$TMP/short-header.idx" "$ND" inspect "$TMP/short-header.idx"
expect_error 2 "neurodyn inspect:" "$TMP/bad-magic.idx" "$ND" inspect "$TMP/bad-magic.idx"
case "$err" in *magic*) ;; *) fail "bad magic: message does not say magic" ;; esac
expect_error 2 "neurodyn inspect:" "$TMP/truncated.npy" "$ND" inspect "$TMP/truncated.npy"
expect_error 2 "neurodyn inspect:" "$TMP/empty.npy" "$ND" inspect "$TMP/empty.npy"
for f in offsets-past-end offsets-too-big header-too-long bad-json; do
  expect_error 2 "neurodyn inspect:" "$TMP/$f.safetensors" "$ND" inspect "$TMP/$f.safetensors"
done
case "$err" in *JSON* | *json*) ;; *) fail "bad JSON header: message does not say JSON" ;; esac
expect_error 2 "neurodyn inspect:" "$TMP/junk.bin" "$ND" inspect "$TMP/junk.bin"
expect_error 2 "neurodyn inspect:" "$TMP/missing.npy" "$ND" inspect "$TMP/missing.npy"
# Files of another kind say what they are and what was expected.
for f in fields.png:"a PNG image" W.safetensors:"a PNG image" metrics.jsonl:"JSON Lines text" \
         config.json:"JSON text" junk.bin:"a text file"; do
  file=${f%%:*} kind=${f#*:}
  expect_error 2 "neurodyn inspect:" "$TMP/$file: is $kind, expected an IDX, NPY or safetensors file" \
    "$ND" inspect "$TMP/$file"
done
expect_error 2 "neurodyn inspect:" "$TMP/empty.npy: is an empty file" "$ND" inspect "$TMP/empty.npy"
mkdir "$TMP/dir.npy"
expect_error 2 "neurodyn inspect:" "$TMP/dir.npy: is a directory, expected" "$ND" inspect "$TMP/dir.npy"

# --dataset NAME [--data DIR]: the four files of a data set, found by the
# library's rule (--data, else $ND_DATA_DIR, else ./data; no fall-back).
mkdir -p "$TMP/data/mnist"
cp "$TMP/ok.idx" "$TMP/data/mnist/train-images-idx3-ubyte"
cp "$TMP/ok.idx" "$TMP/data/mnist/t10k-images-idx3-ubyte"
"$PY" -c "
import struct, sys
for n in ('train', 't10k'):
    open(sys.argv[1] + '/' + n + '-labels-idx1-ubyte', 'wb').write(bytes([0, 0, 8, 1]) + struct.pack('>I', 3) + bytes([1, 2, 3]))
" "$TMP/data/mnist"
expect_ok env ND_DATA_DIR="$TMP/nowhere" "$ND" inspect --no-stats --dataset mnist --data "$TMP/data"
[ "$(printf '%s\n' "$out" | grep -c ': IDX, 1 tensor')" -eq 4 ] || fail "--dataset: $out"
printf '%s\n' "$out" | grep -q "^$TMP/data/mnist/t10k-labels-idx1-ubyte: IDX" || fail "--dataset test labels: $out"
expect_ok env ND_DATA_DIR="$TMP/data" "$ND" inspect --dataset mnist
expect_error 2 "neurodyn inspect:" "ND_DATA_DIR=$TMP/nowhere does not exist" \
  env ND_DATA_DIR="$TMP/nowhere" "$ND" inspect --dataset mnist
expect_error 2 "neurodyn inspect:" "data directory $TMP/nowhere does not exist" \
  "$ND" inspect --dataset mnist --data "$TMP/nowhere"
expect_error 2 "neurodyn inspect:" "fashion-mnist" "$ND" inspect --dataset fashion-mnist --data "$TMP/data"
expect_error 2 "neurodyn inspect:" "nothing to inspect" "$ND" inspect
expect_error 2 "neurodyn inspect:" "--data" "$ND" inspect --data "$TMP/data" "$TMP/ok.npy"

# A bad file among good ones: the good ones are still shown, exit 2.
run "$ND" inspect "$TMP/ok.idx" "$TMP/missing.npy" "$TMP/ok.npy"
no_sanitizer_report
[ "$rc" -eq 2 ] || fail "mixed files: exit $rc, expected 2"
printf '%s\n' "$out" | grep -q "ok.npy: NPY" || fail "mixed files: later good file not shown"
echo "ok"
