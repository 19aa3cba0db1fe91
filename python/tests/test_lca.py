"""neurodyn.lca from Python: parity with `neurodyn run lca` on the same
inputs, the soft-threshold fixed point against a NumPy Lasso solver (ISTA,
Daubechies et al. 2004) written here, errors, views, Ctrl-C and threads."""
import gc
import json
import os
import signal
import subprocess
import threading

import numpy as np
import pytest

import neurodyn


def problem(m=12, n=24, B=4, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(m, n)).astype(np.float32)
    D /= np.linalg.norm(D, axis=0)
    codes = np.where(rng.random((B, n)) < 0.15, rng.normal(size=(B, n)), 0)
    S = (codes @ D.T + 0.01 * rng.normal(size=(B, m))).astype(np.float32)
    return D, S


def ista(D, s, lam, iters=20000):
    """min_a 1/2 ||s - D a||^2 + lam ||a||_1 by ISTA, float64."""
    D = D.astype(np.float64)
    L = np.linalg.norm(D, 2) ** 2
    a = np.zeros(D.shape[1])
    for _ in range(iters):
        z = a + D.T @ (s - D @ a) / L
        a = np.sign(z) * np.maximum(np.abs(z) - lam / L, 0)
    return a


@pytest.mark.parametrize("flags,kw", [
    (["--update", "adam"], dict(update="adam")),
    ([], dict(update="nesterov", schedule="fista", restart=True)),  # the CLI's defaults
    (["--update", "euler", "--threshold", "nonneg", "--max-iter", "300"],
     dict(update="euler", threshold="nonneg", max_iter=300)),
])
def test_parity_with_the_cli(cli, tmp_path, flags, kw):
    D, S = problem()
    np.save(tmp_path / "D.npy", D)  # NumPy's own writer
    np.save(tmp_path / "S.npy", S)
    out = subprocess.run([cli, "run", "lca", "--dict", str(tmp_path / "D.npy"), "--input", str(tmp_path / "S.npy"),
                          "--lambda", "0.1", "--out", str(tmp_path / "A.npy")] + flags,
                         check=True, capture_output=True, text=True).stdout
    stats_cli = json.loads(out.strip().splitlines()[-1])
    A, stats = neurodyn.lca.solve(D, S, 0.1, **kw)
    assert np.array_equal(A, np.load(tmp_path / "A.npy"))
    for key in ("iterations", "stopped", "batch", "atoms", "update", "form"):
        assert stats[key] == stats_cli[key], key
    for key in ("residual", "objective", "eta"):
        assert stats[key] == pytest.approx(stats_cli[key], rel=1e-8), key  # the CLI prints 9 digits


def test_soft_threshold_codes_solve_the_lasso():
    D, S = problem(B=3)
    A, stats = neurodyn.lca.solve(D, S, 0.1, tol=1e-6, max_iter=20000)
    assert stats["stopped"] == "tolerance"
    for s, a in zip(S, A):
        ref = ista(D, s.astype(np.float64), 0.1)
        assert np.abs(a - ref).max() < 1e-3
    solver = neurodyn.lca.LCA(D, 0.1, max_batch=3)
    per, total = solver.energy(S, A)
    direct = 0.5 * ((S - A @ D.T) ** 2).sum(1) + 0.1 * np.abs(A).sum(1)
    np.testing.assert_allclose(per, direct, rtol=1e-5)
    assert total == pytest.approx(per.sum())


def test_one_signal_and_a_reused_solver():
    D, S = problem()
    solver = neurodyn.lca.LCA(D, 0.1, max_batch=4, update="adam")
    A, _ = solver.solve(S)
    a0, st = solver.solve(S[0])
    assert a0.shape == (24,) and st["batch"] == 1
    np.testing.assert_array_equal(a0, neurodyn.lca.LCA(D, 0.1, update="adam").codes(S[:1])[0])
    np.testing.assert_array_equal(solver.codes(S), A)


def test_dictionary_view_and_update():
    D, S = problem()
    solver = neurodyn.lca.LCA(D, 0.1, max_batch=4, normalize=True)
    view = solver.dictionary
    assert not view.flags.writeable
    np.testing.assert_allclose(np.linalg.norm(view, axis=0), 1, rtol=1e-5)
    solver.dictionary = 2 * D  # renormalised to the same columns
    np.testing.assert_allclose(view, D / np.linalg.norm(D, axis=0), rtol=1e-5)
    snap = view.copy()
    del solver
    gc.collect()
    assert np.array_equal(view, snap)


def test_errors():
    D, S = problem()
    with pytest.raises(ValueError, match="lambda"):
        neurodyn.lca.solve(D, S, -1.0)
    with pytest.raises(ValueError, match=r"S: .*expected \[12\] or \[B, 12\]"):
        neurodyn.lca.solve(D, S[:, :5], 0.1)
    with pytest.raises(ValueError, match="update"):
        neurodyn.lca.solve(D, S, 0.1, update="sgd")
    with pytest.raises(TypeError, match="unknown setting 'lamda'"):
        neurodyn.lca.LCA(D, lamda=0.1)
    with pytest.raises(ValueError):
        neurodyn.lca.LCA(D, 0.1, max_batch=2).solve(S)  # 4 signals, room for 2
    bad = D.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        neurodyn.lca.solve(bad, S, 0.1)


def test_ctrl_c_stops_a_long_solve():
    D, S = problem(m=64, n=256, B=64)
    solver = neurodyn.lca.LCA(D, 0.0, max_batch=64, update="euler", eta=1e-6, tol=1e-300, max_iter=10**9)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        solver.solve(S)
    timer.join()
    quick = neurodyn.lca.LCA(D, 0.1, max_batch=64)
    assert quick.solve(S)[1]["stopped"] == "tolerance"


def test_two_solvers_in_two_threads():
    problems = [problem(m=32, n=64, B=16, seed=s) for s in (1, 2)]
    serial = [neurodyn.lca.solve(D, S, 0.05, update="adam")[0] for D, S in problems]
    out = [None, None]
    def run(i):
        out[i] = neurodyn.lca.solve(*problems[i], 0.05, update="adam")[0]
    ts = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    for a, b in zip(out, serial):
        assert np.array_equal(a, b)
