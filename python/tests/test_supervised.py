"""neurodyn.MLP and neurodyn.KrotovTop from Python: parity with
`neurodyn train mlp-baseline` and `neurodyn train krotov-top` on the same
data and seed, checkpoints, views, errors."""
import gc
import os
import subprocess

import numpy as np
import pytest

import neurodyn
from conftest import blobs


def run(cli, *args):
    subprocess.run([cli] + list(args) + ["--quiet"], check=True, capture_output=True)


def test_mlp_parity_with_the_cli(cli, mnist_root):
    root, _ = mnist_root
    out = os.path.join(root, "mlp")
    run(cli, "train", "mlp-baseline", "--data", root, "--out", out, "--hidden", "12", "--epochs", "2",
        "--batch", "50", "--seed", "5", "--limit", "300")
    cli_model = neurodyn.load(os.path.join(out, "mlp.safetensors"))
    assert isinstance(cli_model, neurodyn.MLP)
    X, y = neurodyn.io.load_mnist("train", limit=300, root=root)
    m = neurodyn.MLP([784, 12, 10], activation="relu_pow", act_param=4.5, loss="abs_power", loss_power=6,
                     out_scale=1, bias=False, seed=5)
    m.fit(X, y, epochs=2, batch=50, lr=1e-3, lr_final=1e-5)
    assert cli_model.config == m.config
    for (name, a), (_, b) in zip(m.params.items(), cli_model.params.items()):
        assert np.array_equal(a, b), name
    Xt, yt = neurodyn.io.load_mnist("test", root=root)
    np.testing.assert_array_equal(m.predict(Xt), cli_model.predict(Xt))


def test_krotov_top_parity_with_the_cli(cli, mnist_root):
    root, _ = mnist_root
    run(cli, "train", "krotov", "--data", root, "--out", os.path.join(root, "k"), "--hidden", "16", "--epochs", "2",
        "--batch", "50", "--png-every", "0")
    out = os.path.join(root, "top")
    run(cli, "train", "krotov-top", "--data", root, "--out", out, "--features", os.path.join(root, "k", "W.safetensors"),
        "--epochs", "3", "--batch", "50", "--seed", "2")
    cli_top = neurodyn.load(os.path.join(out, "top.safetensors"))
    assert isinstance(cli_top, neurodyn.KrotovTop)
    W = neurodyn.io.read_safetensors(os.path.join(root, "k", "W.safetensors"))["W"]
    X, y = neurodyn.io.load_mnist("train", root=root)
    top = neurodyn.KrotovTop(W, seed=2).fit(X, y, epochs=3, batch=50)
    assert top.config == cli_top.config
    assert np.array_equal(top.weights, cli_top.weights)
    assert np.array_equal(top.W, W)


def test_features_against_numpy():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(8, 20)).astype(np.float32)
    X = rng.random((30, 20)).astype(np.float32)
    f = neurodyn.krotov_top.features(W, X, 3.0)
    ref = np.maximum(X.astype(np.float64) @ W.T.astype(np.float64), 0) ** 3
    np.testing.assert_allclose(f, ref, rtol=1e-4, atol=1e-5)
    assert f.flags.owndata is False and f.base is not None  # the library's buffer, owned through its base


def test_mlp_round_trip_views_and_errors(tmp_path):
    X = blobs(200, 20)
    y = (X[:, 0] > 0.5).astype(np.int64)  # int64 labels are converted once
    m = neurodyn.MLP([20, 8, 2], seed=1).fit(X, y, epochs=3, batch=25, lr=1e-2)
    assert len(m.losses) == 3 and m.losses[-1] < m.losses[0]
    path = str(tmp_path / "mlp.safetensors")
    m.save(path)
    back = neurodyn.load(path)
    for (k, a), (_, b) in zip(m.params.items(), back.params.items()):
        assert np.array_equal(a, b), k
    w = back.params["layers.0.weight"]
    assert w.flags.writeable  # writable views of the model's own parameters
    w[:] = 0
    assert np.all(back.params["layers.0.weight"] == 0)
    del back
    gc.collect()
    assert np.all(w == 0)
    with pytest.raises(ValueError, match="sizes"):
        neurodyn.MLP([5])
    with pytest.raises(ValueError, match="activation"):
        neurodyn.MLP([2, 2], activation="gelu")
    with pytest.raises(ValueError, match=r"X: shape \(5, 3\), expected \(\*, 20\)"):
        m.predict(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"y: shape \(3,\), expected \(200,\)"):
        m.fit(X, y[:3])
    with pytest.raises(TypeError, match="y"):
        m.fit(X, y.astype(np.float32))


@pytest.mark.parametrize("method", ["fa", "dfa", "dtp", "am", "subtask"])
def test_credit_methods_parity_with_train_mlp(cli, mnist_root, method):
    root, _ = mnist_root
    out = os.path.join(root, method)
    sizes = [784, 12, 10] if method != "subtask" else [784, 12, 12, 10]
    extra = {"subtask": ["--subtask-layers", "1"], "dtp": ["--dtp-target-lr", "0.2"]}.get(method, [])
    settings = {"subtask": {"subtask_layers": 1}, "dtp": {"dtp_target_lr": 0.2}}.get(method, {})
    run(cli, "train", "mlp", "--data", root, "--out", out, "--method", method, "--layers", ",".join(map(str, sizes)),
        "--epochs", "2", "--batch", "50", "--seed", "3", "--limit", "300", "--angle-rows", "0", *extra)
    cli_model = neurodyn.load(os.path.join(out, "mlp.safetensors"))
    X, y = neurodyn.io.load_mnist("train", limit=300, root=root)
    m = neurodyn.MLP(sizes, method=method, seed=3, **settings).fit(X, y, epochs=2, batch=50, lr=1e-3, lr_final=1e-5)
    assert m.config == cli_model.config and m.config["method"] == method
    for (name, a), (_, b) in zip(m.params.items(), cli_model.params.items()):
        assert np.array_equal(a, b), name
