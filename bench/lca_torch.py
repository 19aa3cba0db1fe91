"""Peers and problems for the LCA benchmarks (bench/lca.sh, docs/RESULTS.md "LCA").

    python3 lca_torch.py problem DIR      D.npy (256x1024 Gaussian, unit-norm columns), signal sets
                                          (20-sparse), per-signal lambdas and f* (FISTA, float64, 20000
                                          iterations), FISTA/ISTA iterations to 1e-2/1e-4/1e-6 (JSON lines)
    python3 lca_torch.py fista-time DIR K     torch FISTA, batch 128, K iterations (2 threads)
    python3 lca_torch.py numpy-fista DIR K    NumPy FISTA on one signal, K iterations (float64)
    python3 lca_torch.py lca-time             torch plain LCA 4096 atoms x 256 dims x batch 128 x 300 steps,
                                              Gram form and two-GEMM form
FISTA: Beck & Teboulle, SIAM J. Imaging Sci. 2(1):183-202, 2009, Sec. 4 (step 1/L, L = ||D||_2^2).
ISTA: the same without the momentum.
"""
import json
import os
import sys
import time

import numpy as np

M, N, K = 256, 1024, 20


def signals(D, count, seed):
    rng = np.random.default_rng(seed)
    X = np.zeros((count, D.shape[1]))
    for b in range(count):
        X[b, rng.choice(D.shape[1], K, replace=False)] = rng.standard_normal(K)
    return (X @ D.T).astype(np.float32)


def objective(D, S, A, lam):
    lam = np.ravel(lam)
    return 0.5 * np.sum((S - A @ D.T) ** 2, axis=1) + lam * np.sum(np.abs(A), axis=1)


def fista(D, S, lam, iters, momentum=True, fstar=None):
    """Rows of S at once, lam per row; with fstar, the first iteration of each row within 1e-2/1e-4/1e-6."""
    L = np.linalg.norm(D, 2) ** 2
    lam = np.asarray(lam, dtype=np.float64).reshape(-1, 1)
    x = np.zeros((S.shape[0], D.shape[1]))
    y, t = x.copy(), 1.0
    hits = -np.ones((S.shape[0], 3), dtype=np.int64)
    for it in range(1, iters + 1):
        g = y - ((y @ D.T) - S) @ D / L
        xn = np.sign(g) * np.maximum(np.abs(g) - lam / L, 0)
        if momentum:
            tn = (1 + np.sqrt(1 + 4 * t * t)) / 2
            y = xn + (t - 1) / tn * (xn - x)
            t = tn
        else:
            y = xn
        x = xn
        if fstar is not None:
            rel = (objective(D, S, x, lam) - fstar) / fstar
            for k, e in enumerate((1e-2, 1e-4, 1e-6)):
                hits[:, k] = np.where((hits[:, k] < 0) & (rel <= e), it, hits[:, k])
            if (hits[:, 2] >= 0).all():
                break
    return x, hits


