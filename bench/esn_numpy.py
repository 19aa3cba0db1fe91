#!/usr/bin/python3
"""NumPy/SciPy peer of `neurodyn train esn` for the ESN training benchmark,
written from the equations of Jaeger (2001), Jaeger et al. (2007, Eq. 2) and
Lukosevicius (2012, Eq. 9), independently of neurodyn: a 1%-sparse reservoir
(scipy.sparse CSR for the state loop, dense for numpy.linalg.eigvals) scaled to
spectral radius 0.8, tanh units, the readout by the normal equations
(Phi^T Phi by scipy.linalg.blas.dsyrk and the Cholesky solve
scipy.linalg.cho_factor/cho_solve, LAPACK dpotrf/dpotrs, as neurodyn's cholesky
solver's dsyrk + dposv; --gram gemm: phi.T @ phi and numpy.linalg.solve, the
peer's earlier form) or by least squares on the
ridge-augmented system (numpy.linalg.lstsq, as its qr solver).  The series is
Mackey-Glass tau = 17 by delay RK4 with h = 1 (reservoirpy's scheme), fed as
tanh(x - 1).  Times the same part neurodyn's fit_s times: reservoir creation
(eigenvalues included), the teacher-forced states and the solve; prints one JSON
line, plus the one-step NRMSE on 500 held-out steps as a check.

usage: esn_numpy.py [--units 1000] [--train 3000] [--solver cholesky|qr] [--rho eig|arpack] [--gram syrk|gemm] [--threads 2]"""
import argparse, json, os, sys, time


def mackey_glass(n, tau=17, beta=0.2, gamma=0.1, p=10, x0=1.2, h=1.0):
    import collections
    hist = collections.deque([x0] * int(tau // h))
    x, out = x0, []
    f = lambda x, d: beta * d / (1 + d ** p) - gamma * x
    for _ in range(n):
        out.append(x)
        d = hist.popleft()
        hist.append(x)
        k1 = h * f(x, d); k2 = h * f(x + 0.5 * k1, d); k3 = h * f(x + 0.5 * k2, d); k4 = h * f(x + k3, d)
        x = x + k1 / 6 + k2 / 3 + k3 / 3 + k4 / 6
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--train", type=int, default=3000)
    ap.add_argument("--washout", type=int, default=100)
    ap.add_argument("--discard", type=int, default=1000)
    ap.add_argument("--ridge", type=float, default=1e-8)
    ap.add_argument("--solver", choices=["cholesky", "qr"], default="cholesky")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rho", choices=["eig", "arpack"], default="eig",
                    help="spectral radius by numpy.linalg.eigvals (dense) or scipy.sparse.linalg.eigs (ARPACK, as reservoirpy)")
    ap.add_argument("--gram", choices=["syrk", "gemm"], default="syrk",
                    help="cholesky solver: Phi^T Phi by dsyrk + Cholesky (default) or by a GEMM + numpy.linalg.solve (LU)")
    a = ap.parse_args()
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[v] = str(a.threads)
    import numpy as np
    import scipy.sparse as sp
    n_all = a.discard + a.train + 501
    x = np.array(mackey_glass(n_all))
    z = np.tanh(x - 1)
    u, y = z[a.discard:a.discard + a.train], z[a.discard + 1:a.discard + a.train + 1]
    N = a.units
    t0 = time.perf_counter()
    rng = np.random.default_rng(1)
    mask = rng.random((N, N)) < 0.01
    w = np.where(mask, rng.uniform(-1, 1, (N, N)), 0.0)
    ws = sp.csr_matrix(w)
    if a.rho == "eig":
        rho = np.max(np.abs(np.linalg.eigvals(w)))
    else:
        import scipy.sparse.linalg as sla
        rho = np.max(np.abs(sla.eigs(ws, k=1, which="LM", return_eigenvectors=False)))
    ws = ws * (0.8 / rho)
    w_in = rng.uniform(-1, 1, (N, 2)) * np.array([0.2, 1.0])  # bias, input
    xs = np.zeros(N)
    rows = a.train - a.washout
    phi = np.empty((rows, 2 + N))
    for t in range(a.train):
        xs = np.tanh(ws @ xs + w_in[:, 0] + w_in[:, 1] * u[t])
        if t >= a.washout:
            phi[t - a.washout, 0] = 1.0
            phi[t - a.washout, 1] = u[t]
            phi[t - a.washout, 2:] = xs
    t_states = time.perf_counter()
    yy = y[a.washout:]
    if a.solver == "cholesky" and a.gram == "syrk":
        import scipy.linalg as sl
        from scipy.linalg.blas import dsyrk
        g = dsyrk(1.0, phi.T, trans=0, lower=0)  # upper triangle of Phi^T Phi (phi.T is Fortran-ordered: no copy)
        g[np.diag_indices_from(g)] += a.ridge
        w_out = sl.cho_solve(sl.cho_factor(g, lower=False, overwrite_a=True, check_finite=False), phi.T @ yy,
                             check_finite=False)
    elif a.solver == "cholesky":
        w_out = np.linalg.solve(phi.T @ phi + a.ridge * np.eye(2 + N), phi.T @ yy)
    else:
        aug = np.vstack([phi, np.sqrt(a.ridge) * np.eye(2 + N)])
        w_out = np.linalg.lstsq(aug, np.concatenate([yy, np.zeros(2 + N)]), rcond=None)[0]
    t1 = time.perf_counter()
    # check: one-step NRMSE on the next 500 steps
    pred, tgt = [], []
    for t in range(a.train, a.train + 500):
        ut = z[a.discard + t]
        xs = np.tanh(ws @ xs + w_in[:, 0] + w_in[:, 1] * ut)
        pred.append(np.arctanh(w_out[0] + w_out[1] * ut + w_out[2:] @ xs) + 1)
        tgt.append(x[a.discard + t + 1])
    pred, tgt = np.array(pred), np.array(tgt)
    nrmse = float(np.sqrt(np.mean((pred - tgt) ** 2) / np.var(x[a.discard:])))
    print(json.dumps({"impl": "numpy", "units": N, "train": a.train, "solver": a.solver, "gram": a.gram, "rho": a.rho, "threads": a.threads,
                      "fit_s": t1 - t0, "states_s": t_states - t0, "solve_s": t1 - t_states,
                      "one_step_nrmse_check": nrmse}))


if __name__ == "__main__":
    main()
