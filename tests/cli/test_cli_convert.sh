#!/usr/bin/env bash
# neurodyn convert: npy -> safetensors -> npy keeps the data byte for byte
# (f32 and f64, several shapes); the safetensors file is checked by a parser
# written here from the format's description; --name names or picks tensors;
# IDX input; a failing convert leaves nothing behind (no output, no temporary).
source "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: /usr/bin/python3 has no numpy"; exit 77; }

"$PY" - "$TMP" <<'PY'
import sys
import numpy as np
T = sys.argv[1]
rng = np.random.default_rng(3)
np.save(T + "/a32.npy", rng.standard_normal((3, 4, 5)).astype(np.float32))
np.save(T + "/b64.npy", rng.standard_normal((7, 2)))
np.save(T + "/s32.npy", np.array(2.5, dtype=np.float32))
np.save(T + "/big.npy", rng.standard_normal((256, 256)).astype(np.float32))
np.save(T + "/fortran.npy", np.asfortranarray(np.ones((3, 2))))
PY

for f in a32 b64 s32; do
  expect_ok "$ND" convert "$TMP/$f.npy" "$TMP/$f.safetensors"
  expect_ok "$ND" convert "$TMP/$f.safetensors" "$TMP/$f.back.npy"
done
expect_ok "$ND" convert --name weights "$TMP/b64.npy" "$TMP/named.safetensors"

"$PY" - "$TMP" <<'PY' || fail "round trip or safetensors layout check failed"
import json, struct, sys
import numpy as np
T = sys.argv[1]

def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    return header, b[8 + n:]

for f, dt, code in (("a32", np.float32, "F32"), ("b64", np.float64, "F64"), ("s32", np.float32, "F32")):
    src = np.load(f"{T}/{f}.npy")
    back = np.load(f"{T}/{f}.back.npy")
    assert back.dtype == src.dtype == dt, (f, back.dtype)
    assert back.shape == src.shape, (f, back.shape)
    assert back.tobytes() == src.tobytes(), f + ": data differ after the round trip"
    header, data = read_st(f"{T}/{f}.safetensors")
    names = [k for k in header if k != "__metadata__"]
    assert names == [f], (f, names)  # default name: the input's stem
    e = header[f]
    assert e["dtype"] == code and e["shape"] == list(src.shape), (f, e)
    b0, b1 = e["data_offsets"]
    assert (b0, b1) == (0, src.nbytes) and len(data) == src.nbytes, (f, e, len(data))
    assert data[b0:b1] == src.astype(src.dtype.newbyteorder("<")).tobytes(), f + ": safetensors data differ"
header, _ = read_st(f"{T}/named.safetensors")
assert [k for k in header if k != "__metadata__"] == ["weights"], header
PY

