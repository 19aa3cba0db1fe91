"""`neurodyn run lca` against an independent FISTA (Beck & Teboulle, SIAM J.
Imaging Sci. 2(1):183, 2009, Sec. 4) written here in NumPy, float64.

Problem (issue 10): a 256 x 1024 Gaussian dictionary with unit-norm columns,
signals s = Phi x with 20-sparse x, lambda = 0.1 max|Phi^T s| per signal set
(one lambda for the batch).  The Lasso minimiser is the fixed point of
soft-threshold LCA (Rozell et al. 2008), so at convergence:
  relative objective error |E_lca - E*| / E* <= 1e-4 per signal,
  the same support as FISTA's (entries of |a*| > 1e-4 max|a*|),
  and each signal solved alone gives its row of the batch result.
"""
import json
import os
import subprocess

import numpy as np
import pytest

CLI = os.environ.get("ND_CLI")


def fista(D, s, lam, iters):
    L = np.linalg.norm(D, 2) ** 2
    x = np.zeros(D.shape[1])
    y, t = x.copy(), 1.0
    for _ in range(iters):
        g = y - D.T @ (D @ y - s) / L
        xn = np.sign(g) * np.maximum(np.abs(g) - lam / L, 0)
        tn = (1 + np.sqrt(1 + 4 * t * t)) / 2
        y = xn + (t - 1) / tn * (xn - x)
        x, t = xn, tn
    return x


def objective(D, s, a, lam):
    return 0.5 * np.sum((s - D @ a) ** 2) + lam * np.sum(np.abs(a))


def run_lca(tmp, D, S, lam, extra=()):
    np.save(tmp / "D.npy", D.astype(np.float32))
    np.save(tmp / "S.npy", S.astype(np.float32))
    out = tmp / "A.npy"
    p = subprocess.run([CLI, "run", "lca", "--dict", str(tmp / "D.npy"), "--input", str(tmp / "S.npy"),
                        "--lambda", repr(lam), "--tol", "1e-6", "--max-iter", "5000", "--out", str(out), *extra],
                       capture_output=True, text=True, check=True)
    return np.load(out).astype(np.float64), json.loads(p.stdout)


@pytest.mark.skipif(not CLI, reason="ND_CLI not set (the program was not built)")
def test_lca_matches_fista(tmp_path):
    rng = np.random.default_rng(1)
    m, n, k, B = 256, 1024, 20, 4
    D = rng.standard_normal((m, n))
    D /= np.linalg.norm(D, axis=0)
    D = D.astype(np.float32).astype(np.float64)  # the dictionary the C side sees
    X = np.zeros((B, n))
    for b in range(B):
        X[b, rng.choice(n, k, replace=False)] = rng.standard_normal(k)
    S = (X @ D.T).astype(np.float32).astype(np.float64)
    lam = float(0.1 * np.abs(S @ D).max())
    A, info = run_lca(tmp_path, D, S, lam)
    assert info["stopped"] == "tolerance", info
    for b in range(B):
        ref = fista(D, S[b], lam, 3000)
        e_ref, e = objective(D, S[b], ref, lam), objective(D, S[b], A[b], lam)
        assert abs(e - e_ref) / e_ref <= 1e-4, (b, e, e_ref)
        supp_ref = np.abs(ref) > 1e-4 * np.abs(ref).max()
        assert np.array_equal(supp_ref, A[b] != 0), (b, np.flatnonzero(supp_ref), np.flatnonzero(A[b]))
    # batch == per signal
    for b in (0, B - 1):
        a1, _ = run_lca(tmp_path, D, S[b], lam)
        np.testing.assert_allclose(a1, A[b], rtol=1e-4, atol=1e-6)
    # the upstream variant is a different fixed point (floored at lambda), not the Lasso one
    Au, _ = run_lca(tmp_path, D, S[:1], lam, ["--variant", "upstream"])
    assert np.all(Au >= np.float32(lam))
