#!/usr/bin/python3
"""Writes the seed corpora under fuzz/corpus/<target>/: small valid files and
near-valid ones (truncated, wrong sizes, odd headers).  Deterministic; run it
with Debian's /usr/bin/python3 (needs numpy) from anywhere:
    /usr/bin/python3 fuzz/make_corpus.py
"""
import gzip
import io
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- IDX
IDX_TYPES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx(arr):
    t = IDX_TYPES[arr.dtype.type]
    head = bytes([0, 0, t, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def gz(b):
    # mtime=0 keeps the output identical from run to run
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        f.write(b)
    return buf.getvalue()


rng = np.random.default_rng(1)
images = rng.integers(0, 256, size=(3, 4, 4), dtype=np.uint8)
labels = np.array([5, 0, 9], dtype=np.uint8)
out("fuzz_idx", "images-u8-3x4x4", idx(images))
out("fuzz_idx", "labels-u8-3", idx(labels))
out("fuzz_idx", "images-u8-3x4x4.gz", gz(idx(images)))
out("fuzz_idx", "labels-two-members.gz", gz(idx(labels)[:5]) + gz(idx(labels)[5:]))
out("fuzz_idx", "i8-2x3", idx(np.array([[-1, 2, -3], [4, -5, 127]], dtype=np.int8)))
out("fuzz_idx", "i16-4", idx(np.array([258, -2, 0, 32767], dtype=np.int16)))
out("fuzz_idx", "i32-2x2", idx(np.array([[1, -1], [1 << 30, -(1 << 30)]], dtype=np.int32)))
out("fuzz_idx", "f32-5", idx(np.array([1.5, -2, 0, np.inf, np.nan], dtype=np.float32)))
out("fuzz_idx", "f64-1x1x1x2", idx(np.array([[[[0.1, -1e300]]]], dtype=np.float64)))
out("fuzz_idx", "empty-0x28", idx(np.zeros((0, 28), dtype=np.uint8)))
out("fuzz_idx", "truncated", idx(images)[:30])
out("fuzz_idx", "trailing", idx(labels) + b"\x07")
out("fuzz_idx", "truncated.gz", gz(idx(images))[:-9])

# ---------------------------------------------------------------- NPY


def npy(arr, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, arr)
    else:
        np.lib.format.write_array(buf, arr, version=version)
    return buf.getvalue()


out("fuzz_npy", "f32-2x3.npy", npy(np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5))
out("fuzz_npy", "f64-4.npy", npy(np.array([0.1, -2.0, np.inf, np.nan])))
out("fuzz_npy", "f32-be-3.npy", npy(np.array([1, 2, 3], dtype=">f4")))
out("fuzz_npy", "f64-be-scalar.npy", npy(np.array(3.25, dtype=">f8")))
out("fuzz_npy", "f32-2x0x3.npy", npy(np.zeros((2, 0, 3), dtype=np.float32)))
out("fuzz_npy", "f32-v2.npy", npy(np.ones((1, 1, 2), dtype=np.float32), version=(2, 0)))
out("fuzz_npy", "f32-v3.npy", npy(np.ones((2,), dtype=np.float32), version=(3, 0)))
out("fuzz_npy", "f64-6d.npy", npy(np.zeros((1, 1, 1, 1, 1, 2))))
out("fuzz_npy", "fortran.npy", npy(np.asfortranarray(np.ones((2, 3), dtype=np.float32))))
out("fuzz_npy", "i32.npy", npy(np.arange(3, dtype=np.int32)))
out("fuzz_npy", "truncated.npy", npy(np.arange(6, dtype=np.float32))[:-5])

# ---------------------------------------------------------------- safetensors


def st(tensors, metadata=None, pad=True, lie=None):
    """tensors: list of (name, dtype string, shape, raw bytes)."""
    header, off, blobs = {}, 0, []
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    if lie:
        h = lie(h)
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


f32 = np.arange(6, dtype="<f4") - 1.5
out("fuzz_safetensors", "one-f32.safetensors", st([("w", "F32", (2, 3), f32.tobytes())]))
out("fuzz_safetensors", "mixed.safetensors", st([
    ("a", "F64", (2,), np.array([1.0, -2.0], "<f8").tobytes()),
    ("b", "F32", (1, 2), np.array([0.5, 3], "<f4").tobytes()),
    ("c", "I64", (1,), np.array([-7], "<i8").tobytes()),
    ("d", "I32", (), np.array(9, "<i4").tobytes()),
    ("e", "F16", (2,), np.array([1.5, -0.25], "<f2").tobytes()),
    ("f", "BF16", (1,), b"\x80\x3f"),
    ("g", "I16", (1,), np.array([-3], "<i2").tobytes()),
    ("h", "I8", (2,), b"\xff\x01"),
    ("i", "U8", (1,), b"\xfe"),
    ("j", "BOOL", (2,), b"\x00\x01"),
], metadata={"format": "pt", "step": "100"}))
out("fuzz_safetensors", "empty.safetensors", st([], metadata={}))
out("fuzz_safetensors", "zero-size.safetensors", st([("z", "F32", (0, 4), b"")]))
out("fuzz_safetensors", "six-dims.safetensors", st([("s", "U8", (1, 1, 1, 1, 1, 2), b"\x01\x02")]))
out("fuzz_safetensors", "lying-shape.safetensors", st([("w", "F32", (2, 4), f32.tobytes())]))
out("fuzz_safetensors", "overlap.safetensors",
    st([("a", "F32", (2,), f32[:2].tobytes()), ("b", "F32", (2,), f32[2:4].tobytes())],
       lie=lambda h: h.replace(b"[8,16]", b"[4,12]")))
out("fuzz_safetensors", "bad-json.safetensors", st([("w", "F32", (2, 3), f32.tobytes())], lie=lambda h: h[:-3]))
out("fuzz_safetensors", "truncated.safetensors", st([("w", "F32", (2, 3), f32.tobytes())])[:-4])

# ---------------------------------------------------------------- PyTorch .pth
# data.pkl assembled opcode by opcode as torch.save writes it (pickle
# protocol 2; see pickletools.dis of a real one), so no torch is needed here.
import zipfile  # noqa: E402


class Pkl:
    def __init__(self, proto=2):
        self.b = bytearray(b"\x80" + bytes([proto]))
        self.memo = 0
        self.proto = proto

    def op(self, raw):
        self.b += raw
        return self

    def put(self):
        if self.proto >= 4:
            self.b += b"\x94"  # MEMOIZE
        else:
            self.b += b"q" + bytes([self.memo % 256])
        self.memo += 1
        return self

    def s(self, text):
        t = text.encode()
        if self.proto >= 4 and len(t) < 256:
            self.b += b"\x8c" + bytes([len(t)]) + t
        else:
            self.b += b"X" + struct.pack("<I", len(t)) + t
        return self.put()

    def i(self, v):
        if 0 <= v < 256:
            self.b += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.b += b"M" + struct.pack("<H", v)
        else:
            self.b += b"J" + struct.pack("<i", v)
        return self

    def glob(self, mod, name):
        if self.proto >= 4:
            self.s(mod).s(name)
            self.b += b"\x93"
        else:
            self.b += b"c" + mod.encode() + b"\n" + name.encode() + b"\n"
        return self.put()

    def tup(self, vals):
        self.b += b"("
        for v in vals:
            self.i(v)
        self.b += b"t"
        return self.put()

    def data(self):
        return bytes(self.b) + b"."


STORAGE = {"f4": "FloatStorage", "f2": "HalfStorage", "f8": "DoubleStorage", "i8": "LongStorage", "u1": "ByteStorage"}


def state_dict_pkl(entries, proto=2, hostile=None):
    """entries: (name, storage key, dtype code, storage numel, offset, size, stride)."""
    p = Pkl(proto)
    p.glob("collections", "OrderedDict").op(b")R").put().op(b"(")
    for name, key, dt, numel, offset, size, stride in entries:
        p.s(name)
        p.glob("torch._utils", "_rebuild_tensor_v2").op(b"(")
        p.op(b"(").s("storage").glob("torch", STORAGE[dt]).s(key).s("cpu").i(numel).op(b"t").put().op(b"Q")
        p.i(offset).tup(size).tup(stride).op(b"\x89")
        p.glob("collections", "OrderedDict").op(b")R").put()
        p.op(b"t").put().op(b"R").put()
    if hostile:
        p.s("evil").glob(*hostile).op(b"(").s("touch /tmp/pwned").op(b"tR").put()
    p.op(b"u")
    # the _metadata state, as Module.state_dict() adds it
    p.op(b"}").put().s("_metadata").glob("collections", "OrderedDict").op(b")R").put()
    p.s("").op(b"}").put().s("version").i(1).op(b"sssb")
    return p.data()


def pth(entries, storages, proto=2, compress=zipfile.ZIP_STORED, big=False, hostile=None, prefix="archive"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        def put(name, data):  # a fixed date keeps the corpus identical from run to run
            z.writestr(zipfile.ZipInfo(f"{prefix}/{name}", date_time=(2024, 1, 1, 0, 0, 0)), data, compress)
        put("data.pkl", state_dict_pkl(entries, proto, hostile))
        put("byteorder", "big" if big else "little")
        for key, arr in storages:
            put(f"data/{key}", arr.astype(arr.dtype.newbyteorder(">" if big else "<")).tobytes())
        put("version", "3\n")
    return buf.getvalue()


w = np.arange(12, dtype=np.float32) - 5.5
h = (np.arange(6, dtype=np.float16) / 4).astype(np.float16)
d = np.linspace(-1, 1, 8)
views = [
    ("inp_conv.parametrizations.weight.original1", "0", "f4", 12, 0, (3, 4), (4, 1)),
    ("transposed", "0", "f4", 12, 0, (4, 3), (1, 4)),
    ("sliced", "0", "f4", 12, 1, (2, 3), (4, 2)),
    ("expanded", "0", "f4", 12, 2, (3, 2), (0, 1)),
    ("conv_bias.0", "1", "f2", 6, 0, (1, 2, 3), (6, 3, 1)),
    ("double", "2", "f8", 8, 1, (7,), (1,)),
    ("steps", "3", "i8", 1, 0, (), ()),
    ("empty", "4", "u1", 0, 0, (0, 3), (3, 1)),
]
stores = [("0", w), ("1", h), ("2", d), ("3", np.array([17], np.int64)), ("4", np.zeros(0, np.uint8))]
for target in ("fuzz_pickle", "fuzz_pth"):
    for proto in (2, 4):
        raw = state_dict_pkl(views, proto)
        if target == "fuzz_pickle":
            out(target, f"state-dict-p{proto}.pkl", raw)
            out(target, f"truncated-p{proto}.pkl", raw[: len(raw) // 2])
        else:
            out(target, f"state-dict-p{proto}.pth", pth(views, stores, proto))
    if target == "fuzz_pickle":
        out(target, "hostile-system.pkl", state_dict_pkl(views[:1], 2, hostile=("posix", "system")))
        out(target, "past-storage.pkl", state_dict_pkl([("w", "0", "f4", 4, 2, (3,), (1,))]))
out("fuzz_pth", "deflated.pth", pth(views, stores, compress=zipfile.ZIP_DEFLATED))
out("fuzz_pth", "big-endian.pth", pth(views, stores, big=True))
out("fuzz_pth", "short-storage.pth", pth(views[:1], [("0", w[:5])]))
out("fuzz_pth", "no-storage.pth", pth(views[:1], []))
out("fuzz_pth", "hostile-system.pth", pth(views[:1], stores[:1], hostile=("posix", "system")))
out("fuzz_pth", "truncated.pth", pth(views, stores)[:300])

# ---------------------------------------------------------------- record index (docs/record.md)


def rec_stream(name, kind, shape, chunks, **extra):
    s = {"name": name, "kind": kind, "frame_shape": shape, "dtype": "float32", "time_unit": "step", "dt": 1.0}
    s.update(extra)
    t0, cs = 0, []
    for k, n in enumerate(chunks):
        cs.append({"file": f"{name}_{k:06d}.npy", "t0": t0, "frames": n})
        t0 += n
    s["chunks"] = cs
    return s


def rec_index(streams, **top):
    d = {"format": "neurodyn-record", "version": 1, "streams": streams}
    d.update(top)
    return json.dumps(d, indent=2).encode()


REC = [
    rec_stream("grid", "grid3d", [64], [64, 64, 3], positions="grid_positions.npy"),
    rec_stream("area6", "map2d", [2, 8, 8], [64], labels={"area": 6, "model": "cordsnet"}),
    rec_stream("codes", "vector", [256], [10]),
    rec_stream("spikes", "raster", [100], [64, 1], dtype="uint8", time_unit="ms", dt=0.1),
    rec_stream("W", "image", [10, 28, 28], [1, 1], time_unit="epoch"),
    rec_stream("gray", "image", [28, 28], []),
]
out("fuzz_record_index", "all-kinds.json", rec_index(REC))
out("fuzz_record_index", "empty.json", rec_index([]))
out("fuzz_record_index", "unknown-keys.json", rec_index(REC[:1], future={"x": [1, 2]}))
out("fuzz_record_index", "gap.json", rec_index([dict(REC[2], chunks=[{"file": "c.npy", "t0": 1, "frames": 2}])]))
out("fuzz_record_index", "dup-names.json", rec_index([REC[2], REC[2]]))
out("fuzz_record_index", "bad-kind.json", rec_index([dict(REC[2], kind="movie")]))
out("fuzz_record_index", "version-2.json", rec_index([], version=2))
out("fuzz_record_index", "truncated.json", rec_index(REC)[:200])
# ---------------------------------------------------------------- net.json (train somp)
NET = {
    "cells": [
        {"name": "c1", "units": 6, "hparams": {"alpha_dense": 2.0, "noise_std": 0.01}, "inputs": ["x", "c1", "c2"]},
        {"name": "c2", "units": 4, "mode": "sparse", "threshold": "soft", "pool": "mean",
         "inputs": ["c1", "c2", {"name": "x", "from_epoch": 1}]},
    ],
    "rules": [
        {"rule": "stdp", "cell": "c1", "eta": 0.001},
        {"rule": "covariance_decay", "cell": "c1", "input": "c2", "eta": 0.001, "params": {"beta": 0.9}},
        {"rule": "stdp_multilag", "cell": "c2", "params": {"lags": 3}, "reward": True},
    ],
    "readout": "c1",
    "task": {"name": "mackey-glass", "T": 20, "washout": 5, "batch": 4, "steps": 4, "val_windows": 8},
    "learn": {"lr": 0.003, "optimizer": "adam", "apply": "immediate", "clip": 1.0},
    "epochs": 3,
}
net = json.dumps(NET, indent=1).encode()
out("fuzz_somp_net", "full.json", net)
out("fuzz_somp_net", "truncated.json", net[: len(net) // 2])
out("fuzz_somp_net", "minimal.json", b'{"cells": [{"name": "a", "units": 3, "inputs": ["x"]}]}')
out("fuzz_somp_net", "late-only.json", b'{"cells": [{"name": "a", "units": 3, "inputs": [{"name": "x", "from_epoch": 2}]}]}')
out("fuzz_somp_net", "bad-rule.json", b'{"cells": [{"name": "a", "units": 3, "inputs": ["x"]}], "rules": [{"rule": "stpd", "cell": "a"}]}')