# Several tensors: safetensors -> npy needs --name; --name picks one.
"$PY" - "$TMP" <<'PY'
import json, struct, sys
import numpy as np
T = sys.argv[1]
x = np.arange(6, dtype="<f4"); y = np.arange(4, dtype="<f8") / 3
h = json.dumps({"x": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                "y": {"dtype": "F64", "shape": [4], "data_offsets": [24, 56]}}).encode()
open(T + "/two.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + x.tobytes() + y.tobytes())
PY
expect_error 2 "neurodyn convert:" "--name" "$ND" convert "$TMP/two.safetensors" "$TMP/two.npy"
expect_ok "$ND" convert --name y "$TMP/two.safetensors" "$TMP/y.npy"
"$PY" -c "
import numpy as np, sys
y = np.load(sys.argv[1]); assert y.dtype == np.float64 and np.array_equal(y, np.arange(4) / 3), y
" "$TMP/y.npy" || fail "--name y picked the wrong tensor"
expect_error 2 "neurodyn convert:" "'z'" "$ND" convert --name z "$TMP/two.safetensors" "$TMP/z.npy"
# safetensors -> safetensors keeps every tensor.
expect_ok "$ND" convert "$TMP/two.safetensors" "$TMP/two-copy.safetensors"
expect_ok "$ND" inspect --no-stats "$TMP/two-copy.safetensors"
printf '%s\n' "$out" | grep -q "2 tensors" || fail "safetensors copy lost tensors: $out"

# IDX input (u8 labels): kept as u8 in safetensors, widened to f32 in NPY.
"$PY" -c "
import struct, sys
open(sys.argv[1], 'wb').write(bytes([0, 0, 8, 1]) + struct.pack('>I', 5) + bytes([3, 1, 4, 1, 5]))
" "$TMP/labels-idx1-ubyte"
expect_ok "$ND" convert "$TMP/labels-idx1-ubyte" "$TMP/labels.safetensors"
expect_ok "$ND" inspect "$TMP/labels.safetensors"
printf '%s\n' "$out" | grep -Eq "^  data +u8 +5 " || fail "IDX -> safetensors: $out"
expect_ok "$ND" convert "$TMP/labels-idx1-ubyte" "$TMP/labels.npy"
"$PY" -c "
import numpy as np, sys
a = np.load(sys.argv[1]); assert a.dtype == np.float32 and a.tolist() == [3, 1, 4, 1, 5], a
" "$TMP/labels.npy" || fail "IDX -> npy values"

# Failing converts leave nothing behind.
mkdir "$TMP/out"
listing() { (cd "$TMP/out" && ls -A); }
expect_error 2 "neurodyn convert:" "fortran" "$ND" convert "$TMP/fortran.npy" "$TMP/out/f.safetensors"
expect_error 2 "neurodyn convert:" "$TMP/missing.npy" "$ND" convert "$TMP/missing.npy" "$TMP/out/m.safetensors"
expect_error 2 "neurodyn convert:" "$TMP/out/x.txt" "$ND" convert "$TMP/a32.npy" "$TMP/out/x.txt"
# An input of another kind: what it is and what was expected.
printf '\211PNG\r\n\032\n\0\0\0\rIHDR' >"$TMP/fields.png"
expect_error 2 "neurodyn convert:" "$TMP/fields.png: is a PNG image, expected an IDX, NPY or safetensors file" \
  "$ND" convert "$TMP/fields.png" "$TMP/out/f.safetensors"
printf '{"epoch": 1}\n{"epoch": 2}\n' >"$TMP/metrics.jsonl"
expect_error 2 "neurodyn convert:" "is JSON Lines text" "$ND" convert "$TMP/metrics.jsonl" "$TMP/out/m.npy"
head -c 100 "$TMP/big.npy" >"$TMP/cut.npy"
expect_error 2 "neurodyn convert:" "$TMP/cut.npy" "$ND" convert "$TMP/cut.npy" "$TMP/out/cut.safetensors"
expect_error 2 "neurodyn convert:" "$TMP/out/no/such/dir" "$ND" convert "$TMP/a32.npy" "$TMP/out/no/such/dir/a.safetensors"
# Output paths that cannot take a file are bad input (2), found before any
# writing: a directory at OUT, a parent that is a file.
mkdir "$TMP/out/d.safetensors"
expect_error 2 "neurodyn convert:" "$TMP/out/d.safetensors: is a directory" \
  "$ND" convert "$TMP/a32.npy" "$TMP/out/d.safetensors"
rmdir "$TMP/out/d.safetensors"
: >"$TMP/out/plain"
expect_error 2 "neurodyn convert:" "$TMP/out/plain is not a directory" \
  "$ND" convert "$TMP/a32.npy" "$TMP/out/plain/a.safetensors"
rm "$TMP/out/plain"
# A disk that fills up mid-write (file size limit of 64 KiB; the output needs 256 KiB).
set +e
(ulimit -f 64; exec "$ND" convert "$TMP/big.npy" "$TMP/out/big.safetensors") >"$TMP/.stdout" 2>"$TMP/.stderr"
rc=$?
set -e
err="$(cat "$TMP/.stderr")"
no_sanitizer_report
[ "$rc" -eq 1 ] || fail "write beyond the file size limit: exit $rc, expected 1"
[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "write failure: expected one line on stderr"
case "$err" in "neurodyn convert: "*big.safetensors*) ;; *) fail "write failure message does not name the output" ;; esac
# An existing output is left untouched by a failing convert.
cp "$TMP/a32.safetensors" "$TMP/out/keep.safetensors"
set +e
(ulimit -f 64; exec "$ND" convert "$TMP/big.npy" "$TMP/out/keep.safetensors") >/dev/null 2>&1
set -e
cmp -s "$TMP/a32.safetensors" "$TMP/out/keep.safetensors" || fail "failing convert changed the existing output"
[ "$(listing)" = "keep.safetensors" ] || fail "failing converts left files behind: $(listing | tr '\n' ' ')"
echo "ok"
