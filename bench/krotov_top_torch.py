#!/usr/bin/python3
"""Independent PyTorch top layer (Krotov & Hopfield 2019, Eq. 11-12) on a frozen W.

Trains c = tanh(beta * f S^T), f = max(W v, 0)^n, loss sum |c - t|^m (t = +-1) with
torch.optim.Adam and a per-step cosine learning-rate anneal, the same recipe as
`neurodyn train krotov-top`, but written from the paper with PyTorch's own
autograd and optimiser. Used to check that neurodyn's top layer reaches the same
test error on the same W (docs/RESULTS.md), and as a speed peer.

usage: krotov_top_torch.py W.safetensors DATA_DIR [--epochs N] [--lr X]
       [--lr-final X] [--batch N] [--beta X] [--n X] [--m X] [--seed N] [--threads N]
DATA_DIR holds the four MNIST IDX files (train-images-idx3-ubyte, ...).
"""
import argparse, json, math, os, struct, sys, time

import numpy as np
import torch

from krotov_w_variants import load as load_w  # the safetensors reader, in the same folder


def read_idx(path):
    with open(path, "rb") as fh:
        raw = fh.read()
    ndim = raw[3]
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8).reshape(shape)


def load_split(data_dir, prefix):
    x = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte")).reshape(-1, 784)
    y = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte"))
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64))


def features(w, x, n):
    return torch.clamp(x @ w.T, min=0.0) ** n  # Eq. 11: f = max(h, 0)^n


def error(s, f, y, beta):
    with torch.no_grad():
        return (torch.tanh(beta * f @ s.T).argmax(1) != y).float().mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("weights")
    ap.add_argument("data_dir")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--lr-final", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--beta", type=float, default=0.0, help="0: 1 / mean over samples of max_mu f")
    ap.add_argument("--n", type=float, default=4.5)
    ap.add_argument("--m", type=float, default=6.0)
    ap.add_argument("--init-std", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--optimizer", choices=["adam", "dam"], default="adam",
                    help="dam: the Dense Associative Memory notebook's max-normalised momentum steps, "
                         "eps0 * decay^epoch, weights clipped to [-1, 1]")
    ap.add_argument("--eps0", type=float, default=0.04)
    ap.add_argument("--decay", type=float, default=0.998)
    ap.add_argument("--momentum", type=float, default=0.6)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    w = torch.from_numpy(load_w(a.weights)[1].copy())
    xtr, ytr = load_split(a.data_dir, "train")
    xte, yte = load_split(a.data_dir, "t10k")
    ftr, fte = features(w, xtr, a.n), features(w, xte, a.n)
    beta = a.beta if a.beta > 0 else 1.0 / ftr.max(1).values.mean().item()
    s = torch.nn.Parameter(a.init_std * torch.randn(10, w.shape[0]))
    opt = torch.optim.Adam([s], lr=a.lr)
    vel = torch.zeros_like(s)
    steps = a.epochs * math.ceil(len(ftr) / a.batch)
    # cosine from lr to lr_final over all steps, like neurodyn's ND_SCHED_COSINE
    lam = lambda k: (a.lr_final + 0.5 * (a.lr - a.lr_final) * (1 + math.cos(math.pi * min(k, steps) / steps))) / a.lr
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)
    targets = 2.0 * torch.nn.functional.one_hot(ytr, 10).float() - 1.0  # t = +-1
    t0 = time.time()
    for epoch in range(1, a.epochs + 1):
        perm = torch.randperm(len(ftr))
        for start in range(0, len(ftr), a.batch):
            idx = perm[start:start + a.batch]
            c = torch.tanh(beta * ftr[idx] @ s.T)
            loss = ((c - targets[idx]).abs() ** a.m).sum()  # Eq. 12
            opt.zero_grad()
            loss.backward()
            if a.optimizer == "adam":
                opt.step()
                sched.step()
            else:
                with torch.no_grad():
                    g = s.grad
                    vel.mul_(a.momentum).add_(g / g.abs().max().clamp(min=1e-30))
                    s.sub_(a.eps0 * a.decay ** (epoch - 1) * vel).clamp_(-1.0, 1.0)
        if epoch % max(1, a.epochs // 10) == 0 or epoch == a.epochs:
            print(json.dumps({"epoch": epoch, "train_error": error(s, ftr, ytr, beta),
                              "test_error": error(s, fte, yte, beta), "elapsed": time.time() - t0}), flush=True)
    print(f"torch top layer: beta {beta:.6g}, {a.epochs} epochs: test error {100 * error(s, fte, yte, beta):.2f}%, "
          f"{(time.time() - t0) / a.epochs:.3f} s/epoch")


if __name__ == "__main__":
    main()
