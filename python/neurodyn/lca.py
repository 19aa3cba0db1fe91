"""Sparse coding by the Locally Competitive Algorithm (Rozell, Johnson,
Baraniuk & Olshausen, "Sparse coding via thresholding and local competition
in neural circuits", Neural Computation 20(10):2526-2563, 2008), with the
optimizer-accelerated state updates of include/neurodyn/accel.h.  The
equations, every setting and its default are in docs/lca.md.

    A, stats = neurodyn.lca.solve(D, S, 0.1, update="adam")
    # D [m, n] (columns are atoms), S [B, m] or [m] -> A [B, n] or [n]

Settings (the C config's fields; `lam` is lambda): threshold ("soft",
"hard", "nonneg"), tol, max_iter, variant ("textbook", "upstream"), form
("auto", "gram", "two-gemm"), normalize, auto_eta, and the state update:
update ("euler", "momentum", "nesterov", "rmsprop", "adam", "upstream-adam",
"upstream-rmsprop"; a new kind starts from its own defaults, as
`neurodyn run lca --update` does), eta (given: auto_eta off), mu, schedule
("constant", "fista"), restart, beta1, beta2, eps."""
from . import _core


class LCA:
    """A solver for one dictionary, created once and used for many solves
    (the dictionary is copied and its Gram matrix formed at creation)."""

    def __init__(self, D, lam=None, max_batch=1, **settings):
        if lam is not None:
            settings["lam"] = lam
        self._h = _core.lca_create(D, int(max_batch), settings)
        _, eta, form, update = _core.lca_info(self._h)  # fixed at creation
        self._fixed = {"update": update, "eta": eta, "form": form}

    def solve(self, S):
        """(A, stats) for signals S [B, m] (B <= max_batch) or [m]: the codes
        from u = 0 and {"iterations", "residual", "objective", "stopped",
        "batch", "atoms", "update", "eta", "form"} (the JSON line of
        `neurodyn run lca`).  The GIL is released; Ctrl-C stops the solve
        (KeyboardInterrupt) within 256 steps."""
        A, it, res, obj, stopped = _core.lca_solve(self._h, S)
        stats = {"iterations": it, "residual": res, "objective": obj, "stopped": stopped,
                 "batch": 1 if A.ndim == 1 else A.shape[0], "atoms": A.shape[-1]}
        stats.update(self._fixed)
        return A, stats

    def codes(self, S):
        """The codes alone (the fast path: no stats dict)."""
        return _core.lca_solve(self._h, S)[0]

    @property
    def dictionary(self):
        """The dictionary in use [m, n] (after normalize): a read-only view."""
        return _core.lca_dictionary(self._h)

    @dictionary.setter
    def dictionary(self, D):
        """Replaces it (same shape): the dictionary-learning step."""
        _core.lca_set_dictionary(self._h, D)

    def energy(self, S, A):
        """(per-signal energies [B], their sum) of Eq. 2.1 for codes A."""
        return _core.lca_energy(self._h, S, A)

    @property
    def config(self):
        return _core.lca_config(self._h)

    @property
    def lipschitz(self):
        """||D||_2^2, the largest eigenvalue of D^T D."""
        return _core.lca_info(self._h)[0]


def defaults():
    """Every setting with its default."""
    return _core.lca_defaults()


def solve(D, S, lam, update=None, **settings):
    """Sparse codes of S [B, m] or [m] under D [m, n] with threshold lam:
    (A, stats).  update=None keeps the library's default update."""
    S = _core.as_float32(S, "S")
    if update is not None:
        settings["update"] = update
    return LCA(D, lam, S.shape[0] if S.ndim == 2 else 1, **settings).solve(S)
