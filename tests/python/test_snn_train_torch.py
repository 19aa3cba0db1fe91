"""neurodyn's surrogate-gradient BPTT (include/neurodyn/snn.h, "training")
against PyTorch autograd through the reference loop of
bench/snn_train_torch.py (written from the equations, the spike's backward
the pseudo-derivative, the reset detached): the loss and every gradient, for
LIF, ALIF and the rate network, with and without the readout leak.
tests/tools/snn_grad_tool.c writes the inputs, weights and neurodyn's
gradients.  Skipped without torch or the tool."""
import os
import subprocess
import sys

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")

SRC = os.environ.get("ND_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "bench"))
import snn_train_torch as ref  # noqa: E402

TOOL = os.path.join(os.environ.get("ND_BUILD_DIR", ""), "snn_grad_tool")


@pytest.mark.parametrize("unit,tau_out", [("lif", 20.0), ("alif", 20.0), ("alif", 0.0), ("rate", 20.0)])
def test_bptt_matches_torch(tmp_path, unit, tau_out):
    if not os.path.exists(TOOL):
        pytest.skip("snn_grad_tool not built")
    subprocess.run([TOOL, str(tmp_path), unit, "bptt", "60", "4", "7", "24", "3", str(tau_out), "5"], check=True)
    ld = lambda n: torch.from_numpy(np.load(tmp_path / f"{n}.npy")).double()
    x, labels = ld("x"), ld("labels").long()
    params = [ld(n).requires_grad_() for n in ("w_in", "w_rec", "w_out", "b_out")]
    cfg = ref.defaults()
    cfg.update(unit=unit, tau_out=tau_out, tau_a=50.0)
    loss = ref.loss_fn(x, labels, *params, cfg)
    loss.backward()
    nd_loss = float(np.load(tmp_path / "loss.npy")[0])
    assert abs(float(loss) - nd_loss) < 1e-4 * max(1.0, abs(nd_loss))
    gmax = max(float(p.grad.abs().max()) for p in params)
    assert gmax > 1e-3
    for name, p in zip(("w_in", "w_rec", "w_out", "b_out"), params):
        g_nd = ld("g_" + name)
        err = float((p.grad - g_nd).abs().max())
        assert err < 1e-4 * gmax + 1e-6, f"{unit} {name}: max |torch - neurodyn| = {err:.3g} (|g|max {gmax:.3g})"
