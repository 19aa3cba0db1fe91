"""neurodyn.autodiff.gradcheck from Python: passes for smooth functions
built from the tape's ops, fails where the tape's derivative is not the
function's (sign: gradient 0 across a jump within the step), never touches the
caller's arrays, and refuses Vars after their evaluation."""
import numpy as np
import pytest

import neurodyn
from neurodyn.autodiff import gradcheck


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(4, 5)), rng.normal(size=(3, 5)), rng.normal(size=3)


@pytest.mark.parametrize("f", [
    lambda ops, x, w, b: ops.sum(ops.tanh(ops.linear(x, w, b))),
    lambda ops, x, w, b: ops.cross_entropy(ops.linear(x, w, b), [0, 2, 1, 1]),
    lambda ops, x, w, b: ops.mean(ops.softplus(ops.matmul(x, w, trans_b=True))),
    lambda ops, x, w, b: ops.abs_power_loss(ops.tanh(ops.linear(x, w, b)), ops.constant(np.full((4, 3), 0.1)), 3),
    lambda ops, x, w, b: ops.log_softmax(ops.add(ops.matmul(x, w, False, True), b)),
])
def test_smooth_functions_pass(f):
    x, w, b = data()
    r = gradcheck(f, x, w, b)
    assert r["passed"], r
    assert r["checked"] == x.size + w.size + b.size


def test_a_wrong_derivative_fails():
    x = np.array([[1e-4, -2e-4, 0.5]], np.float32)  # two entries within the step of sign's jump
    # sign(x) + x: the tape's derivative is 1, the central difference across the jump is ~1/step
    r = gradcheck(lambda ops, x: ops.sum(ops.add(ops.unary("sign", x), x)), x)
    assert not r["passed"] and r["worst_leaf"] == 0 and r["worst_index"] in (0, 1)
    assert abs(r["worst_numeric"]) > 100 * abs(r["worst_analytic"])


def test_arrays_untouched_and_errors():
    x, w, b = data()
    x32 = x.astype(np.float32)
    before = x32.copy()
    assert gradcheck(lambda ops, x: ops.sum(ops.square(x)), x32)["passed"]
    assert np.array_equal(x32, before)
    kept = []
    gradcheck(lambda ops, x: kept.append(x) or ops.sum(x), x)
    with pytest.raises(RuntimeError, match="over"):
        gradcheck(lambda ops, x: ops.sum(kept[0]), x)
    with pytest.raises(ValueError, match="inner sizes"):
        gradcheck(lambda ops, x, w: ops.matmul(x, w), x, w)
    with pytest.raises(ZeroDivisionError):
        gradcheck(lambda ops, x: 1 / 0, x)
    with pytest.raises(ValueError, match="unknown unary"):
        gradcheck(lambda ops, x: ops.unary("gelu", x), x)
