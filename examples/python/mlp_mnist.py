"""The MLP baseline on MNIST from Python (include/neurodyn/mlp.h,
docs/mlp.md): a 784-100-10 ReLU network with cross-entropy, Adam with a
cosine anneal, test accuracy, checkpoint round trip; then the same
parameters as a PyTorch module when torch is installed.

    python3 examples/python/mlp_mnist.py           # 60000 images, 5 epochs
    python3 examples/python/mlp_mnist.py --quick   # what CI runs

Needs MNIST (`make data`); without it the script exits 77 (a skip)."""
import argparse
import os
import sys

import numpy as np

import neurodyn

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--quick", action="store_true", help="2000 images, 2 epochs")
ap.add_argument("--out", default="runs/python-mlp", help="output directory")
args = ap.parse_args()
limit, epochs = (2000, 2) if args.quick else (0, 5)

try:
    X, y = neurodyn.io.load_mnist("train", limit=limit)
    Xt, yt = neurodyn.io.load_mnist("test", limit=2000 if args.quick else 0)
except neurodyn.NotFoundError as e:
    print("skipped: %s" % e, file=sys.stderr)
    sys.exit(77)

model = neurodyn.MLP([784, 100, 10], activation="relu", loss="cross_entropy", seed=0)
model.fit(X, y, epochs=epochs, batch=100, lr=1e-3, lr_final=1e-5, progress=not args.quick)
print("mean loss per epoch:", " ".join("%.4f" % l for l in model.losses))
print("test accuracy: %.4f" % model.accuracy(Xt, yt))

os.makedirs(args.out, exist_ok=True)
path = os.path.join(args.out, "mlp.safetensors")
model.save(path)
back = neurodyn.load(path)
assert np.array_equal(back.predict(Xt), model.predict(Xt))

try:
    import torch
except ImportError:
    sys.exit(0)
# the same network in PyTorch, from the parameter views (names as nn.Sequential's)
net = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
state = {k.replace("layers.1", "layers.2").replace("layers.", ""): torch.from_numpy(v.copy())
         for k, v in model.params.items()}
net.load_state_dict(state)
with torch.no_grad():
    agree = (net(torch.from_numpy(Xt)).argmax(1).numpy() == model.predict(Xt)).mean()
print("PyTorch copy agrees on %.2f%% of the test predictions" % (100 * agree))
