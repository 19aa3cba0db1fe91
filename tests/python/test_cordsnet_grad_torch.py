"""BPTT of CordsNet (nd_cordsnet_loss_grad) against PyTorch autograd on the
reference model of cordsnet_ref.py with upstream's loss (cordsnet_ref.ref_loss:
cross-entropy at the last stimulus steps on a logspace(-3, 0) ramp, plus the
return-to-baseline penalty over the post-stimulus steps; the spontaneous
phase without gradient).  The loss and every parameter's gradient (g and v of
each weight norm, the per-unit biases, the classifier bias), with and
without gradient checkpointing over time and with truncation, to 1e-4 of
each tensor's largest entry (float32 against float64).  Skipped without
torch or the shared library."""
import ctypes
import os
import sys
import tempfile

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.dirname(__file__))
import cordsnet_ref as R  # noqa: E402


@pytest.fixture(scope="module")
def lib(nd_cdll):
    return R.bind(nd_cdll)


def nd_grads(L, path, x, y, t, tmp):
    m = R.nd_load(L, path)
    loss, _ = R.nd_loss_grad(L, m, R.nd_train(t), x, y)
    n = L.nd_cordsnet_num_params(m)
    ctypes.memmove(L.nd_cordsnet_params(m), L.nd_cordsnet_grad(m), n * 4)  # the gradient under the file's names
    g = os.path.join(tmp, "grad.safetensors")
    assert L.nd_cordsnet_save(m, g.encode()) == 0
    L.nd_cordsnet_free(m)
    return loss, R.load_safetensors(g)


CASES = [
    (2, "upstream", dict(spont=10, steps=12, ce=5, post=6, q=3, penalty=0.5, truncate=0, cp=1, alpha=0.2)),
    (2, "upstream", dict(spont=10, steps=12, ce=5, post=6, q=3, penalty=0.5, truncate=0, cp=4, alpha=0.2)),
    (4, "native", dict(spont=8, steps=10, ce=4, post=5, q=2, penalty=1.0, truncate=0, cp=0, alpha=0.2)),
    (6, "native", dict(spont=5, steps=9, ce=3, post=0, q=1, penalty=0.0, truncate=6, cp=2, alpha=0.3)),
    (8, "native", dict(spont=3, steps=6, ce=2, post=3, q=1, penalty=2.0, truncate=0, cp=3, alpha=0.25)),
]


@pytest.mark.parametrize("depth,layout,t", CASES)
def test_grad_matches_autograd(lib, depth, layout, t):
    torch.manual_seed(0)
    if layout == "upstream":
        model = R.RefCordsNet(depth=depth, in_ch=3, classes=6, width=64, in_hw=16)
        x = np.random.default_rng(depth).standard_normal((2, 3, 16, 16)).astype(np.float32)
    else:
        w = 2 if depth == 8 else 3
        model = R.RefCordsNet(depth=depth, in_ch=1, classes=6, width=w, in_hw=28, stem_k=3, stem_s=1)
        x = np.random.default_rng(depth).random((3, 1, 28, 28)).astype(np.float32)
    R.randomise(model, 11 + depth, gain=0.8, bias=0.1)
    y = np.arange(x.shape[0]) % 6
    with tempfile.TemporaryDirectory(prefix="nd_cordsnet_grad_") as tmp:
        path = os.path.join(tmp, "w.safetensors")
        R.save_safetensors(path, model.state_dict())
        got_loss, got = nd_grads(lib, path, x, y, t, tmp)
    model = model.double()
    loss = R.ref_loss(model, x, y, t)
    loss.backward()
    ref = {k: p.grad.detach().numpy() for k, p in model.named_parameters()}
    assert abs(got_loss - float(loss)) <= 1e-5 * abs(float(loss)) + 1e-7, (got_loss, float(loss))
    assert set(got) == set(ref), set(got) ^ set(ref)
    for k, r in ref.items():
        a = got[k].reshape(r.shape)
        scale = np.max(np.abs(r))
        if scale == 0:
            assert np.max(np.abs(a)) == 0, k
            continue
        err = np.max(np.abs(a - r)) / scale
        assert err < 1e-4, (k, err, scale)
