"""PyTorch CPU peer of bench_conv.c: conv2d forward and forward+backward
(input and weight gradients, bias gradient) on the same shapes, batch 8,
3x3, stride 1, pad 1.  Prints one JSON line per measurement, like bench_conv.

    /usr/bin/python3 bench/conv_torch.py [--threads 2] [--reps 10] [--batch 8]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

SHAPES = [(64, 56), (128, 28), (256, 14), (512, 7)]


def min_time(fn, warm, reps):
    for _ in range(warm):
        fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n = args.batch
    for c, hw in SHAPES:
        x = torch.rand(n, c, hw, hw) - 0.5
        w = torch.rand(c, c, 3, 3) - 0.5
        b = torch.rand(c) - 0.5
        g = torch.rand(n, c, hw, hw) - 0.5
        xg = x.clone().requires_grad_(True)
        wg = w.clone().requires_grad_(True)
        bg = b.clone().requires_grad_(True)

        def fwd():
            with torch.no_grad():
                F.conv2d(x, w, b, stride=1, padding=1)

        def fwd_bwd():
            xg.grad = wg.grad = bg.grad = None
            y = F.conv2d(xg, wg, bg, stride=1, padding=1)
            y.backward(g)

        flops = 2.0 * n * c * c * 9 * hw * hw
        tf = min_time(fwd, 2, args.reps)
        tfb = min_time(fwd_bwd, 1, args.reps)
        shape = f"{n}x{c}x{hw}x{hw}"
        for pas, t, fl in (("forward", tf, flops), ("forward_backward", tfb, 3 * flops)):
            print(json.dumps({"bench": "conv2d", "impl": "torch", "shape": shape, "pass": pas,
                              "ms": round(t * 1e3, 4), "gflops": round(fl / t * 1e-9, 1),
                              "threads": args.threads, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
