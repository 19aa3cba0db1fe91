"""Cross-checks of the dynamics solvers against independent Python code,
through ctypes on libneurodyn.so:

- nd_dopri_integrate against SciPy's RK45 (the same Dormand-Prince pair and
  the same Hairer-style controller: safety 0.9, factors 0.2..10, exponent
  -1/5), on the harmonic oscillator: both reach the exact solution within the
  tolerance, with step counts that agree;
- nd_fixed_point_solve against a NumPy transcription of Walker & Ni's
  Anderson update (float64, numpy.linalg.lstsq) on a linear contraction;
- nd_trajectory_write_npy read back with numpy.load.

Skipped when numpy/scipy or the shared library is missing, and in sanitizer
builds."""
import ctypes

import pytest

np = pytest.importorskip("numpy")
scipy_integrate = pytest.importorskip("scipy.integrate")

I64 = ctypes.c_int64
D = ctypes.c_double
FP = ctypes.POINTER(ctypes.c_float)
VP = ctypes.c_void_p
RHS = ctypes.CFUNCTYPE(ctypes.c_int, D, FP, FP, VP)
MAP = ctypes.CFUNCTYPE(ctypes.c_int, FP, FP, VP)
OBS = ctypes.CFUNCTYPE(ctypes.c_int, I64, D, FP, VP)


class System(ctypes.Structure):
    _fields_ = [("dim", I64), ("rhs", RHS), ("user", VP)]


class DopriOpts(ctypes.Structure):
    _fields_ = [(n, D) for n in ("rtol", "atol", "h0", "h_max", "h_min", "safety", "fac_min", "fac_max")] + [
        ("max_steps", I64), ("tol", D), ("observer", VP), ("observer_user", VP)]


class DopriResult(ctypes.Structure):
    _fields_ = [("steps", I64), ("rejected", I64), ("rhs_calls", I64), ("t", D), ("h", D), ("err", D),
                ("residual", D), ("stop", ctypes.c_int)]


class Map(ctypes.Structure):
    _fields_ = [("dim", I64), ("g", MAP), ("user", VP)]


class FpOpts(ctypes.Structure):
    _fields_ = [("m", ctypes.c_int), ("beta", D), ("tol", D), ("atol", D), ("max_iter", I64), ("reg", D),
                ("cond_max", D), ("restart_growth", D), ("rows", I64), ("observer", VP), ("observer_user", VP)]


class FpResult(ctypes.Structure):
    _fields_ = [("iterations", I64), ("residual", D), ("change", D), ("restarts", I64), ("stop", ctypes.c_int)]


class Trajectory(ctypes.Structure):
    _fields_ = [("states", FP), ("times", ctypes.POINTER(D)), ("steps", ctypes.POINTER(I64)), ("dim", I64),
                ("capacity", I64), ("every", I64), ("count", I64), ("dropped", I64), ("stop_when_full", ctypes.c_bool),
                ("indices", ctypes.POINTER(I64))]


@pytest.fixture(scope="module")
def lib(nd_cdll):
    L = nd_cdll
    sig = {
        "nd_dopri_defaults": (DopriOpts, []),
        "nd_dopri_create": (ctypes.c_int, [I64, ctypes.c_bool, ctypes.POINTER(VP)]),
        "nd_dopri_free": (None, [VP]),
        "nd_dopri_integrate": (ctypes.c_int, [VP, ctypes.POINTER(System), D, D, FP, ctypes.POINTER(DopriOpts),
                                              ctypes.POINTER(DopriResult)]),
        "nd_fixed_point_defaults": (FpOpts, []),
        "nd_fixed_point_create": (ctypes.c_int, [I64, ctypes.c_int, I64, ctypes.POINTER(VP)]),
        "nd_fixed_point_free": (None, [VP]),
        "nd_fixed_point_solve": (ctypes.c_int, [VP, ctypes.POINTER(Map), FP, ctypes.POINTER(FpOpts),
                                                ctypes.POINTER(FpResult)]),
        "nd_trajectory_init": (ctypes.c_int, [ctypes.POINTER(Trajectory), FP, ctypes.POINTER(D), I64, I64, I64]),
        "nd_trajectory_write_npy": (ctypes.c_int, [ctypes.POINTER(Trajectory), ctypes.c_char_p, ctypes.c_char_p,
                                                   ctypes.c_char_p]),
        "nd_last_error": (ctypes.c_char_p, []),
    }
    for name, (res, args) in sig.items():
        f = getattr(L, name)
        f.restype, f.argtypes = res, args
    return L


def ok(L, status):
    assert status == 0, L.nd_last_error().decode()


W = 2.0


@RHS
def osc_rhs(t, y, dy, user):
    dy[0] = y[1]
    dy[1] = -W * W * y[0]
    return 0


def dopri_run(L, rtol, atol, t1, y0, observer=None, user=None):
    dp = VP()
    ok(L, L.nd_dopri_create(2, True, ctypes.byref(dp)))
    sys = System(2, osc_rhs, None)
    y = (ctypes.c_float * 2)(*y0)
    o = L.nd_dopri_defaults()
    o.rtol, o.atol = rtol, atol
    if observer is not None:
        o.observer, o.observer_user = observer, user
    r = DopriResult()
    ok(L, L.nd_dopri_integrate(dp, ctypes.byref(sys), 0.0, t1, y, ctypes.byref(o), ctypes.byref(r)))
    L.nd_dopri_free(dp)
    return np.array(y[:], dtype=np.float64), r


