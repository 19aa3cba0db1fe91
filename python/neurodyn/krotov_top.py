"""The supervised top layer of the Krotov-Hopfield network (Krotov &
Hopfield, PNAS 2019, Eq. 11-12) on a frozen hidden layer W:
f = max(V W^T, 0)^n, c = tanh(beta f S^T), loss sum |c - t|^m, trained with
Adam.  docs/krotov.md has the equations and defaults."""
from . import _core
from ._registry import register
from ._supervised import Supervised


def features(W, X, n=4.5, lebesgue_p=0.0):
    """f = max(h, 0)^n [N, H] with h = X W^T (lebesgue_p = 0) or the Eq. 3
    metric with that p: the array owns the library's buffer."""
    return _core.krotov_features(W, X, float(n), float(lebesgue_p))


class KrotovTop(Supervised):
    """neurodyn.KrotovTop(W, classes=10, n=4.5, m=6, beta=0, init_std=0.01,
    seed=0, dropout=0, lebesgue_p=0)

    W: the hidden layer [H, D] (an array, or a Krotov / KrotovODE model,
    copied).  beta=0 picks 1 / mean_b max_mu f_b,mu from the training
    features at the first fit, as `neurodyn train krotov-top --beta 0` does."""
    _prefix = "krotov_top"

    def __init__(self, W, classes=10, **settings):
        self._W = W.weights if hasattr(W, "weights") else W
        self._classes, self._settings = int(classes), settings
        self._h, self.losses, self._ready = None, [], False

    @classmethod
    def _load(cls, path):
        m = cls.__new__(cls)
        m._h, m.losses, m._ready = _core.krotov_top_load(path), [], False
        return m

    def _cfg(self, key, default):
        if self._h is not None:
            return self.config[key]
        v = self._settings.get(key)
        return default if v is None else v

    def features(self, X):
        """The frozen layer's features of X (computed by the library)."""
        W = self.W if self._h is not None else self._W
        return features(W, X, self._cfg("n", 4.5), self._cfg("lebesgue_p", 0.0))

    def fit(self, X, y, epochs=1, batch=100, lr=0.01, lr_final=1e-4, weight_decay=0.0, seed=None, progress=False):
        """Features once, then `epochs` epochs of Adam (cosine anneal from lr
        to lr_final over the first fit's epochs; the program's defaults)."""
        F = self.features(X)
        if self._h is None:
            s = dict(self._settings)
            if not s.get("beta"):
                s["beta"] = _core.krotov_top_auto_beta(F)
            self._h = _core.krotov_top_create(self._W, self._classes, s)
            self._W = None
        if not self._ready:
            self._fit_setup(F.shape[0], epochs, batch, lr, lr_final, weight_decay,
                            self.config["seed"] if seed is None else seed)
            self._ready = True
        return self._fit_loop(F, y, epochs, batch, progress, "krotov-top")

    def _handle(self):
        if self._h is None:
            raise _core.LibraryError("krotov_top: the model is created by the first fit()")
        return self._h

    @property
    def config(self):
        return _core.krotov_top_config(self._handle())

    @property
    def weights(self):
        """S [classes, hidden]: a writable view of the model's readout."""
        return _core.krotov_top_weights(self._handle())[0]

    @property
    def W(self):
        """The frozen hidden layer [hidden, visible] (read-only view)."""
        return _core.krotov_top_weights(self._handle())[1]

    def predict(self, X):
        return _core.krotov_top_predict(self._handle(), self.features(X))

    def error(self, X, y):
        return float((self.predict(X) != y).mean())

    def save(self, path):
        """Checkpoint "krotov-top": the config, W and S."""
        _core.krotov_top_save(self._handle(), path)


register("krotov-top", KrotovTop._load)
