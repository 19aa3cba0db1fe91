"""Cross-check of the differentiable unroll (nd_ad_unroll, BPTT through
explicit Euler and RK4) against PyTorch autograd in float64: a batched
continuous-time RNN dy/dt = -y + tanh(y W^T + b) unrolled for 30 steps, the
right-hand side written as neurodyn tape ops from a ctypes callback.  The
final state and the vector-Jacobian product for a random seed with respect to
y0, W and b must agree.  Skipped when torch or the shared library is missing,
and in sanitizer builds."""
import ctypes
import os

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")

ND_MAX_DIMS = 5
I64 = ctypes.c_int64
VP = ctypes.c_void_p
RHS = ctypes.CFUNCTYPE(VP, VP, ctypes.c_double, VP, VP)


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
        "nd_tape_param": (VP, [VP, TP, TP]),
        "nd_var_value": (TP, [VP]),
        "nd_tape_backward_seed": (ctypes.c_int, [VP, VP, TP]),
        "nd_ad_linear": (VP, [VP, VP, VP, VP]),
        "nd_ad_tanh": (VP, [VP, VP]),
        "nd_ad_sub": (VP, [VP, VP, VP]),
        "nd_ad_unroll": (VP, [VP, ctypes.c_int, RHS, VP, VP, ctypes.c_double, ctypes.c_double, I64, VP]),
        "nd_last_error": (ctypes.c_char_p, []),
    }
    for name, (res, args) in sig.items():
        f = getattr(L, name)
        f.restype = res
        f.argtypes = args
    return L


def view(t):
    c = t.contents
    return np.ctypeslib.as_array(c.data, tuple(c.shape[: c.ndim]))


@pytest.mark.parametrize("kind", [0, 1])  # ND_INTEGRATOR_EULER, ND_INTEGRATOR_RK4
def test_unroll_rnn_matches_torch(lib, kind):
    L = lib
    rng = np.random.default_rng(3 + kind)
    B, N, T, dt, t0 = 4, 5, 30, 0.1, 0.0
    arrays = {
        "y0": rng.uniform(-1, 1, (B, N)).astype(np.float32),
        "W": (rng.uniform(-1, 1, (N, N)) * 1.2).astype(np.float32),
        "b": rng.uniform(-0.5, 0.5, (N,)).astype(np.float32),
    }
    tape = VP()
    assert L.nd_tape_create(0, ctypes.byref(tape)) == 0, L.nd_last_error()
    owned = []

    def tensor(arr):
        shape = (I64 * arr.ndim)(*arr.shape)
        t = TP()
        assert L.nd_tensor_create(arr.ndim, shape, ctypes.byref(t)) == 0, L.nd_last_error()
        owned.append(t)
        view(t)[...] = arr
        return t

    try:
        var, grad = {}, {}
        for k, a in arrays.items():
            grad[k] = tensor(np.zeros_like(a))
            var[k] = L.nd_tape_param(tape, tensor(a), grad[k])
            assert var[k], L.nd_last_error()

        @RHS
        def rhs(tp, t, y, user):
            return L.nd_ad_sub(tp, L.nd_ad_tanh(tp, L.nd_ad_linear(tp, y, var["W"], var["b"])), y)

        yT = L.nd_ad_unroll(tape, kind, rhs, None, var["y0"], t0, dt, T, None)
        assert yT, L.nd_last_error()
        got = view(L.nd_var_value(yT)).copy()

        ts = {k: torch.tensor(a, dtype=torch.float64, requires_grad=True) for k, a in arrays.items()}

        def f(y):
            return torch.tanh(y @ ts["W"].T + ts["b"]) - y

        y = ts["y0"]
        for _ in range(T):
            if kind == 0:
                y = y + dt * f(y)
            else:
                k1 = f(y)
                k2 = f(y + dt / 2 * k1)
                k3 = f(y + dt / 2 * k2)
                k4 = f(y + dt * k3)
                y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        np.testing.assert_allclose(got, y.detach().numpy(), rtol=1e-4, atol=1e-5)
        # the dynamics moved the state: the test compares something non-trivial
        assert np.abs(got - arrays["y0"]).max() > 0.1

        seed = rng.uniform(-1, 1, got.shape).astype(np.float32)
        assert L.nd_tape_backward_seed(tape, yT, tensor(seed)) == 0, L.nd_last_error()
        y.backward(torch.from_numpy(seed.astype(np.float64)))
        for k in arrays:
            np.testing.assert_allclose(view(grad[k]), ts[k].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
    finally:
        for t in owned:
            L.nd_tensor_free(t)
        L.nd_tape_free(tape)
