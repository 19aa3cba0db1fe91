"""PyTorch CPU peer of bench_circuits.c: one Jacobi Euler step of the
locally connected WTA (Rutishauser, Douglas & Slotine 2011, Eq. 2.1-2.2 with
an inhibitory unit per neuron over a band; circuits.h), written from the
equations, the band as conv1d with a ones kernel (a dense n x n matrix does
not fit at n = 1e6), the ConvWta box as a depthwise conv2d; the residual
max|rate| per row is computed as the C step does.

    /usr/bin/python3 bench/circuits_torch.py [--threads 1] [--batch 64] [--max-n 1000000]
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

ETA, AL, B1, B2, TE, TI, G = 0.1, 1.1, 0.3, 0.3, 0.0, 0.0, 1.0


def step(pool, I, x, y):
    ry = torch.relu(B2 * pool(x) - TI) - G * y
    rx = torch.relu(I + AL * x - B1 * pool(y) - TE) - G * x
    dims = tuple(range(1, x.dim()))
    res = torch.maximum(ry.abs().amax(dim=dims), rx.abs().amax(dim=dims))
    return x + ETA * rx, y + ETA * ry, res


def bench(pool, shape, k1, k2, reps=3):
    torch.manual_seed(0)
    I = torch.rand(shape)
    best = float("inf")

    def run(k):
        x = torch.zeros(shape)
        y = torch.zeros(shape)
        t0 = time.process_time()
        for _ in range(k):
            x, y, _ = step(pool, I, x, y)
        return time.process_time() - t0

    for _ in range(reps):
        best = min(best, run(k2) - run(k1))
    return (k2 - k1) / best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--halfwidth", type=int, default=3)
    ap.add_argument("--max-n", type=int, default=1000000)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    w = a.halfwidth
    band = torch.ones(1, 1, 2 * w + 1)
    box = torch.ones(16, 1, 3, 3)
    with torch.no_grad():
        for n in (10000, 100000, 1000000):
            if n > a.max_n:
                break
            k1, k2 = 2, (6 if n >= 1000000 else 22)
            sps = bench(lambda v: F.conv1d(v, band, padding=w), (a.batch, 1, n), k1, k2)
            print(json.dumps({"bench": "circuits", "impl": "torch", "circuit": "lcwta", "n": n, "batch": a.batch,
                              "steps_per_s": round(sps, 4), "unit_steps_per_s": sps * a.batch * n,
                              "clock": "cpu", "threads": a.threads, "torch": torch.__version__}), flush=True)
            s = round(math.sqrt(n / 16))
            sps = bench(lambda v: F.conv2d(v, box, padding=1, groups=16), (a.batch, 16, s, s), k1, k2)
            print(json.dumps({"bench": "circuits", "impl": "torch", "circuit": "convwta", "n": 16 * s * s,
                              "batch": a.batch, "steps_per_s": round(sps, 4), "unit_steps_per_s": sps * a.batch * 16 * s * s,
                              "clock": "cpu", "threads": a.threads, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
