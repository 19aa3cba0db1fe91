"""An echo-state network from Python (include/neurodyn/reservoir.h; Jaeger &
Haas, Science 2004): learn the one-step map of a quasi-periodic signal by
ridge regression, then let the network run free on its own predictions; the
ridge coefficient is chosen on a validation window, the score is on a later
test window.

    python3 examples/python/esn_forecast.py [--quick] [--out DIR]"""
import argparse
import os

import numpy as np

import neurodyn

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--quick", action="store_true", help="200 units instead of 500")
ap.add_argument("--out", default="runs/python-esn", help="output directory")
args = ap.parse_args()

t = np.arange(3000 + 1)
x = (np.sin(0.2 * t) + 0.5 * np.sin(0.311 * t))[:, None]
horizon = 100
units = 200 if args.quick else 500


def free_run_nrmse(ridge, train):
    """Fit on x[:train] (teacher forced: y(t) = u(t + 1)), then run free for
    `horizon` steps on the network's own predictions; NRMSE against x."""
    esn = neurodyn.ESN(units=units, connectivity=0.05, spectral_radius=0.9, washout=100, ridge=ridge, seed=1)
    esn.fit(x[:train], x[1:train + 1])
    free = esn.generate(horizon)
    target = x[train + 1:train + 1 + horizon]
    return np.sqrt(np.mean((free - target) ** 2) / np.var(target)), esn, free, target


# the ridge coefficient is chosen on a validation window (fit on 1500 steps, free run after them) ...
scores = {r: free_run_nrmse(r, 1500)[0] for r in (1e-8, 1e-6, 1e-4, 1e-2)}
ridge = min(scores, key=scores.get)
print("validation free-run NRMSE by ridge:", ", ".join("%g: %.3f" % kv for kv in scores.items()))
# ... and scored once on the test window after 2000 training steps
nrmse, esn, free, target = free_run_nrmse(ridge, 2000)
print("reservoir: %d units, spectral radius %.3f, ridge %g; test free-run NRMSE over %d steps: %.3f"
      % (units, esn.spectral_radius, ridge, horizon, nrmse))
os.makedirs(args.out, exist_ok=True)
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.figure(figsize=(8, 3))
    plt.plot(target, label="signal")
    plt.plot(free, "--", label="ESN free run")
    plt.legend()
    plt.savefig(os.path.join(args.out, "free_run.png"), dpi=80)
except ImportError:
    np.save(os.path.join(args.out, "free_run.npy"), np.hstack([target, free]))
assert nrmse < 0.5, "the free run drifted off the signal"
