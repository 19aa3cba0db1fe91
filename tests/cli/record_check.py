"""Reads a recording (docs/record.md) with json and NumPy only, independent of
neurodyn's reader, and checks it against what the command line promised.

    record_check.py RUN_DIR NAME:KIND:SHAPE:FRAMES[:DTYPE] ...
SHAPE is "64" or "2x8x8"; FRAMES an integer or "*" (any, at least 1).  Checks
the index fields, chunk t0 contiguity, every chunk's NPY dtype and shape, the
positions of grid3d streams, and that no temporary file is left.  With
--save OUT.npz the concatenated frames of each stream are saved for further
checks by the calling test; imported, check(RUN_DIR, SPEC, ...) returns them."""
import json
import os
import sys

import numpy as np


def load(run):
    rec = os.path.join(run, "record")
    index = json.load(open(os.path.join(rec, "index.json")))
    assert index["format"] == "neurodyn-record" and index["version"] == 1, index
    assert not [f for f in os.listdir(rec) if ".tmp." in f], os.listdir(rec)
    return rec, {s["name"]: s for s in index["streams"]}


def frames_of(rec, s):
    parts, t0 = [], 0
    for c in s["chunks"]:
        assert c["t0"] == t0, (s["name"], c)
        a = np.load(os.path.join(rec, c["file"]), allow_pickle=False)
        assert a.dtype == np.dtype(s["dtype"]).newbyteorder("<") or a.dtype == np.dtype(s["dtype"]), a.dtype
        assert list(a.shape) == [c["frames"]] + s["frame_shape"], (s["name"], a.shape, c)
        parts.append(a)
        t0 += c["frames"]
    return np.concatenate(parts) if parts else np.zeros([0] + s["frame_shape"])


def check(run, *wants):
    """The frames of each stream asked for (NAME:KIND:SHAPE:FRAMES[:DTYPE]), checked."""
    rec, streams = load(run)
    out = {}
    for w in wants:
        parts = w.split(":")
        name, kind, shape, frames = parts[:4]
        dtype = parts[4] if len(parts) > 4 else "float32"
        assert name in streams, (name, list(streams))
        s = streams[name]
        assert s["kind"] == kind, (name, s["kind"])
        assert s["frame_shape"] == [int(x) for x in shape.split("x")], (name, s["frame_shape"])
        assert s["dtype"] == dtype, (name, s["dtype"])
        assert s["dt"] > 0 and s["time_unit"] in ("step", "ms", "epoch")
        f = frames_of(rec, s)
        assert len(f) >= 1 and (frames == "*" or len(f) == int(frames)), (name, len(f), frames)
        assert np.isfinite(f.astype(np.float64)).all(), name
        if kind == "grid3d":
            p = np.load(os.path.join(rec, s["positions"]))
            assert p.dtype == np.dtype("<f4") and p.shape == (s["frame_shape"][0], 3), p.shape
        out[name] = f
    return out


def main(argv):
    save = None
    if "--save" in argv:
        i = argv.index("--save")
        save = argv[i + 1]
        del argv[i:i + 2]
    out = check(argv[0], *argv[1:])
    if save:
        np.savez(save, **out)


if __name__ == "__main__":
    main(sys.argv[1:])
