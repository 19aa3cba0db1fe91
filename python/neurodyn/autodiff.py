"""The autodiff tape's gradient check (include/neurodyn/autodiff.h) from
Python: the function under test is written with the tape's own ops.

    def f(ops, x, w):
        return ops.sum(ops.tanh(ops.linear(x, w)))
    r = neurodyn.autodiff.gradcheck(f, x, w)   # {"passed": True, "max_abs_err": ..., ...}

nd_gradcheck compares the tape's gradient of sum_j r_j out_j (a fixed random
r) with central differences of step `step` on float32 copies of the arrays
(the caller's arrays are never touched): |analytic - numeric| <= atol +
rtol |numeric| for every checked element."""
from . import _core


class Ops:
    """The tape's differentiable ops, for the function given to gradcheck.
    Every argument and result is a Var, valid during that call only."""

    def constant(self, array):
        """A leaf without gradient (inputs, targets)."""
        return _core.ad_constant(array)

    def matmul(self, a, b, trans_a=False, trans_b=False):
        return _core.ad_matmul(a, b, trans_a, trans_b)

    def linear(self, x, w, b=None):
        """x [B, in] w [out, in]^T + b [out]."""
        return _core.ad_linear(x, w, b)

    def add(self, a, b):
        return _core.ad_binary("add", a, b)

    def sub(self, a, b):
        return _core.ad_binary("sub", a, b)

    def mul(self, a, b):
        return _core.ad_binary("mul", a, b)

    def mse(self, a, b):
        return _core.ad_binary("mse", a, b)

    def scale(self, x, alpha):
        return _core.ad_scale(x, alpha)

    def unary(self, name, x, param=0.0):
        """relu, leaky_relu, tanh, sigmoid, softplus, abs, sign, pow, relu_pow,
        soft_threshold, hard_threshold, nonneg_threshold, exp, log, square
        (kernels.h defines each; `param` is the slope, power or threshold)."""
        return _core.ad_unary(name, x, float(param))

    def relu(self, x):
        return self.unary("relu", x)

    def tanh(self, x):
        return self.unary("tanh", x)

    def sigmoid(self, x):
        return self.unary("sigmoid", x)

    def softplus(self, x):
        return self.unary("softplus", x)

    def exp(self, x):
        return self.unary("exp", x)

    def log(self, x):
        return self.unary("log", x)

    def square(self, x):
        return self.unary("square", x)

    def relu_pow(self, x, n):
        return self.unary("relu_pow", x, n)

    def sum(self, x):
        return _core.ad_reduce("sum", x)

    def mean(self, x):
        return _core.ad_reduce("mean", x)

    def softmax(self, x):
        return _core.ad_reduce("softmax", x)

    def log_softmax(self, x):
        return _core.ad_reduce("log_softmax", x)

    def cross_entropy(self, logits, labels):
        """Mean cross-entropy of logits [B, C] against int labels [B]."""
        return _core.ad_cross_entropy(logits, labels)

    def abs_power_loss(self, c, t, m):
        """sum |c - t|^m (Krotov & Hopfield 2019, Eq. 12)."""
        return _core.ad_abs_power_loss(c, t, float(m))


OPS = Ops()


def gradcheck(f, *arrays, step=1e-3, atol=1e-3, rtol=1e-2, max_per_leaf=0, seed=0):
    """Checks the tape's gradient of f(ops, *leaves) with respect to every
    array against central differences.  Returns {"passed", "max_abs_err",
    "max_rel_err", "worst_leaf", "worst_index", "worst_analytic",
    "worst_numeric", "checked"}; an exception raised by f propagates."""
    return _core.gradcheck(f, OPS, list(arrays), float(step), float(atol), float(rtol), int(max_per_leaf), int(seed))
