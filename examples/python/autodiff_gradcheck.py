"""The autodiff tape's gradient check from Python (include/neurodyn/
autodiff.h): a two-layer network and its loss written with the tape's ops,
checked against central differences; then the failure the check exists
for, a derivative that is not the function's.

    python3 examples/python/autodiff_gradcheck.py [--quick]"""
import argparse

import numpy as np

import neurodyn
from neurodyn.autodiff import gradcheck

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--quick", action="store_true", help="(the same: it takes well under a second)")
ap.add_argument("--out", default=None, help="unused")
args = ap.parse_args()

rng = np.random.default_rng(0)
x = rng.normal(size=(8, 6))
W1, b1 = rng.normal(size=(5, 6)) * 0.5, np.zeros(5)
W2 = rng.normal(size=(3, 5)) * 0.5
labels = rng.integers(0, 3, 8)


def loss(ops, W1, b1, W2):
    h = ops.tanh(ops.linear(ops.constant(x), W1, b1))
    return ops.cross_entropy(ops.linear(h, W2), labels)


r = gradcheck(loss, W1, b1, W2)
print("two-layer network: passed=%s, %d elements, max |analytic - numeric| = %.2e"
      % (r["passed"], r["checked"], r["max_abs_err"]))
assert r["passed"]

# relu_pow (max(x,0)^n, Krotov & Hopfield's rectified power unit) is smooth for n > 1
r = gradcheck(lambda ops, z: ops.sum(ops.relu_pow(z, 3.0)), rng.normal(size=(4, 4)))
print("relu_pow(x, 3): passed=%s" % r["passed"])

# sign(x) has derivative 0 on the tape but jumps at 0: the check catches it
near_zero = np.array([[2e-4, -0.3, 0.7]])
r = gradcheck(lambda ops, z: ops.sum(ops.add(ops.unary("sign", z), z)), near_zero)
print("sign(x) + x next to the jump: passed=%s (analytic %.3g, numeric %.3g at element %d)"
      % (r["passed"], r["worst_analytic"], r["worst_numeric"], r["worst_index"]))
assert not r["passed"]
