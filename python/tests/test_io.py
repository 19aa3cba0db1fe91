"""neurodyn.io from Python against independent readers and writers: NumPy's
np.save/np.load for NPY, the safetensors layout parsed here with json and
struct (the format's specification), IDX bytes written by hand; arrays read
own the library's buffer."""
import json
import os
import struct

import numpy as np
import pytest

import neurodyn
from conftest import write_idx_bytes


def parse_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    types = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "u1", "I16": "<i2", "F16": "<f2",
             "BOOL": "?", "I8": "i1"}
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + b:8 + n + e], types[h["dtype"]]).reshape(h["shape"])
    return out, meta


def test_safetensors_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"w": rng.normal(size=(3, 4)).astype(np.float32), "d": rng.normal(size=5),
               "i": np.arange(6, dtype=np.int32).reshape(2, 3), "u": np.arange(4, dtype=np.uint8),
               "b": np.array([True, False]), "h": np.ones(3, np.float16), "l": np.arange(3, dtype=np.int64)}
    path = str(tmp_path / "t.safetensors")
    neurodyn.io.write_safetensors(path, tensors, {"step": "7"})
    theirs, meta = parse_safetensors(path)
    assert meta == {"step": "7"}
    mine, meta2 = neurodyn.io.read_safetensors_with_metadata(path)
    assert meta2 == meta and set(mine) == set(tensors)
    for k, v in tensors.items():
        np.testing.assert_array_equal(theirs[k], v)
        assert mine[k].dtype == v.dtype
        np.testing.assert_array_equal(mine[k], v)
    # arrays read own the library's buffer (a capsule base), nothing copied afterwards
    assert not mine["w"].flags.owndata and mine["w"].base is not None and mine["w"].flags.writeable
    assert np.array_equal(neurodyn.io.read_tensor(path, "w"), tensors["w"])


def test_npy_against_numpy(tmp_path):
    a = np.random.default_rng(1).normal(size=(2, 3, 4))
    neurodyn.io.write_npy(str(tmp_path / "a64.npy"), a)
    neurodyn.io.write_npy(str(tmp_path / "a32.npy"), a.astype(np.float32))
    neurodyn.io.write_npy(str(tmp_path / "ai.npy"), np.arange(5))  # other dtypes: float32
    np.testing.assert_array_equal(np.load(tmp_path / "a64.npy"), a)
    assert np.load(tmp_path / "a32.npy").dtype == np.float32
    assert np.load(tmp_path / "ai.npy").dtype == np.float32
    np.save(tmp_path / "n.npy", a.astype(np.float32))
    np.testing.assert_array_equal(neurodyn.io.read_npy(str(tmp_path / "n.npy")), a.astype(np.float32))
    np.save(tmp_path / "f.npy", np.asfortranarray(a))
    with pytest.raises(RuntimeError, match="fortran"):  # unsupported: a LibraryError
        neurodyn.io.read_npy(str(tmp_path / "f.npy"))


def test_idx_and_datasets(tmp_path):
    imgs = np.random.default_rng(2).integers(0, 256, (7, 28, 28)).astype(np.uint8)
    labels = np.arange(7, dtype=np.uint8) % 10
    d = tmp_path / "fashion-mnist"
    d.mkdir()
    write_idx_bytes(str(d / "train-images-idx3-ubyte"), imgs)
    write_idx_bytes(str(d / "train-labels-idx1-ubyte"), labels)
    np.testing.assert_array_equal(neurodyn.io.read_idx(str(d / "train-images-idx3-ubyte")), imgs)
    X, y = neurodyn.io.load_fashion_mnist("train", limit=5, root=str(tmp_path))
    assert X.shape == (5, 784) and X.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_array_max_ulp(X, imgs[:5].reshape(5, 784).astype(np.float32) / np.float32(255), maxulp=1)
    np.testing.assert_array_equal(y, labels[:5])
    neurodyn.io.write_idx(str(tmp_path / "x.idx"), imgs)
    assert open(tmp_path / "x.idx", "rb").read() == open(d / "train-images-idx3-ubyte", "rb").read()
    assert neurodyn.io.file_kind(str(d / "train-images-idx3-ubyte"))[0] == "IDX"


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        neurodyn.io.read_npy(str(tmp_path / "nope.npy"))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 16)
    with pytest.raises(ValueError, match="bad.safetensors"):
        neurodyn.io.read_safetensors(str(bad))
    with pytest.raises(neurodyn.NotFoundError, match="mnist"):
        neurodyn.io.load_mnist(root=str(tmp_path))
    with pytest.raises(TypeError, match="x"):
        neurodyn.io.write_safetensors(str(tmp_path / "o.safetensors"), {"x": np.array(["a"])})


def test_torch_interop():
    torch = pytest.importorskip("torch")
    t = torch.rand(50, 20)
    x = t.numpy()  # a CPU float32 tensor's memory, no copy
    assert np.shares_memory(neurodyn.as_float32(x), x)
    m = neurodyn.Krotov(hidden=5, epochs=1, batch=10).fit(x)
    w = torch.from_numpy(m.weights.copy())
    assert w.shape == (5, 20) and w.dtype == torch.float32
