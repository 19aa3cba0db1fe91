"""neurodyn.ESN from Python against NumPy: the spectral radius of the
reservoir it reports against numpy.linalg.eigvals, the ridge readout against
the normal equations (Lukosevicius 2012, Eq. 9) solved by NumPy on the
states the network went through, the teacher-forced outputs against W_out
[1; u; x]; views, errors."""
import gc

import numpy as np
import pytest

import neurodyn


def series(T=500):
    t = np.arange(T + 1)
    x = np.sin(0.2 * t) + 0.5 * np.sin(0.311 * t)
    return x[:-1, None], x[1:, None]


def states(esn, u):
    esn.reset()
    out = []
    for row in u:
        esn.step(row)
        out.append(esn.state)
    return np.array(out)


def test_spectral_radius_against_numpy():
    esn = neurodyn.ESN(units=80, connectivity=0.1, spectral_radius=0.9, seed=3)
    W = esn.reservoir
    assert np.abs(np.linalg.eigvals(W)).max() == pytest.approx(0.9, rel=1e-9)
    assert esn.spectral_radius == pytest.approx(0.9, rel=1e-12)
    assert np.count_nonzero(W) > 0


def test_readout_is_the_ridge_solution():
    u, y = series()
    esn = neurodyn.ESN(units=60, connectivity=0.2, washout=50, ridge=1e-6, seed=2)
    X = states(esn, u)
    esn.fit(u, y)
    phi = np.hstack([np.ones((len(u), 1)), u, X])[50:]
    ref = np.linalg.solve(phi.T @ phi + 1e-6 * np.eye(phi.shape[1]), phi.T @ y[50:]).T
    np.testing.assert_allclose(esn.readout, ref, rtol=1e-6, atol=1e-9)
    # teacher-forced outputs are W_out [1; u; x] of those states
    esn.reset()
    pred = esn.run(u)
    X2 = states(esn, u)  # the same states again, from x = 0
    np.testing.assert_allclose(pred, np.hstack([np.ones((len(u), 1)), u, X2]) @ esn.readout.T, rtol=1e-10, atol=1e-12)
    assert np.abs(pred[100:] - y[100:]).max() < 0.05  # it learned the one-step map (ridge 1e-6, 60 units)


def test_free_run_views_and_errors():
    u, y = series()
    esn = neurodyn.ESN(units=60, connectivity=0.2, washout=50, seed=2).fit(u, y)
    free = esn.generate(20)
    assert free.shape == (20, 1) and np.isfinite(free).all()
    w = esn.readout
    assert not w.flags.writeable
    snap = w.copy()
    del esn
    gc.collect()
    assert np.array_equal(w, snap)
    assert neurodyn.ESN(units=10, connectivity=0.5).readout is None
    with pytest.raises(ValueError, match="units"):
        neurodyn.ESN(units=0)
    with pytest.raises(ValueError, match=r"u: shape \(5, 2\), expected \(\*, 1\)"):
        neurodyn.ESN(units=10, connectivity=0.5).fit(np.zeros((5, 2)), np.zeros((5, 1)))
    with pytest.raises(ValueError, match=r"y: shape \(4, 1\), expected \(5, 1\)"):
        neurodyn.ESN(units=10, connectivity=0.5).fit(np.zeros((5, 1)), np.zeros((4, 1)))
