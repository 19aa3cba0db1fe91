"""The Krotov-Hopfield family (Krotov & Hopfield, "Unsupervised learning by
competing hidden units", PNAS 116(16):7723, 2019): the fast rule (Eq. 10),
the ODE model (Eq. 2-3, 8-9) and the supervised top layer (Eq. 11-12).
The equations and every setting are in docs/krotov.md; the settings here
are the C config fields of include/neurodyn/krotov.h by the same names."""
from . import _core
from ._progress import Progress
from ._registry import register


class _Unsupervised:
    """What the fast rule and the ODE model share: lazy creation (visible
    from the first X), fit with progress and Ctrl-C, state, save."""
    _prefix = None
    _kind = None

    def __init__(self, **settings):
        self._settings = dict(settings)
        self._h = None
        if settings.get("visible") is not None:
            self._create()

    def _create(self):
        self._h = getattr(_core, self._prefix + "_create")(self._settings)

    @classmethod
    def _from_handle(cls, h):
        m = cls.__new__(cls)
        m._h = h
        m._settings = getattr(_core, cls._prefix + "_config")(h)
        return m

    @classmethod
    def _load(cls, path):
        return cls._from_handle(getattr(_core, cls._prefix + "_load")(path))

    def _handle(self, what):
        if self._h is None:
            raise _core.LibraryError("%s: the model is created by the first fit() (or pass visible=)" % what)
        return self._h

    @property
    def config(self):
        """Every setting of the C config (a dict; defaults filled in)."""
        if self._h is None:
            d = getattr(_core, self._prefix + "_defaults")()
            d.update({k: v for k, v in self._settings.items() if v is not None})
            return d
        return getattr(_core, self._prefix + "_config")(self._h)

    @property
    def state(self):
        """{"epoch", "batch", "rng_key", "rng_counter"}: epochs done, minibatches
        into the current one, the shuffle stream (include/neurodyn/train.h)."""
        return getattr(_core, self._prefix + "_state")(self._handle("state"))

    @state.setter
    def state(self, st):
        getattr(_core, self._prefix + "_set_state")(self._handle("state"), dict(st))

    @property
    def weights(self):
        """W [hidden, visible]: a read-only float32 view of the model's own
        weights (it follows training and keeps the model alive)."""
        return getattr(_core, self._prefix + "_weights")(self._handle("weights"))

    @weights.setter
    def weights(self, w):
        getattr(_core, self._prefix + "_set_weights")(self._handle("weights"), w)

    def fit(self, X, epochs=None, progress=False, callback=None):
        """Trains on X [n, visible] for `epochs` epoch calls (default: until the
        anneal's `epochs` are done).  An epoch stopped part-way (Ctrl-C, or
        `callback(epoch, done, total)` returning True) is finished first by
        the next call.  Ctrl-C raises KeyboardInterrupt after the current
        minibatch and leaves the model usable, its state saying where it
        stopped.  The GIL is released while the library computes."""
        X = _core.as_float32(X, "X")  # the one conversion (none for float32 C-contiguous X)
        if self._h is None:
            self._settings.setdefault("visible", None)
            if self._settings["visible"] is None and X.ndim == 2:
                self._settings["visible"] = int(X.shape[1])
            self._create()
        if epochs is None:
            epochs = max(self.config["epochs"] - self.state["epoch"], 0)
        bar = Progress(progress, epochs, self._kind)

        def cb(epoch, done, total):
            bar(epoch, done, total)
            return bool(callback(epoch, done, total)) if callback else False

        epoch_fn = getattr(_core, self._prefix + "_epoch")
        try:
            for _ in range(epochs):
                start = self.state["epoch"]
                epoch_fn(self._h, X, cb if (progress or callback) else None)
                if self.state["epoch"] == start:  # the callback asked to stop part-way
                    break
        finally:
            bar.close()
        return self

    def save(self, path):
        """Writes the checkpoint (safetensors: "model", every config field,
        the state and W) atomically; neurodyn.load(path) reads it back."""
        getattr(_core, self._prefix + "_save")(self._handle("save"), path)

    def __repr__(self):
        c = self.config
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % kv for kv in sorted(c.items())))


class Krotov(_Unsupervised):
    """The official fast learning rule (Eq. 10).  Settings (defaults are the
    notebook's): hidden=100, visible (from X), p=2, k=2, delta=0.4, eps0=0.02,
    epochs=200, batch=100, init_mean=0, init_std=1, prec=1e-30,
    precision="f32" | "f64", update="sparse" | "gemm", seed=0.

        model = neurodyn.Krotov(hidden=2000, p=3, k=7).fit(X, epochs=5)

    With precision="f64", `weights` is a float64 copy."""
    _prefix = "krotov"
    _kind = "krotov"

    @property
    def winners(self):
        """Distinct units ranked first since the last epoch began."""
        return _core.krotov_winners(self._handle("winners"))


class KrotovODE(_Unsupervised):
    """The full model: hidden dynamics (Eq. 8) to steady state, then one step
    of Eq. 3.  Settings: hidden, visible, batch, p, w_inh, delta, h_star, tau,
    tau_L, R, integrator="euler" | "rk4", dt, t_max, tol, init_mean, init_std,
    seed, lr, lr_end, epochs (docs/krotov.md)."""
    _prefix = "krotov_ode"
    _kind = "krotov-ode"

    def hidden(self, X):
        """Steady-state hidden activity h [n, hidden] of Eq. 8 for X [n, visible]."""
        return _core.krotov_ode_hidden(self._handle("hidden"), X)


def row_pnorms(W, p):
    """(sum_i |W_mu,i|^p)^(1/p) of every row of W (Eq. 3 drives them to 1)."""
    return _core.krotov_row_pnorms(W, p)


register("krotov", Krotov._load)
register("krotov-ode", KrotovODE._load)