def problem(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    D = rng.standard_normal((M, N))
    D /= np.linalg.norm(D, axis=0)
    D32 = D.astype(np.float32)
    np.save(f"{out}/D.npy", D32)
    D = D32.astype(np.float64)
    sets = {"val": signals(D, 4, 1), "test": signals(D, 4, 2), "batch": signals(D, 128, 3)}
    for name, S in sets.items():
        np.save(f"{out}/S_{name}.npy", S)
        S64 = S.astype(np.float64)
        drive = np.abs(S64 @ D).max(axis=1)
        fracs = (0.1, 0.01) if name != "batch" else (0.1,)
        for frac in fracs:
            lam = frac * drive if name != "batch" else np.full(len(S), frac * np.median(drive))
            x, _ = fista(D, S64, lam, 20000)
            fstar = objective(D, S64, x, lam)
            tag = f"{name}_{frac:g}"
            np.save(f"{out}/lam_{tag}.npy", lam.astype(np.float32))
            np.save(f"{out}/fstar_{tag}.npy", fstar.astype(np.float32))
            np.save(f"{out}/fstar64_{tag}.npy", fstar)
            for method, mom in (("fista", True), ("ista", False)):
                _, hits = fista(D, S64, lam, 20000, mom, fstar)
                for b, h in enumerate(hits):
                    print(json.dumps({"set": name, "frac": frac, "signal": b, "update": method,
                                      "it_1e-2": int(h[0]), "it_1e-4": int(h[1]), "it_1e-6": int(h[2])}))
            sys.stdout.flush()


def min_time(fn, reps=3):
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def fista_time(d, iters):
    import torch
    torch.set_num_threads(2)
    D = torch.from_numpy(np.load(f"{d}/D.npy"))
    S = torch.from_numpy(np.load(f"{d}/S_batch.npy"))
    lam = float(np.load(f"{d}/lam_batch_0.1.npy")[0])
    L = float(torch.linalg.matrix_norm(D.double(), 2) ** 2)

    def run():
        with torch.no_grad():
            b = S @ D  # D^T s for every row
            G = D.T @ D
            x = torch.zeros(S.shape[0], D.shape[1])
            y, t = x.clone(), 1.0
            for _ in range(iters):
                g = y - (y @ G - b) / L
                xn = torch.sign(g) * torch.clamp(g.abs() - lam / L, min=0)
                tn = (1 + (1 + 4 * t * t) ** 0.5) / 2
                y = xn + (t - 1) / tn * (xn - x)
                x, t = xn, tn
            return x

    def run2():  # two-GEMM gradient D^T (D y - s)
        with torch.no_grad():
            x = torch.zeros(S.shape[0], D.shape[1])
            y, t = x.clone(), 1.0
            for _ in range(iters):
                g = y - ((y @ D.T) - S) @ D / L
                xn = torch.sign(g) * torch.clamp(g.abs() - lam / L, min=0)
                tn = (1 + (1 + 4 * t * t) ** 0.5) / 2
                y = xn + (t - 1) / tn * (xn - x)
                x, t = xn, tn
            return x

    tg, t2 = min_time(run), min_time(run2)
    print(json.dumps({"bench": "torch_fista", "batch": S.shape[0], "iterations": iters, "gram_seconds": tg,
                      "two_gemm_seconds": t2, "seconds": min(tg, t2),
                      "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default")}))


def numpy_fista(d, iters):
    D = np.load(f"{d}/D.npy").astype(np.float64)
    s = np.load(f"{d}/S_test.npy")[0].astype(np.float64)
    lam = float(np.load(f"{d}/lam_test_0.1.npy")[0])
    L = np.linalg.norm(D, 2) ** 2  # computed once, outside the timing, as the C side's power iteration is inside

    def run():
        x = np.zeros(D.shape[1])
        y, t = x.copy(), 1.0
        for _ in range(iters):
            g = y - D.T @ (D @ y - s) / L
            xn = np.sign(g) * np.maximum(np.abs(g) - lam / L, 0)
            tn = (1 + np.sqrt(1 + 4 * t * t)) / 2
            y = xn + (t - 1) / tn * (xn - x)
            x, t = xn, tn
        return x

    print(json.dumps({"bench": "numpy_fista_b1", "iterations": iters, "seconds": min_time(run, 5)}))


def lca_time():
    import torch
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(0)
    D = torch.randn(256, 4096, generator=g)
    D /= D.norm(dim=0)
    S = torch.randn(128, 256, generator=g)
    lam, eta, steps = 0.05, 0.01, 300

    def gram():
        with torch.no_grad():
            G = D.T @ D - torch.eye(4096)
            b = S @ D
            u = torch.zeros(128, 4096)
            for _ in range(steps):
                a = torch.sign(u) * torch.clamp(u.abs() - lam, min=0)
                u = u + eta * (b - u - a @ G)
            return u

    def two():
        with torch.no_grad():
            b = S @ D
            u = torch.zeros(128, 4096)
            for _ in range(steps):
                a = torch.sign(u) * torch.clamp(u.abs() - lam, min=0)
                u = u + eta * (b - u - (a @ D.T) @ D + a)
            return u

    t2 = min_time(two, 2)
    tg = min_time(gram, 1)
    print(json.dumps({"bench": "torch_lca_4096", "gram_seconds": tg, "two_gemm_seconds": t2, "seconds": min(tg, t2)}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "problem":
        problem(sys.argv[2])
    elif cmd == "fista-time":
        fista_time(sys.argv[2], int(sys.argv[3]))
    elif cmd == "numpy-fista":
        numpy_fista(sys.argv[2], int(sys.argv[3]))
    elif cmd == "lca-time":
        lca_time()
