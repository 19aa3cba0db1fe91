"""Cross-check of neurodyn's NPY and safetensors files with NumPy, through
ctypes on libneurodyn.so: files neurodyn writes are read by np.load (NPY) and
by a reader written here from the safetensors format description (JSON header
+ np.frombuffer); files NumPy writes (random shapes, both byte orders, format
versions 1.0 and 2.0) are read by neurodyn.  Skipped when the shared library
is missing or built with sanitizers."""
import ctypes
import json
import os
import struct

import pytest

np = pytest.importorskip("numpy")

ND_MAX_DIMS = 5
ND_ARRAY_MAX_DIMS = 8
DTYPES = {  # nd_dtype enum value -> (numpy dtype, safetensors name)
    0: ("<u1", "U8"), 1: ("<i1", "I8"), 2: ("<i2", "I16"), 3: ("<i4", "I32"), 4: ("<i8", "I64"),
    5: ("<f2", "F16"), 7: ("<f4", "F32"), 8: ("<f8", "F64"), 9: ("|b1", "BOOL"),
}


class NdTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.POINTER(ctypes.c_float)),
        ("ndim", ctypes.c_int),
        ("shape", ctypes.c_int64 * ND_MAX_DIMS),
        ("stride", ctypes.c_int64 * ND_MAX_DIMS),
        ("owns_data", ctypes.c_bool),
    ]


class NdArray(ctypes.Structure):
    _fields_ = [
        ("dtype", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("shape", ctypes.c_int64 * ND_ARRAY_MAX_DIMS),
        ("numel", ctypes.c_int64),
        ("data", ctypes.c_void_p),
    ]


@pytest.fixture(scope="module")
def lib():
    build = os.environ.get("ND_BUILD_DIR", "")
    path = os.path.join(build, "libneurodyn.so")
    if not os.path.exists(path):
        pytest.skip("libneurodyn.so not found in ND_BUILD_DIR")
    cache = os.path.join(build, "CMakeCache.txt")
    if os.path.exists(cache) and "ND_SANITIZE:BOOL=ON" in open(cache).read():
        pytest.skip("sanitizer build: libneurodyn.so cannot be loaded into an uninstrumented python")
    L = ctypes.CDLL(path)
    L.nd_last_error.restype = ctypes.c_char_p
    L.nd_tensor_create.restype = ctypes.c_int
    L.nd_tensor_create.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_int64),
                                   ctypes.POINTER(ctypes.POINTER(NdTensor))]
    L.nd_tensor_free.argtypes = [ctypes.POINTER(NdTensor)]
    L.nd_tensor_release.argtypes = [ctypes.POINTER(NdTensor)]
    L.nd_npy_write.argtypes = [ctypes.c_char_p, ctypes.POINTER(NdTensor)]
    L.nd_npy_write_f64.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int64),
                                   ctypes.POINTER(ctypes.c_double)]
    L.nd_npy_read.argtypes = [ctypes.c_char_p, ctypes.POINTER(NdTensor)]
    L.nd_npy_read_f64.argtypes = [ctypes.c_char_p, ctypes.POINTER(NdArray)]
    L.nd_array_release.argtypes = [ctypes.POINTER(NdArray)]
    L.nd_safetensors_write_arrays.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p),
                                              ctypes.POINTER(ctypes.POINTER(NdArray)),
                                              ctypes.POINTER(ctypes.c_char_p)]
    return L


def check(L, status):
    assert status == 0, L.nd_last_error().decode()


def shapes(rng, count):
    out = [(), (0,), (1,), (7,), (0, 3)]
    while len(out) < count:
        nd = int(rng.integers(1, ND_MAX_DIMS + 1))
        out.append(tuple(int(s) for s in rng.integers(1, 5, size=nd)))
    return out


