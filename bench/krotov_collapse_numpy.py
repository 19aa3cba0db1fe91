#!/usr/bin/python3
"""Independent check of the Fashion-MNIST collapse (docs/RESULTS.md, "Fashion-MNIST collapse").

A direct NumPy transcription of the official notebook loop (DimaKrotov/Biological_Learning,
float64, full argsort, its own random init) that prints, every few epochs, how many units are
ranked first on 10000 training images, how many rows have a near-duplicate (cosine > 0.99), the
fraction of positive weights, and the fraction of rows whose p-norm is within 1% of 1.

usage: krotov_collapse_numpy.py [--images FILE.gz] [--hidden 400] [--p 3] [--k 7] [--delta 0.4]
                                [--anneal 60] [--run 16] [--seed 1]
"""
import argparse, gzip, os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402


def stats(epoch, w, x, p):
    inputs = x @ (np.sign(w) * np.abs(w) ** (p - 1)).T
    wn = w / np.linalg.norm(w, axis=1, keepdims=True)
    cos = wn @ wn.T
    np.fill_diagonal(cos, 0)
    norms = (np.abs(w) ** p).sum(1) ** (1 / p)
    print(f"epoch {epoch}: winners {len(np.unique(inputs.argmax(1)))}, near-duplicate rows {(cos.max(1) > 0.99).sum()}, "
          f"positive weights {(w > 0).mean():.3f}, converged {(np.abs(norms - 1) <= 0.01).mean():.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", default="data/fashion-mnist/train-images-idx3-ubyte.gz")
    ap.add_argument("--hidden", type=int, default=400)
    ap.add_argument("--p", type=float, default=3.0)
    ap.add_argument("--k", type=int, default=7)
    ap.add_argument("--delta", type=float, default=0.4)
    ap.add_argument("--eps0", type=float, default=0.02)
    ap.add_argument("--anneal", type=int, default=60, help="Nep of the notebook's linear anneal")
    ap.add_argument("--run", type=int, default=16, help="epochs actually run")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    raw = gzip.open(a.images).read() if a.images.endswith(".gz") else open(a.images, "rb").read()
    data = np.frombuffer(raw[16:], dtype=np.uint8).reshape(-1, 784).astype(np.float64) / 255
    rng = np.random.default_rng(a.seed)
    hid, num = a.hidden, 100
    w = rng.normal(0, 1, (hid, data.shape[1]))
    for nep in range(a.run):
        eps = a.eps0 * (1 - nep / a.anneal)
        data = data[rng.permutation(len(data))]
        for i in range(len(data) // num):
            v = data[i * num:(i + 1) * num].T
            tot = (np.sign(w) * np.abs(w) ** (a.p - 1)) @ v
            order = np.argsort(tot, axis=0)
            yl = np.zeros((hid, num))
            yl[order[hid - 1], np.arange(num)] = 1.0
            yl[order[hid - a.k], np.arange(num)] = -a.delta
            xx = (yl * tot).sum(1)
            ds = yl @ v.T - xx[:, None] * w
            w += eps * ds / max(np.abs(ds).max(), 1e-30)
        if nep % 5 == 0 or nep == a.run - 1:
            stats(nep + 1, w, data[:10000], a.p)


if __name__ == "__main__":
    main()
