"""Sparse coding and dictionary learning with LCA from Python (Rozell et al.,
Neural Computation 2008; the learning step is Olshausen & Field's, Nature
1996): codes by neurodyn.lca, dictionary updates in NumPy.

A dictionary of 32 random atoms in 16 dimensions generates signals with 3
active atoms each; starting from a random dictionary, alternate
  A = LCA codes of the batch S under D                       (the library)
  D += lr (S - A D^T)^T A, columns renormalised to unit norm (NumPy)
and watch the learned atoms line up with the true ones.

    python3 examples/python/lca_dictionary.py           # 1500 steps
    python3 examples/python/lca_dictionary.py --quick   # what CI runs

Needs no data set.  Figures: matplotlib if present, else the library's PNG
writer (atoms as 4 x 4 tiles)."""
import argparse
import os

import numpy as np

import neurodyn

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--quick", action="store_true", help="100 steps")
ap.add_argument("--out", default="runs/python-lca", help="output directory")
args = ap.parse_args()
steps = 100 if args.quick else 1500
m, n, k, batch, lam, lr = 16, 32, 3, 64, 0.05, 2.0
rng = np.random.default_rng(0)

true = rng.normal(size=(m, n)).astype(np.float32)
true /= np.linalg.norm(true, axis=0)


def signals(b):
    codes = np.zeros((b, n), np.float32)
    for row in codes:
        row[rng.choice(n, k, replace=False)] = rng.uniform(0.5, 1.5, k) * rng.choice([-1, 1], k)
    return codes @ true.T


D = rng.normal(size=(m, n)).astype(np.float32)
D /= np.linalg.norm(D, axis=0)
solver = neurodyn.lca.LCA(D, lam, max_batch=batch, update="adam", max_iter=300)
history = []
for step in range(steps):
    S = signals(batch)
    A, stats = solver.solve(S)                       # [batch, n] codes, GIL released
    D = D + lr * (S - A @ D.T).T @ A / batch         # Olshausen & Field gradient step on 1/2||S - A D^T||^2
    D /= np.maximum(np.linalg.norm(D, axis=0), 1e-8)
    solver.dictionary = D                            # the library recomputes its Gram matrix
    # recovery: for every true atom, the best |cosine| with a learned one
    history.append(np.abs(true.T @ D).max(axis=1).mean())
    if step % 50 == 0 or step == steps - 1:
        print("step %4d  energy %.3f  iterations %d  mean best |cos| %.3f"
              % (step, stats["objective"] / batch, stats["iterations"], history[-1]))

os.makedirs(args.out, exist_ok=True)
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ax[0].plot(history)
    ax[0].set_xlabel("step")
    ax[0].set_ylabel("mean best |cos| with a true atom")
    ax[1].imshow(np.abs(true.T @ D), cmap="viridis")
    ax[1].set_title("|cos(true i, learned j)|")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "lca_dictionary.png"), dpi=80)
except ImportError:
    neurodyn.io.write_png_tiles(os.path.join(args.out, "atoms.png"), D.T.reshape(n, 4, 4), zoom=8)
print("figures in", args.out)
assert history[-1] > history[0], "the dictionary did not move towards the true atoms"