def test_numpy_reads_our_npy(lib, tmp_path):
    rng = np.random.default_rng(7)
    for k, shape in enumerate(shapes(rng, 12)):
        want = rng.standard_normal(shape).astype(np.float32)
        cshape = (ctypes.c_int64 * max(1, len(shape)))(*shape)
        t = ctypes.POINTER(NdTensor)()
        check(lib, lib.nd_tensor_create(len(shape), cshape, ctypes.byref(t)))
        n = int(np.prod(shape))
        if n:
            ctypes.memmove(t.contents.data, want.ctypes.data, n * 4)
        p = str(tmp_path / f"t{k}.npy").encode()
        check(lib, lib.nd_npy_write(p, t))
        lib.nd_tensor_free(t)
        got = np.load(p.decode())
        assert got.dtype == np.float32 and got.shape == shape
        np.testing.assert_array_equal(got, want)
        # float64 writer
        want64 = rng.standard_normal(shape)
        p = str(tmp_path / f"d{k}.npy").encode()
        data = np.ascontiguousarray(want64)
        check(lib, lib.nd_npy_write_f64(p, len(shape), cshape, data.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
        got = np.load(p.decode())
        assert got.dtype == np.float64 and got.shape == shape
        np.testing.assert_array_equal(got, want64)


def test_we_read_numpy_npy(lib, tmp_path):
    rng = np.random.default_rng(8)
    for k, shape in enumerate(shapes(rng, 12)):
        for dt in ("<f4", ">f4", "<f8", ">f8"):
            want = rng.standard_normal(shape).astype(dt)
            p = tmp_path / f"n{k}{dt[0] == '>'}{dt[2]}.npy"
            with open(p, "wb") as f:
                np.lib.format.write_array(f, want, version=(2, 0) if k % 3 == 0 else None)
            a = NdArray()
            check(lib, lib.nd_npy_read_f64(str(p).encode(), ctypes.byref(a)))
            assert a.ndim == len(shape) and tuple(a.shape[: a.ndim]) == shape
            n = int(np.prod(shape))
            got = np.ctypeslib.as_array((ctypes.c_double * max(n, 1)).from_address(a.data))[:n].reshape(shape)
            np.testing.assert_array_equal(got, want.astype(np.float64))
            lib.nd_array_release(ctypes.byref(a))
            t = NdTensor()
            check(lib, lib.nd_npy_read(str(p).encode(), ctypes.byref(t)))
            got = np.ctypeslib.as_array(t.data, shape=(max(n, 1),))[:n].reshape(shape)
            np.testing.assert_array_equal(got, want.astype(np.float32))
            lib.nd_tensor_release(ctypes.byref(t))


def read_safetensors(path):
    """Reader written from the format description, independent of neurodyn."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    buf = raw[8 + n :]
    meta = header.pop("__metadata__", None)
    out, covered = {}, 0
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, end = e["data_offsets"]
        assert b == covered, "tensors must tile the buffer"
        covered = end
        dt = {v[1]: v[0] for v in DTYPES.values()}[e["dtype"]]
        out[name] = np.frombuffer(buf[b:end], dtype=dt).reshape(e["shape"])
    assert covered == len(buf)
    return out, meta, n


def test_safetensors_read_by_numpy(lib, tmp_path):
    rng = np.random.default_rng(9)
    arrays, names = [], []
    for code, (dt, _) in DTYPES.items():
        shape = tuple(int(s) for s in rng.integers(1, 4, size=int(rng.integers(0, 4))))
        if dt == "|b1":
            x = rng.integers(0, 2, size=shape).astype(bool)
        elif dt[1] in "iu":
            info = np.iinfo(dt)
            x = rng.integers(info.min, info.max, size=shape, dtype=np.int64, endpoint=True).astype(dt)
        else:
            x = rng.standard_normal(shape).astype(dt)
        x = np.ascontiguousarray(x)
        arrays.append((code, x))
        names.append(f"t_{DTYPES[code][1].lower()}")
    keep = []
    ptrs = (ctypes.POINTER(NdArray) * len(arrays))()
    for i, (code, x) in enumerate(arrays):
        a = NdArray(dtype=code, ndim=x.ndim, numel=x.size, data=x.ctypes.data)
        for d, s in enumerate(x.shape):
            a.shape[d] = s
        for d in range(x.ndim, ND_ARRAY_MAX_DIMS):
            a.shape[d] = 1
        keep.append(a)
        ptrs[i] = ctypes.pointer(a)
    cnames = (ctypes.c_char_p * len(names))(*[n.encode() for n in names])
    meta = (ctypes.c_char_p * 5)(b"step", b"7", b"note", "\u03b1 \"q\"".encode(), None)
    p = tmp_path / "all.safetensors"
    check(lib, lib.nd_safetensors_write_arrays(str(p).encode(), len(arrays), cnames, ptrs, meta))
    got, m, hlen = read_safetensors(p)
    assert hlen % 8 == 0
    assert m == {"step": "7", "note": "\u03b1 \"q\""}
    assert sorted(got) == sorted(names)
    for name, (_, x) in zip(names, arrays):
        assert got[name].dtype == x.dtype and got[name].shape == x.shape, name
        np.testing.assert_array_equal(got[name], x)