@pytest.mark.parametrize("tol", [1e-4, 1e-5, 1e-6])
def test_dopri_matches_scipy_rk45(lib, tol):
    t1 = 10.0
    exact = np.array([np.cos(W * t1), -W * np.sin(W * t1)])
    y, r = dopri_run(lib, tol, tol, t1, [1.0, 0.0])
    sol = scipy_integrate.solve_ivp(lambda t, u: [u[1], -W * W * u[0]], (0.0, t1), [1.0, 0.0], method="RK45",
                                    rtol=tol, atol=tol)
    assert sol.success
    ours, theirs = np.abs(y - exact).max(), np.abs(sol.y[:, -1] - exact).max()
    steps_scipy = sol.t.size - 1
    print(f"tol {tol:g}: neurodyn {r.steps} steps, {r.rhs_calls} f-calls, error {ours:.2e}; "
          f"scipy RK45 {steps_scipy} steps, {sol.nfev} f-calls, error {theirs:.2e}")
    assert ours < 15 * tol and theirs < 15 * tol
    assert abs(r.steps - steps_scipy) <= max(2, 0.1 * steps_scipy)
    assert abs(r.rhs_calls - sol.nfev) <= max(12, 0.1 * sol.nfev)


def anderson_numpy(g, x, m, tol, maxit=2000):
    """Walker & Ni (2011) unconstrained Anderson update: gamma by numpy.linalg.lstsq in float64, the
    iterates rounded to float32 as the library's state is (at 1e-6 the float32 rounding of the state
    changes AA's path by a few iterations)."""
    dX, dF, xp, fp = [], [], None, None
    x = x.astype(np.float32)
    for k in range(maxit):
        f = (g(x).astype(np.float32) - x).astype(np.float32)
        if k > 0:
            dX.append(x - xp)
            dF.append(f - fp)
            dX, dF = dX[-m:], dF[-m:]
        xp, fp = x.copy(), f.copy()
        if m > 0 and dF:
            DF, DX = np.array(dF, dtype=np.float64).T, np.array(dX, dtype=np.float64).T
            gamma = np.linalg.lstsq(DF, f.astype(np.float64), rcond=None)[0]
            xn = (x + f - (DX + DF) @ gamma).astype(np.float32)
        else:
            xn = x + f
        change = np.linalg.norm(xn - x) / max(np.linalg.norm(x), 1e-300)
        x = xn
        if change <= tol:
            return k + 1, x
    return maxit, x


@pytest.mark.parametrize("m", [0, 3, 8])
def test_anderson_matches_numpy(lib, m):
    n = 40
    A = 0.49 * (np.eye(n, k=1) + np.eye(n, k=-1))
    b = np.sin(0.7 * np.arange(n) + 0.3)
    xs = np.linalg.solve(np.eye(n) - A, b)

    @MAP
    def g(x, gx, user):
        v = np.ctypeslib.as_array(x, (n,)).astype(np.float64)
        np.ctypeslib.as_array(gx, (n,))[:] = A @ v + b
        return 0

    fp = VP()
    ok(lib, lib.nd_fixed_point_create(n, 8, 1, ctypes.byref(fp)))
    o = lib.nd_fixed_point_defaults()
    o.m, o.tol = m, 1e-6
    x = (ctypes.c_float * n)()
    r = FpResult()
    mp = Map(n, g, None)
    ok(lib, lib.nd_fixed_point_solve(fp, ctypes.byref(mp), x, ctypes.byref(o), ctypes.byref(r)))
    lib.nd_fixed_point_free(fp)
    it_np, x_np = anderson_numpy(lambda v: A @ v.astype(np.float64) + b, np.zeros(n), m, 1e-6)
    ours = np.array(x[:])
    print(f"m = {m}: neurodyn {r.iterations} iterations (error {np.abs(ours - xs).max():.2e}), "
          f"numpy {it_np} (error {np.abs(x_np - xs).max():.2e})")
    assert r.stop == 0  # tolerance
    assert np.abs(ours - xs).max() <= 2 * np.abs(x_np - xs).max() + 1e-5  # as accurate as the transcription
    assert abs(r.iterations - it_np) <= 0.15 * it_np + 2


def test_trajectory_npy_with_numpy(lib, tmp_path):
    cap = 64
    frames = (ctypes.c_float * (cap * 2))()
    times = (D * cap)()
    tr = Trajectory()
    ok(lib, lib.nd_trajectory_init(ctypes.byref(tr), frames, times, 2, cap, 2))
    obs = ctypes.cast(lib.nd_trajectory_observe, VP)
    y, r = dopri_run(lib, 1e-6, 1e-6, 5.0, [1.0, 0.0], observer=obs, user=ctypes.cast(ctypes.byref(tr), VP))
    assert tr.count == r.steps // 2 + 1 and tr.dropped == 0
    path, tpath = tmp_path / "traj.npy", tmp_path / "t.npy"
    ok(lib, lib.nd_trajectory_write_npy(ctypes.byref(tr), str(path).encode(), str(tpath).encode(), None))
    a, t = np.load(path), np.load(tpath)
    assert a.dtype == np.float32 and a.shape == (tr.count, 2)
    assert t.dtype == np.float64 and t.shape == (tr.count,)
    assert t[0] == 0.0 and np.all(np.diff(t) > 0)
    np.testing.assert_array_equal(a, np.ctypeslib.as_array(frames)[: tr.count * 2].reshape(-1, 2))
    np.testing.assert_allclose(a[:, 0], np.cos(W * t), atol=2e-5)
    np.testing.assert_allclose(a[:, 1], -W * np.sin(W * t), atol=4e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.npy", "traj.npy"]
