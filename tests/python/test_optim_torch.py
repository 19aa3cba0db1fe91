"""Cross-check of neurodyn's optimizers against torch.optim (PyTorch's own
implementation of the same published rules), through ctypes on
libneurodyn.so: 25 steps with random gradients for each configuration, both
in float32, compared element by element.  Skipped when torch or the shared
library is missing."""
import ctypes
import os

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")

ND_MAX_DIMS = 5


class NdTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.POINTER(ctypes.c_float)),
        ("ndim", ctypes.c_int),
        ("shape", ctypes.c_int64 * ND_MAX_DIMS),
        ("stride", ctypes.c_int64 * ND_MAX_DIMS),
        ("owns_data", ctypes.c_bool),
    ]


class NdOptimConfig(ctypes.Structure):  # include/neurodyn/optim.h
    _fields_ = [
        ("kind", ctypes.c_int),
        ("lr", ctypes.c_float),
        ("weight_decay", ctypes.c_float),
        ("momentum", ctypes.c_float),
        ("dampening", ctypes.c_float),
        ("nesterov", ctypes.c_bool),
        ("beta1", ctypes.c_float),
        ("beta2", ctypes.c_float),
        ("eps", ctypes.c_float),
        ("alpha", ctypes.c_float),
        ("centered", ctypes.c_bool),
    ]


SGD, ADAM, ADAMW, RMSPROP = 0, 1, 2, 3


def load_lib():
    build = os.environ.get("ND_BUILD_DIR", "")
    path = os.path.join(build, "libneurodyn.so")
    if not os.path.exists(path):
        pytest.skip("libneurodyn.so not found in ND_BUILD_DIR")
    cache = os.path.join(build, "CMakeCache.txt")
    if os.path.exists(cache) and "ND_SANITIZE:BOOL=ON" in open(cache).read():
        pytest.skip("sanitizer build: libneurodyn.so cannot be loaded into an uninstrumented python")
    lib = ctypes.CDLL(path)
    lib.nd_tensor_create.restype = ctypes.c_int
    lib.nd_tensor_create.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_int64),
                                     ctypes.POINTER(ctypes.POINTER(NdTensor))]
    lib.nd_tensor_free.argtypes = [ctypes.POINTER(NdTensor)]
    lib.nd_optim_defaults.restype = NdOptimConfig
    lib.nd_optim_defaults.argtypes = [ctypes.c_int]
    lib.nd_optim_create.restype = ctypes.c_int
    lib.nd_optim_create.argtypes = [
        ctypes.POINTER(NdOptimConfig),
        ctypes.c_int,
        ctypes.POINTER(ctypes.POINTER(NdTensor)),
        ctypes.POINTER(ctypes.POINTER(NdTensor)),
        ctypes.POINTER(ctypes.c_void_p),
    ]
    lib.nd_optim_step.restype = ctypes.c_int
    lib.nd_optim_step.argtypes = [ctypes.c_void_p]
    lib.nd_optim_free.argtypes = [ctypes.c_void_p]
    lib.nd_last_error.restype = ctypes.c_char_p
    return lib


CASES = [
    ("sgd", dict(kind=SGD, lr=0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    ("sgd momentum dampening wd", dict(kind=SGD, lr=0.05, momentum=0.8, dampening=0.2, weight_decay=0.01),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.2, weight_decay=0.01)),
    ("sgd nesterov", dict(kind=SGD, lr=0.05, momentum=0.9, nesterov=True),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    ("adam", dict(kind=ADAM, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    ("adam l2", dict(kind=ADAM, lr=0.01, weight_decay=0.05, beta1=0.8, beta2=0.95, eps=1e-6),
     lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.05, betas=(0.8, 0.95), eps=1e-6)),
    ("adamw", dict(kind=ADAMW, lr=0.01, weight_decay=0.1),
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
    ("rmsprop", dict(kind=RMSPROP, lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    ("rmsprop centered momentum wd", dict(kind=RMSPROP, lr=0.01, alpha=0.9, momentum=0.5, centered=True,
                                          weight_decay=0.01),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
]


@pytest.mark.parametrize("name,fields,make_torch", CASES, ids=[c[0] for c in CASES])
def test_optimizer_matches_torch(name, fields, make_torch):
    lib = load_lib()
    n = 37
    rng = np.random.default_rng(5)
    p0 = rng.uniform(-1, 1, n).astype(np.float32)
    grads = rng.normal(0, 1, (25, n)).astype(np.float32)

    cfg = lib.nd_optim_defaults(fields["kind"])
    for k, v in fields.items():
        setattr(cfg, k, v)
    shape = (ctypes.c_int64 * 1)(n)
    p, g = ctypes.POINTER(NdTensor)(), ctypes.POINTER(NdTensor)()
    assert lib.nd_tensor_create(1, shape, ctypes.byref(p)) == 0, lib.nd_last_error()
    assert lib.nd_tensor_create(1, shape, ctypes.byref(g)) == 0, lib.nd_last_error()
    pa = np.ctypeslib.as_array(p.contents.data, (n,))
    ga = np.ctypeslib.as_array(g.contents.data, (n,))
    pa[:] = p0
    opt = ctypes.c_void_p()
    pp = (ctypes.POINTER(NdTensor) * 1)(p)
    gp = (ctypes.POINTER(NdTensor) * 1)(g)
    assert lib.nd_optim_create(ctypes.byref(cfg), 1, pp, gp, ctypes.byref(opt)) == 0, lib.nd_last_error()

    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = make_torch([tp])
    try:
        for t in range(grads.shape[0]):
            ga[:] = grads[t]
            assert lib.nd_optim_step(opt) == 0, lib.nd_last_error()
            tp.grad = torch.from_numpy(grads[t].copy())
            topt.step()
            want = tp.detach().numpy()
            np.testing.assert_allclose(pa, want, rtol=2e-5, atol=2e-6, err_msg=f"{name}, step {t + 1}")
    finally:
        lib.nd_optim_free(opt)
        lib.nd_tensor_free(p)
        lib.nd_tensor_free(g)
