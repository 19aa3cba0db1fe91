"""Krotov-Hopfield network on MNIST from Python (Krotov & Hopfield, PNAS
2019): the hidden layer by the fast rule (Eq. 10), notebook style (load,
train, look at the receptive fields, save, load back), then the supervised
top layer on its frozen features (Eq. 11-12) and its test error.

    python3 examples/python/krotov_mnist.py            # 100 units, 10000 images, 20 epochs
    python3 examples/python/krotov_mnist.py --quick    # what CI runs (seconds)

Needs MNIST (`make data`); without it the script says so and exits 77
(a skip for ctest)."""
import argparse
import os
import sys

import numpy as np

import neurodyn

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--quick", action="store_true", help="a few seconds: 25 units, 2000 images, 3 epochs")
ap.add_argument("--out", default="runs/python-krotov", help="output directory")
args = ap.parse_args()
hidden, limit, epochs = (25, 2000, 3) if args.quick else (100, 10000, 20)

# --- data: MNIST through the library's loader, as float32 [n, 784] in [0, 1]
try:
    X, y = neurodyn.io.load_mnist("train", limit=limit)
except neurodyn.NotFoundError as e:
    print("skipped: %s" % e, file=sys.stderr)
    sys.exit(77)
print("MNIST:", X.shape, X.dtype, "labels", np.bincount(y))

# --- the model: settings are the C config's fields (docs/krotov.md)
model = neurodyn.Krotov(hidden=hidden, p=3, k=7, epochs=epochs, batch=100, seed=0)
model.fit(X, progress=not args.quick)  # Ctrl-C stops after the current minibatch
W = model.weights                      # a view of the model's weights [hidden, 784]
norms = neurodyn.krotov.row_pnorms(W, 3)
print("after %d epochs: winners %d, mean p-norm of the rows %.3f (Eq. 3 drives them to 1)"
      % (model.state["epoch"], model.winners, norms.mean()))

# --- figures: matplotlib if present, else the library's PNG writer
os.makedirs(args.out, exist_ok=True)
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = int(np.ceil(np.sqrt(hidden)))
    fig, axes = plt.subplots(n, n, figsize=(n, n))
    for ax, w in zip(axes.flat, W):
        m = np.abs(w).max()
        ax.imshow(w.reshape(28, 28), cmap="bwr", vmin=-m, vmax=m)
    for ax in axes.flat:
        ax.axis("off")
    fig.savefig(os.path.join(args.out, "fields.png"), dpi=80)
except ImportError:
    neurodyn.io.write_png_tiles(os.path.join(args.out, "fields.png"), W.reshape(-1, 28, 28))
print("receptive fields:", os.path.join(args.out, "fields.png"))

# --- checkpoint round trip
path = os.path.join(args.out, "krotov.safetensors")
model.save(path)
back = neurodyn.load(path)
assert np.array_equal(back.weights, W) and back.state == model.state
print("saved and loaded back:", path)

# --- the top layer: f = max(X W^T, 0)^4.5, c = tanh(beta f S^T), Adam on sum |c - t|^6
Xt, yt = neurodyn.io.load_mnist("test", limit=2000 if args.quick else 0)
top = neurodyn.KrotovTop(model, n=4.5, m=6, seed=0)   # copies W; beta from the features
top.fit(X, y, epochs=3 if args.quick else 30, batch=100, lr=0.01, lr_final=1e-4)
print("top layer: train loss %.3f -> %.3f, test error %.2f%%"
      % (top.losses[0], top.losses[-1], 100 * top.error(Xt, yt)))
