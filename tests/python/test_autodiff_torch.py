"""Cross-check of the autodiff convolution and pooling ops against PyTorch
(torch.nn.functional), through ctypes on libneurodyn.so: forward values and
the vector-Jacobian product for a random output seed, for every input.  This
pins down the conventions (padding, output padding, count_include_pad,
adaptive bins) that checkpoints imported from PyTorch rely on.  Skipped when
torch or the shared library is missing, and in sanitizer builds."""
import ctypes
import os

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
F = torch.nn.functional

ND_MAX_DIMS = 5
I64 = ctypes.c_int64
VP = ctypes.c_void_p


class NdTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.POINTER(ctypes.c_float)),
        ("ndim", ctypes.c_int),
        ("shape", I64 * ND_MAX_DIMS),
        ("stride", I64 * ND_MAX_DIMS),
        ("owns_data", ctypes.c_bool),
    ]


TP = ctypes.POINTER(NdTensor)


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
    sig = {
        "nd_tensor_create": (ctypes.c_int, [ctypes.c_int, ctypes.POINTER(I64), ctypes.POINTER(TP)]),
        "nd_tensor_free": (None, [TP]),
        "nd_tape_create": (ctypes.c_int, [ctypes.c_size_t, ctypes.POINTER(VP)]),
        "nd_tape_free": (None, [VP]),
        "nd_tape_status": (ctypes.c_int, [VP]),
        "nd_tape_param": (VP, [VP, TP, TP]),
        "nd_var_value": (TP, [VP]),
        "nd_tape_backward_seed": (ctypes.c_int, [VP, VP, TP]),
        "nd_ad_conv2d": (VP, [VP, VP, VP, VP, I64, I64, I64, I64]),
        "nd_ad_conv_transpose2d": (VP, [VP, VP, VP, VP, I64, I64, I64, I64, I64, I64]),
        "nd_ad_avgpool2d": (VP, [VP, VP, I64, I64, I64, I64, I64, I64, ctypes.c_bool]),
        "nd_ad_adaptive_avgpool2d": (VP, [VP, VP, I64, I64]),
        "nd_last_error": (ctypes.c_char_p, []),
    }
    for name, (res, args) in sig.items():
        f = getattr(L, name)
        f.restype = res
        f.argtypes = args
    return L


class Leaves:
    """Parameter leaves (value + gradient tensors) made from numpy arrays."""

    def __init__(self, L, tape):
        self.L, self.tape, self.owned = L, tape, []

    def tensor(self, arr):
        shape = (I64 * arr.ndim)(*arr.shape)
        t = TP()
        assert self.L.nd_tensor_create(arr.ndim, shape, ctypes.byref(t)) == 0, self.L.nd_last_error()
        assert t
        self.owned.append(t)
        view(t)[...] = arr
        return t

    def param(self, arr):
        v, g = self.tensor(arr), self.tensor(np.zeros_like(arr))
        var = self.L.nd_tape_param(self.tape, v, g)
        assert var, self.L.nd_last_error()
        return var, g

    def free(self):
        for t in self.owned:
            self.L.nd_tensor_free(t)


def view(t):
    c = t.contents
    return np.ctypeslib.as_array(c.data, tuple(c.shape[: c.ndim]))


def run(L, inputs, build, torch_fn):
    """inputs: numpy arrays (None allowed); build(tape, vars) -> output var."""
    tape = VP()
    assert L.nd_tape_create(0, ctypes.byref(tape)) == 0, L.nd_last_error()
    leaves = Leaves(L, tape)
    try:
        made = [leaves.param(a) if a is not None else (None, None) for a in inputs]
        out = build(tape, [m[0] for m in made])
        assert out, L.nd_last_error()
        y = view(L.nd_var_value(out)).copy()
        ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) if a is not None else None for a in inputs]
        ty = torch_fn(*ts)
        assert y.shape == tuple(ty.shape)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
        seed = np.random.default_rng(1).uniform(-1, 1, y.shape).astype(np.float32)
        assert L.nd_tape_backward_seed(tape, out, leaves.tensor(seed)) == 0, L.nd_last_error()
        ty.backward(torch.from_numpy(seed.astype(np.float64)))
        for (_, g), t in zip(made, ts):
            if t is not None:
                np.testing.assert_allclose(view(g), t.grad.numpy(), rtol=1e-4, atol=1e-5)
    finally:
        leaves.free()
        L.nd_tape_free(tape)


