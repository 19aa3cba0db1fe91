"""neurodyn.Krotov / KrotovODE from Python: zero-copy inputs, views that keep
the model alive, errors, Ctrl-C, two threads, checkpoints, and parity with the
C program (`neurodyn train krotov`) on the same data and seed."""
import gc
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import neurodyn
from conftest import blobs


def small(**kw):
    cfg = dict(hidden=12, epochs=4, batch=20, seed=3)
    cfg.update(kw)
    return neurodyn.Krotov(**cfg)


def test_float32_input_is_used_in_place():
    x = blobs(200, 30)
    assert np.shares_memory(neurodyn.as_float32(x), x)
    # the library reads X itself: zeroing it after the first minibatch changes the run
    ref = small().fit(x.copy()).weights.copy()
    x32 = x.copy()
    def zero(epoch, done, total):
        x32[:] = 0
    changed = small().fit(x32, callback=zero).weights
    assert not np.array_equal(changed, ref)


def test_other_dtypes_are_converted_once():
    x = blobs(200, 30)
    x64 = x.astype(np.float64)
    assert not np.shares_memory(neurodyn.as_float32(x64), x64)
    assert neurodyn.as_float32(np.asfortranarray(x)).flags.c_contiguous
    ref = small().fit(x).weights.copy()
    # the float64 copy is taken once, before training: zeroing the original later changes nothing
    def zero(epoch, done, total):
        x64[:] = 0
    assert np.array_equal(small().fit(x64, callback=zero).weights, ref)
    assert np.array_equal(small().fit(np.asfortranarray(x)).weights, ref)
    assert np.array_equal(small().fit(x[:, ::1]).weights, ref)
    with pytest.raises(TypeError, match="X"):
        small().fit(x.astype(np.complex64))


def test_weights_view_follows_training_and_outlives_the_model():
    m = small(visible=30)
    w = m.weights
    assert not w.flags.writeable
    assert neurodyn._core.data_address(w) == neurodyn._core.data_address(m.weights)
    before = w.copy()
    m.fit(blobs(200, 30), epochs=1)
    assert not np.array_equal(w, before)  # a view of the model's own memory
    snapshot = w.copy()
    del m
    gc.collect()
    junk = [small(visible=30) for _ in range(20)]  # reuse freed memory, if it were freed
    assert np.array_equal(w, snapshot)
    del junk


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="hidden"):
        neurodyn.Krotov(hidden=0, visible=10)
    with pytest.raises(neurodyn.InputError) as e:
        neurodyn.Krotov(k=50, hidden=10, visible=10)
    assert e.value.status == "invalid argument" and "k" in str(e.value)
    m = small(visible=30)
    with pytest.raises(ValueError, match=r"X: shape \(10, 5\), expected \(\*, 30\)"):
        m.fit(np.zeros((10, 5), np.float32), epochs=1)
    with pytest.raises(ValueError, match="fewer than one minibatch"):
        m.fit(np.zeros((5, 30), np.float32), epochs=1)
    with pytest.raises(TypeError, match="unknown setting 'hiden'"):
        neurodyn.Krotov(hiden=3, visible=3)
    with pytest.raises(ValueError, match="precision"):
        neurodyn.Krotov(precision="f16", visible=3)
    with pytest.raises(RuntimeError, match="first fit"):
        neurodyn.Krotov().weights
    with pytest.raises(FileNotFoundError):
        neurodyn.load("/nonexistent/model.safetensors")
    with pytest.raises(ValueError, match="W"):
        m.weights = np.zeros((3, 3), np.float32)


def test_checkpoint_round_trip(tmp_path):
    x = blobs(300, 30)
    m = small(p=3.0, k=3).fit(x, epochs=2)
    path = str(tmp_path / "k.safetensors")
    m.save(path)
    back = neurodyn.load(path)
    assert isinstance(back, neurodyn.Krotov)
    assert back.config == m.config and back.state == m.state
    assert np.array_equal(back.weights, m.weights)
    # training on from the checkpoint is training on from the model
    assert np.array_equal(back.fit(x).weights, m.fit(x).weights)


def test_f64_weights_are_a_float64_copy(tmp_path):
    m = small(precision="f64").fit(blobs(200, 30), epochs=1)
    w = m.weights
    assert w.dtype == np.float64 and w.shape == (12, 30)
    m.weights = w * 0.5
    np.testing.assert_array_equal(m.weights, w * 0.5)


def long_model():
    return neurodyn.Krotov(hidden=50, epochs=100000, batch=10, seed=1)


