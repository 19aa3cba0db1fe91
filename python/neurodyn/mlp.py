"""The dense MLP baseline (include/neurodyn/mlp.h, docs/mlp.md): layers
sizes[0] -> ... -> sizes[-1], hidden activation relu | tanh | sigmoid |
leaky_relu | relu_pow | identity, loss cross_entropy or abs_power (the tanh
readout with |c - t|^m of Krotov & Hopfield 2019, Eq. 12), trained with Adam
through the library's autodiff tape."""
from . import _core
from ._registry import register
from ._supervised import Supervised


class MLP(Supervised):
    """neurodyn.MLP([784, 100, 10], activation="relu", loss="cross_entropy",
    act_param=0, loss_power=6, out_scale=1, bias=True, seed=0, method="bp",
    ff_theta=0, dni_conditioned=True, dtp_target_lr=0.1, dtp_noise=0.36,
    am_mu=0.003, am_code_lr=0.3, am_code_steps=5, subtask_layers=2)

    method: the credit assignment (docs/credit.md): "bp" back-propagation,
    "fa" feedback alignment, "dfa" direct feedback alignment, "dni"
    synthetic gradients, "ff" forward-forward, "dtp" difference target
    propagation, "am" alternating minimisation with codes, "subtask"
    block-local losses against learned label representatives;
    `neurodyn train mlp --method`.

    `neurodyn train mlp-baseline` is MLP([784, H, 10], activation="relu_pow",
    act_param=4.5, loss="abs_power", loss_power=6, out_scale=1, bias=False)
    fitted with lr=1e-3, lr_final=1e-5."""
    _prefix = "mlp"

    def __init__(self, sizes, **settings):
        self._h = _core.mlp_create(list(sizes), settings)
        self.losses = []
        self._ready = False

    @classmethod
    def _load(cls, path):
        m = cls.__new__(cls)
        m._h, m.losses, m._ready = _core.mlp_load(path), [], False
        return m

    @property
    def config(self):
        return _core.mlp_config(self._h)

    @property
    def params(self):
        """{name: writable float32 view} in the order W_0, b_0, W_1, ... with
        PyTorch nn.Sequential names ("layers.0.weight", ...)."""
        return dict(_core.mlp_params(self._h))

    def fit(self, X, y, epochs=1, batch=100, lr=1e-3, lr_final=None, weight_decay=0.0, seed=None, progress=False):
        """Adam over every parameter; the first fit creates the optimizer with
        a cosine anneal from lr to lr_final (default lr) over its `epochs`,
        and minibatches from the stream of `seed` (default the model's), as
        the program does; later fits go on with it.  Returns self; the mean
        loss of every epoch is appended to .losses."""
        X = _core.as_float32(X, "X")
        if not self._ready:
            self._fit_setup(X.shape[0], epochs, batch, lr, lr if lr_final is None else lr_final, weight_decay,
                            self.config["seed"] if seed is None else seed)
            self._ready = True
        return self._fit_loop(X, y, epochs, batch, progress, "mlp")

    def predict(self, X):
        """Class indices (argmax of the output) for X [n, sizes[0]], int32
        (computed in batches of 1000 rows, without recording)."""
        return _core.mlp_predict(self._h, X)

    def accuracy(self, X, y):
        return float((self.predict(X) == y).mean())

    def save(self, path):
        """Checkpoint "mlp": the config and every parameter (not the optimizer)."""
        _core.mlp_save(self._h, path)


register("mlp", MLP._load)