def rand(*shape, seed=0):
    return np.random.default_rng(seed + len(shape) * 7 + sum(shape)).uniform(-1, 1, shape).astype(np.float32)


CONV = [  # N, C, H, W, K, R, S, stride, pad, bias
    (2, 3, 7, 6, 4, 3, 3, (1, 1), (1, 1), True),
    (2, 3, 7, 6, 2, 3, 3, (2, 2), (1, 1), False),
    (1, 4, 5, 5, 3, 1, 1, (2, 2), (0, 0), True),
    (1, 2, 9, 8, 2, 7, 7, (2, 2), (3, 3), True),
    (2, 2, 4, 7, 3, 1, 3, (1, 2), (0, 1), True),
    (1, 16, 6, 6, 16, 3, 3, (1, 1), (1, 1), True),  # Winograd path on the CPU backend
]


@pytest.mark.parametrize("case", CONV)
def test_conv2d(lib, case):
    N, C, H, W, K, R, S, st, pd, bias = case
    x, w, b = rand(N, C, H, W), rand(K, C, R, S, seed=1), rand(K, seed=2) if bias else None
    run(lib, [x, w, b], lambda tp, v: lib.nd_ad_conv2d(tp, v[0], v[1], v[2], st[0], st[1], pd[0], pd[1]),
        lambda x, w, b: F.conv2d(x, w, b, stride=st, padding=pd))


CONVT = [  # N, K, P, Q, C, R, S, stride, pad, out_pad, bias
    (2, 3, 3, 4, 2, 3, 3, (2, 2), (1, 1), (1, 1), True),
    (1, 2, 4, 3, 3, 3, 3, (1, 1), (0, 0), (0, 0), False),
    (1, 2, 3, 3, 3, 4, 3, (3, 2), (1, 0), (2, 1), True),
]


@pytest.mark.parametrize("case", CONVT)
def test_conv_transpose2d(lib, case):
    N, K, P, Q, C, R, S, st, pd, op, bias = case
    x, w, b = rand(N, K, P, Q), rand(K, C, R, S, seed=1), rand(C, seed=2) if bias else None
    run(lib, [x, w, b],
        lambda tp, v: lib.nd_ad_conv_transpose2d(tp, v[0], v[1], v[2], st[0], st[1], pd[0], pd[1], op[0], op[1]),
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=st, padding=pd, output_padding=op))


POOL = [  # H, W, kernel, stride, pad, count_include_pad
    (6, 4, (2, 2), (2, 2), (0, 0), True),
    (7, 6, (3, 3), (2, 2), (1, 1), True),
    (7, 6, (3, 3), (2, 2), (1, 1), False),
    (5, 5, (3, 2), (1, 1), (1, 0), False),
]


@pytest.mark.parametrize("case", POOL)
def test_avgpool2d(lib, case):
    H, W, k, st, pd, inc = case
    run(lib, [rand(2, 3, H, W)],
        lambda tp, v: lib.nd_ad_avgpool2d(tp, v[0], k[0], k[1], st[0], st[1], pd[0], pd[1], inc),
        lambda x: F.avg_pool2d(x, k, st, pd, count_include_pad=inc))


@pytest.mark.parametrize("case", [(7, 5, 3, 2), (6, 6, 3, 3), (5, 4, 1, 1), (3, 2, 5, 4)])
def test_adaptive_avgpool2d(lib, case):
    H, W, oh, ow = case
    run(lib, [rand(2, 3, H, W)], lambda tp, v: lib.nd_ad_adaptive_avgpool2d(tp, v[0], oh, ow),
        lambda x: F.adaptive_avg_pool2d(x, (oh, ow)))
