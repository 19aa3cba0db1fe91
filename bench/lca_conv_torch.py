"""PyTorch CPU peer of bench_lca_conv.c: the same convolutional LCA loop
(Rozell et al. 2008, Eq. 3.1-3.2 with Phi a = conv_transpose2d(a, w) and
Phi^T r = conv2d(r, w)), plain Euler steps, soft threshold, a fixed number
of iterations, on the same shapes and the same input generator.

    /usr/bin/python3 bench/lca_conv_torch.py [--threads 2] [--reps 3] [--batch 16] [--filters 64]
        [--kernel 9] [--size 64] [--iters 200]
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F


def bench_rand(n, seed):
    """bench_common.h's LCG, so both sides solve the same problem."""
    out = np.empty(n, dtype=np.float32)
    s = np.uint32(seed)
    for i in range(n):
        s = np.uint32((int(s) * 1664525 + 1013904223) & 0xFFFFFFFF)
        out[i] = np.float32(int(s) >> 8) * np.float32(1.0 / 16777216.0) - np.float32(0.5)
    return out


def lca(x, w, lam, eta, iters):
    u = torch.zeros_like(F.conv2d(x, w))
    for _ in range(iters):
        a = F.softshrink(u, lam)
        r = x - F.conv_transpose2d(a, w)
        u = u + eta * (F.conv2d(r, w) - u + a)
    return F.softshrink(u, lam)


def main():
    ap = argparse.ArgumentParser()
    for name, default in (("threads", 2), ("reps", 3), ("batch", 16), ("filters", 64), ("kernel", 9), ("size", 64),
                          ("iters", 200)):
        ap.add_argument("--" + name, type=int, default=default)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    B, Fn, K, S, it = args.batch, args.filters, args.kernel, args.size, args.iters
    w = torch.from_numpy(bench_rand(Fn * K * K, 1) * np.float32(0.2)).reshape(Fn, 1, K, K)
    x = torch.from_numpy(bench_rand(B * S * S, 2)).reshape(B, 1, S, S)
    best, a = float("inf"), None
    with torch.no_grad():
        for rep in range(args.reps + 1):  # the first run warms up
            t0 = time.perf_counter()
            a = lca(x, w, 0.1, 0.05, it)
            t = time.perf_counter() - t0
            if rep > 0:
                best = min(best, t)
        r = x - F.conv_transpose2d(a, w)
        objective = 0.5 * float((r.double() ** 2).sum()) + 0.1 * float(a.double().abs().sum())
    P = S - K + 1
    flops = 2.0 * 2.0 * B * Fn * K * K * P * P * it
    print(json.dumps({"bench": "lca_conv", "impl": "torch", "shape": f"{B}x1x{S}x{S}_F{Fn}_k{K}_it{it}",
                      "pass": "solve", "ms": round(best * 1e3, 3), "gflops": round(flops / best * 1e-9, 1),
                      "objective": objective, "nonzero_frac": round(float((a != 0).double().mean()), 4),
                      "threads": args.threads, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
