"""NumPy peer of bench/bench_krotov.c: the official notebook loop of the
Krotov-Hopfield fast rule (DimaKrotov/Biological_Learning,
Unsupervised_learning_algorithm_MNIST.ipynb) in float64, as upstream runs it,
on MNIST train with the paper's setting (2000 hidden units, p = 3, k = 7,
delta = 0.4, Num = 100).

Times --batches minibatches (default 60 of the epoch's 600, after 2 warm-up
minibatches) plus the epoch's reshuffle, and extrapolates linearly to a full
epoch; the JSON line says so ("minibatches_timed", "extrapolated").
--batches 600 times a whole epoch without extrapolation.

Threads: OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS are set to
--threads (default 2) BEFORE numpy is imported, so NumPy's BLAS uses that many.

Usage: /usr/bin/python3 bench/krotov_numpy.py [--threads 2] [--batches 60] [--limit N]
"""
import argparse
import gzip
import json
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batches", type=int, default=60)
ap.add_argument("--limit", type=int, default=0)
ap.add_argument("--data", default=None, help="directory with train-images-idx3-ubyte[.gz]")
args = ap.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402  (after the thread variables)


def find_data():
    cands = [args.data, os.path.join(os.environ.get("ND_DATA_DIR", ""), "mnist") if os.environ.get("ND_DATA_DIR") else None,
             os.path.join("data", "mnist"), os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist")]
    for d in cands:
        if not d:
            continue
        for name in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"):
            if os.path.exists(os.path.join(d, name)):
                return os.path.join(d, name)
    return None


def read_idx_images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        buf = f.read()
    n, rows, cols = (int.from_bytes(buf[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(buf, dtype=np.uint8, offset=16).reshape(n, rows * cols)


path = find_data()
if path is None:
    print(json.dumps({"bench": "krotov_epoch_numpy", "skipped": "MNIST not found (run scripts/get-data.sh)"}))
    sys.exit(0)

M = read_idx_images(path).astype(np.float64) / 255.0  # notebook: M = M/255.0
if args.limit > 0:
    M = M[: args.limit]

# notebook parameters, paper MNIST setting for the layer size and rule
eps0 = 2e-2
Kx, Ky = 40, 50  # hid = 2000
hid = Kx * Ky
mu, sigma = 0.0, 1.0
Nep = 200
Num = 100
prec = 1e-30
delta = 0.4
p = 3.0
K = 7
Ns, N = M.shape

rng = np.random.default_rng(0)
synapses = rng.normal(mu, sigma, (hid, N))


def minibatch(inputs, eps):
    """One iteration of the notebook's inner loop (verbatim semantics)."""
    global synapses
    sig = np.sign(synapses)
    tot_input = np.dot(sig * np.absolute(synapses) ** (p - 1), inputs)
    y = np.argsort(tot_input, axis=0)
    yl = np.zeros((hid, Num))
    yl[y[hid - 1, :], np.arange(Num)] = 1.0
    yl[y[hid - K], np.arange(Num)] = -delta
    xx = np.sum(np.multiply(yl, tot_input), 1)
    ds = np.dot(yl, np.transpose(inputs)) - np.multiply(np.tile(xx.reshape(xx.shape[0], 1), (1, N)), synapses)
    nc = np.amax(np.absolute(ds))
    if nc < prec:
        nc = prec
    synapses += eps * np.true_divide(ds, nc)


nep = 0
eps = eps0 * (1 - nep / Nep)
t0 = time.perf_counter()
M = M[np.random.permutation(Ns), :]  # notebook: reshuffle each epoch
t_shuffle = time.perf_counter() - t0
per_epoch = Ns // Num
nb = min(args.batches, per_epoch)
for i in range(2):  # warm-up
    minibatch(np.transpose(M[i * Num:(i + 1) * Num, :]), eps)
t0 = time.perf_counter()
for i in range(nb):
    inputs = np.transpose(M[i * Num:(i + 1) * Num, :])
    minibatch(inputs, eps)
t_batches = time.perf_counter() - t0
sec = t_shuffle + t_batches * per_epoch / nb
print(json.dumps({"bench": "krotov_epoch_numpy", "precision": "f64", "hidden": hid, "visible": N,
                  "samples": per_epoch * Num, "batch": Num, "p": p, "k": K, "threads": args.threads,
                  "numpy": np.__version__, "minibatches_timed": nb, "minibatches_per_epoch": per_epoch,
                  "extrapolated": nb < per_epoch, "seconds_per_minibatch": round(t_batches / nb, 5),
                  "seconds_per_epoch": round(sec, 3)}))