def test_ctrl_c_stops_and_leaves_the_model_usable():
    x = blobs(2000, 50)
    m = long_model()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    t0 = time.time()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        m.fit(x)
    assert time.time() - t0 < 5
    st = m.state
    assert st["epoch"] > 0 or st["batch"] > 0
    # the model goes on: finishing the interrupted epoch gives the uninterrupted run's bytes
    m.fit(x, epochs=1)
    ref = long_model().fit(x, epochs=st["epoch"] + 1)
    assert m.state == ref.state
    assert np.array_equal(m.weights, ref.weights)


def test_two_models_in_two_threads():
    x = [blobs(1000, 40, seed=s) for s in (1, 2)]
    cfg = [dict(hidden=30, epochs=6, batch=20, seed=s) for s in (7, 8)]
    serial = [neurodyn.Krotov(**c).fit(xi).weights.copy() for c, xi in zip(cfg, x)]
    models = [neurodyn.Krotov(**c) for c in cfg]
    errors = []
    def run(i):
        try:
            models[i].fit(x[i])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for m, w in zip(models, serial):
        assert np.array_equal(m.weights, w)


def test_one_model_refuses_a_second_thread():
    x = blobs(2000, 50)
    m = long_model()
    started, release = threading.Event(), threading.Event()
    def cb(epoch, done, total):
        started.set()
        return release.is_set()  # True stops the fit
    t = threading.Thread(target=m.fit, args=(x,), kwargs=dict(callback=cb))
    t.start()
    assert started.wait(10)
    with pytest.raises(RuntimeError, match="in use"):
        m.fit(x, epochs=1)
    release.set()
    t.join()
    assert m.state["batch"] > 0 or m.state["epoch"] > 0


def test_gil_is_released_during_fit():
    x = blobs(2000, 50)
    m = long_model()
    ticks = []
    stop = threading.Event()
    def ticker():
        while not stop.is_set():
            ticks.append(time.time())
            time.sleep(0.001)
    t = threading.Thread(target=ticker)
    deadline = time.time() + 0.3
    t.start()
    m.fit(x, callback=lambda e, d, n: time.time() > deadline)
    stop.set()
    t.join()
    assert len(ticks) > 20  # the other thread ran while the library computed


def run_cli(cli, root, out, *flags):
    cmd = [cli, "train", "krotov", "--data", root, "--out", out, "--quiet", "--png-every", "0"] + list(flags)
    subprocess.run(cmd, check=True, capture_output=True)
    return neurodyn.io.read_safetensors(os.path.join(out, "W.safetensors"))["W"]


def test_parity_with_the_cli_fast_rule(cli, mnist_root):
    root, data = mnist_root
    W_cli = run_cli(cli, root, os.path.join(root, "run"), "--hidden", "16", "--epochs", "3", "--batch", "25",
                    "--p", "3", "--k", "3", "--seed", "11")
    X, y = neurodyn.io.load_mnist("train", root=root)
    # the loader against the hand-written bytes (pixel / 255, to within one float32 rounding)
    np.testing.assert_array_max_ulp(X, data["train"][0], maxulp=1)
    np.testing.assert_array_equal(y, data["train"][1])
    m = neurodyn.Krotov(hidden=16, epochs=3, batch=25, p=3, k=3, seed=11).fit(X)
    assert np.array_equal(m.weights, W_cli)


def test_parity_with_the_cli_ode(cli, mnist_root):
    root, data = mnist_root
    W_cli = run_cli(cli, root, os.path.join(root, "run"), "--rule", "ode", "--hidden", "10", "--epochs", "1",
                    "--batch", "50", "--t-max", "2", "--seed", "4", "--limit", "200")
    X, _ = neurodyn.io.load_mnist("train", limit=200, root=root)
    m = neurodyn.KrotovODE(hidden=10, epochs=1, batch=50, t_max=2, seed=4).fit(X)
    assert np.array_equal(m.weights, W_cli)
    h = m.hidden(X[:7])
    assert h.shape == (7, 10) and np.isfinite(h).all()


def test_progress_bar_and_callback_counts(capsys):
    x = blobs(100, 20)
    seen = []
    m = neurodyn.Krotov(hidden=6, epochs=2, batch=25)
    m.fit(x, progress=True, callback=lambda e, d, n: seen.append((e, d, n)))
    # one call per minibatch: 4 per epoch, done = 1..4 of total 4
    assert seen == [(e, d, 4) for e in (0, 1) for d in (1, 2, 3, 4)]
    err = capsys.readouterr().err
    assert "8/8" in err  # the bar (tqdm, or the plain counter) reached every minibatch
