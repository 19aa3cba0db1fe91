# neurodyn analyze cordsnet: a small CordsNet-R2 (upstream layout, random
# weights written here with NumPy) analysed end to end, the report's fields
# and files, --areas; and bad input: exit 2, one line naming the file or
# option, no output directory made.  (The values themselves are checked
# against NumPy/PyTorch in tests/python/test_cordsnet_analyze.py.)
. "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: numpy not available"; exit 77; }
cd "$TMP"
"$PY" - <<'PYEOF'
import json, struct
import numpy as np
rng = np.random.default_rng(1)
def save(path, t):
    h, blobs, off = {}, [], 0
    for k, v in t.items():
        b = v.astype("<f4").tobytes(); h[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    hb = json.dumps(h).encode(); hb += b" " * ((8 - len(hb) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
t = {}
def wn(name, shape):
    t[name + ".parametrizations.weight.original0"] = 0.5 + rng.random((shape[0],) + (1,) * (len(shape) - 1))
    t[name + ".parametrizations.weight.original1"] = rng.standard_normal(shape)
wn("inp_conv", (2, 3, 7, 7)); wn("inp_skip", (2, 2, 3, 3))
for j in range(2):
    wn(f"area_conv.{j}", (2, 2, 3, 3)); wn(f"area_area.{j}", (2, 2, 3, 3))
    t[f"conv_bias.{j}"] = rng.standard_normal((2, 4, 4)) * 0.5 + 0.2
wn("out_fc", (3, 2)); t["out_fc.bias"] = rng.standard_normal(3)
save("r2.safetensors", t)
del t["area_conv.1.parametrizations.weight.original1"]
save("broken.safetensors", t)
PYEOF
printf 'not weights\n' > notes.txt
P="neurodyn analyze cordsnet:"

expect_ok "$ND" analyze cordsnet --weights r2.safetensors --out out --krylov 40 --quiet
for f in spectra.json eigvecs.safetensors spectrum_area0.png spectrum_area1.png euler_multipliers.png jacobian_spectrum.png; do
  [ -s "out/$f" ] || fail "out/$f not written"
done
case "$out" in *"linearised Euler update"*"Jacobian at the spontaneous state"*) ;; *) fail "report lines: $out" ;; esac
"$PY" - <<'PYEOF' || fail "spectra.json"
import json
r = json.load(open("out/spectra.json"))
assert r["depth"] == 2 and [a["area"] for a in r["areas"]] == [0, 1], r
for a in r["areas"]:
    assert a["shape"] == [2, 4, 4] and a["n"] == 32 and a["ritz_values"] == 32, a
    assert len(a["eigenvalues"]) == 32 and len(a["residuals"]) == 32
    mods = [abs(complex(*z)) for z in a["eigenvalues"]]
    assert mods == sorted(mods, reverse=True)
    assert abs(a["spectral_radius"] - mods[0]) < 1e-12
    assert a["euler"]["verdict"] in ("stable", "unstable", "unknown") and "jacobian" in a
assert r["verdict"] in ("stable", "unstable", "unknown") and r["jacobian"]["steps_spont"] == 100
PYEOF
# one area; no Jacobian, no plots
expect_ok "$ND" analyze cordsnet --weights r2.safetensors --out one --areas 1 --no-jacobian --no-plot --quiet
"$PY" -c "
import json; r = json.load(open('one/spectra.json'))
assert [a['area'] for a in r['areas']] == [1] and 'jacobian' not in r and 'jacobian' not in r['areas'][0], r
" || fail "--areas 1 --no-jacobian"
[ ! -e one/spectrum_area1.png ] || fail "--no-plot wrote a plot"

# bad input: exit 2, one line, no output directory
expect_error 2 "$P" "--weights" "$ND" analyze cordsnet --out bad
expect_error 2 "$P" "missing.safetensors" "$ND" analyze cordsnet --weights missing.safetensors --out bad
expect_error 2 "$P" "notes.txt" "$ND" analyze cordsnet --weights notes.txt --out bad
expect_error 2 "$P" "area_conv.1" "$ND" analyze cordsnet --weights broken.safetensors --out bad
expect_error 2 "$P" "--areas '5'" "$ND" analyze cordsnet --weights r2.safetensors --out bad --areas 5
expect_error 2 "$P" "--areas '0,x'" "$ND" analyze cordsnet --weights r2.safetensors --out bad --areas 0,x
expect_error 2 "$P" "--alpha" "$ND" analyze cordsnet --weights r2.safetensors --out bad --alpha 0
expect_error 2 "$P" "--krylov" "$ND" analyze cordsnet --weights r2.safetensors --out bad --krylov 0
expect_error 2 "$P" "depth" "$ND" analyze cordsnet --weights r2.safetensors --out bad --depth 4
[ ! -e bad ] || fail "a refused run made its output directory"
expect_error 2 "$P" "notes.txt" "$ND" analyze cordsnet --weights r2.safetensors --out notes.txt/x
expect_error 2 "neurodyn analyze:" "unknown model" "$ND" analyze nosuchmodel
run "$ND" analyze
[ "$rc" -eq 2 ] || fail "analyze without a model exited $rc"
case "$err" in *cordsnet*) ;; *) fail "analyze usage does not list cordsnet" ;; esac
echo "PASS"
