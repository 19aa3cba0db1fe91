"""Echo-state networks (include/neurodyn/reservoir.h): a sparse random
reservoir scaled to a spectral radius (Jaeger 2001; leaky units of Jaeger,
Lukosevicius, Popovici & Siewert 2007, Eq. 2) with a ridge-regression
readout W_out = Y Phi^T (Phi Phi^T + ridge I)^-1, Phi = [1; u; x]
(Lukosevicius 2012, Eq. 9).  Everything is float64, as in the library;
docs/reservoir.md has the equations and defaults.

    esn = neurodyn.ESN(units=200, spectral_radius=0.9, seed=1)
    esn.fit(u, y)            # u [T, inputs], y [T, outputs], teacher forced
    y_free = esn.generate(100)   # inputs == outputs: free-running forecast
"""
from . import _core


class ESN:
    """Settings (the C config's fields): units=1000, inputs=1, outputs=1,
    connectivity=0.01, spectral_radius=0.8, leak=1, input_scaling=1,
    bias_scaling=0.2, ridge=1e-8, washout=100, solver="cholesky" | "qr",
    rho_method="eig" | "power", power_iterations=1000, seed=1."""

    def __init__(self, **settings):
        self._h = _core.esn_create(settings)

    @property
    def config(self):
        return _core.esn_config(self._h)

    def fit(self, u, y):
        """Teacher-forced fit of the readout on u [T, inputs] -> y [T, outputs]
        (the first `washout` states discarded); the state is left after the
        last step.  Returns self."""
        _core.esn_fit(self._h, u, y)
        return self

    def run(self, u):
        """Outputs [T, outputs] while stepping through u [T, inputs]."""
        return _core.esn_run(self._h, u)

    def generate(self, steps):
        """Free run (inputs == outputs): each readout is the next input."""
        return _core.esn_generate(self._h, int(steps))

    def step(self, u):
        _core.esn_step(self._h, u)

    def reset(self):
        _core.esn_reset(self._h)

    @property
    def state(self):
        """The reservoir state x [units] (a copy)."""
        return _core.esn_state(self._h)

    @property
    def readout(self):
        """W_out [outputs, 1 + inputs + units]: a read-only view (None before fit)."""
        return _core.esn_readout(self._h)

    @property
    def reservoir(self):
        """W [units, units] (a dense copy)."""
        return _core.esn_reservoir(self._h)[2]

    @property
    def spectral_radius(self):
        """The spectral radius of W as the rho_method measured it."""
        return _core.esn_reservoir(self._h)[0]


def defaults():
    return _core.esn_defaults()
