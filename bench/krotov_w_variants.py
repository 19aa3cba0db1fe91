#!/usr/bin/python3
"""Two variants of a trained Krotov-Hopfield hidden layer, for docs/RESULTS.md.

usage: krotov_w_variants.py W.safetensors OUT_PREFIX
writes OUT_PREFIX_conv.safetensors (only the rows whose Lebesgue p-norm is within
1% of R = 1, i.e. the units `train krotov` counts as converged) and
OUT_PREFIX_norm.safetensors (every row divided by its p-norm); p comes from the
file's metadata. Both can be passed to `neurodyn train krotov-top --features`.
"""
import json, struct, sys

import numpy as np


def load(path):
    with open(path, "rb") as fh:
        raw = fh.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    t = header["W"]
    if t["dtype"] != "F32":
        sys.exit(f"{path}: tensor W has dtype {t['dtype']}, need F32")
    s, e = t["data_offsets"]
    return header.get("__metadata__", {}), np.frombuffer(raw[8 + n + s:8 + n + e], dtype=np.float32).reshape(t["shape"])


def save(path, meta, w):
    w = np.ascontiguousarray(w, dtype=np.float32)
    header = {"__metadata__": meta, "W": {"dtype": "F32", "shape": list(w.shape), "data_offsets": [0, w.nbytes]}}
    hb = json.dumps(header).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(hb)) + hb + w.tobytes())


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    meta, w = load(sys.argv[1])
    p = float(meta.get("p", 3))
    norms = (np.abs(w.astype(np.float64)) ** p).sum(1) ** (1 / p)
    converged = np.abs(norms - 1) <= 0.01
    print(f"{len(w)} units, {converged.sum()} converged; unconverged p-norms "
          f"{norms[~converged].min():.3f}..{norms[~converged].max():.3f}" if (~converged).any() else "all converged")
    save(sys.argv[2] + "_conv.safetensors", meta, w[converged])
    save(sys.argv[2] + "_norm.safetensors", meta, w / norms[:, None])


if __name__ == "__main__":
    main()
