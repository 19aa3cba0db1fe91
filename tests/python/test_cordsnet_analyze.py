"""`neurodyn analyze cordsnet` against NumPy/PyTorch references written here
from upstream.md section 2.2 (not from neurodyn):

- each area's recurrent conv W_j = g v / ||v|| (weight norm, dim 0) as a
  dense matrix, built by applying torch's conv2d to the identity basis; its
  eigenvalues by numpy.linalg.eigvals must be the Ritz values neurodyn
  reports with a Krylov space as large as the area (exact Arnoldi);
- the spontaneous phase (zero input, Jacobi explicit Euler from r = 0) run in
  torch, then the Jacobian of one full-network step at that state by
  torch.autograd (dense, all areas together): its eigenvalues must be the
  union of neurodyn's per-area Jacobian blocks (the block-triangular
  argument of docs/cordsnet-analysis.md);
- power iteration's leading value against numpy's dominant real eigenvalue.
Skipped when torch or the CLI is missing."""
import json
import os
import struct
import subprocess

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
F = torch.nn.functional

CLI = os.environ.get("ND_CLI", "")


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k, v in tensors.items():
        b = np.ascontiguousarray(v, dtype="<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def make_weights(depth=4, width=4, hw0=8, classes=3, seed=0, rec_scale=1.0):
    """Upstream's layout: channels w,w,2w,2w,..., sizes hw0, hw0, hw0/2, ...;
    input 4*hw0 (stem conv 7x7 s2 + avgpool s2)."""
    rng = np.random.default_rng(seed)
    chans = [width * (2 ** (j // 2)) for j in range(depth)]
    hws = [hw0 // (2 ** (j // 2)) for j in range(depth)]
    t = {}

    def wn(name, shape, scale=1.0):
        v = rng.standard_normal(shape).astype(np.float32)
        g = (scale * (0.5 + rng.random((shape[0],) + (1,) * (len(shape) - 1)))).astype(np.float32)
        t[name + ".parametrizations.weight.original0"] = g
        t[name + ".parametrizations.weight.original1"] = v

    wn("inp_conv", (chans[0], 3, 7, 7))
    wn("inp_skip", (chans[0], chans[0], 3, 3))
    for j in range(depth):
        wn(f"area_conv.{j}", (chans[j], chans[j], 3, 3), rec_scale)
        cin = chans[0] if j == 0 else chans[j - 1]
        wn(f"area_area.{j}", (chans[j], cin, 3, 3), 0.5)
        t[f"conv_bias.{j}"] = (rng.standard_normal((chans[j], hws[j], hws[j])) * 0.5 + 0.2).astype(np.float32)
    for k in range(depth // 2 - 1):
        wn(f"skip_area.{k}", (chans[2 * k + 3], chans[2 * k + 1], 1, 1), 0.5)
    wn("out_fc", (classes, chans[-1]))
    t["out_fc.bias"] = rng.standard_normal(classes).astype(np.float32)
    return t, chans, hws


def fold(t, name):
    g = torch.from_numpy(t[name + ".parametrizations.weight.original0"]).double()
    v = torch.from_numpy(t[name + ".parametrizations.weight.original1"]).double()
    n = v.flatten(1).norm(dim=1).reshape(g.shape)
    return g * v / n


def conv_matrix(w, c, h, wd):
    eye = torch.eye(c * h * wd, dtype=torch.float64).reshape(-1, c, h, wd)
    cols = F.conv2d(eye, w, padding=w.shape[-1] // 2).reshape(c * h * wd, -1)
    return cols.T.numpy()  # column i = W e_i


def step(t, rs, depth, alpha):
    """One Jacobi explicit-Euler step with zero input (upstream.md 2.2): inp = 0."""
    relu = torch.relu
    out = []
    for j in range(depth):
        if j == 0:
            u = torch.zeros_like(rs[0])
        elif j == 1:
            u = relu(rs[0])  # + inp_skip(0) = 0
        elif j % 2 == 0:
            u = relu(rs[j - 1]) + relu(rs[j - 2])
        else:
            skip = fold(t, f"skip_area.{(j - 3) // 2}")
            u = relu(rs[j - 1]) + F.conv2d(relu(rs[j - 2]), skip, stride=2)
        aa = fold(t, f"area_area.{j}")
        stride = 2 if (j % 2 == 0 and j > 0) else 1
        z = (
            F.conv2d(rs[j], fold(t, f"area_conv.{j}"), padding=1)
            + torch.from_numpy(t[f"conv_bias.{j}"]).double()[None]
            + F.conv2d(u, aa, stride=stride, padding=1)
        )
        out.append((1 - alpha) * rs[j] + alpha * relu(z))
    return out


def match(got, want, tol):
    """Every value of want has a distinct value of got within tol (greedy by modulus)."""
    got = list(got)
    assert len(got) == len(want), (len(got), len(want))
    for w in sorted(want, key=lambda z: -abs(z)):
        d = [abs(g - w) for g in got]
        i = int(np.argmin(d))
        assert d[i] <= tol, (w, got[i], d[i])
        got.pop(i)


@pytest.fixture(scope="module")
def run_analyze(tmp_path_factory):
    if not CLI or not os.path.exists(CLI):
        pytest.skip("ND_CLI (the neurodyn program) not found")
    d = tmp_path_factory.mktemp("analyze")
    t, chans, hws = make_weights(width=2)
    w = d / "r4.safetensors"
    write_safetensors(w, t)
    out = d / "out"
    r = subprocess.run(
        [CLI, "analyze", "cordsnet", "--weights", str(w), "--out", str(out), "--krylov", "1000", "--power-iters", "300", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr
    with open(out / "spectra.json") as f:
        rep = json.load(f)
    return t, chans, hws, rep, out, r.stdout


def test_conv_spectra(run_analyze):
    t, chans, hws, rep, out, _ = run_analyze
    assert rep["depth"] == 4 and len(rep["areas"]) == 4
    for a in rep["areas"]:
        j = a["area"]
        c, h = chans[j], hws[j]
        assert a["shape"] == [c, h, h]
        A = conv_matrix(fold(t, f"area_conv.{j}"), c, h, h)
        ev = np.linalg.eigvals(A)
        got = [complex(re, im) for re, im in a["eigenvalues"]]
        rho = np.abs(ev).max()
        match(got, ev, 1e-4 * rho)
        assert abs(a["spectral_radius"] - rho) <= 1e-5 * rho
        # the stability verdict from the reference spectrum
        mu = np.abs(1 - rep["alpha"] + rep["alpha"] * ev).max()
        assert abs(a["euler"]["max_abs_mu"] - mu) <= 1e-5
        assert a["euler"]["verdict"] == ("stable" if mu < 1 else "unstable")
        # power iteration: the dominant eigenvalue when it is real with a gap
        top = sorted(ev, key=lambda z: -abs(z))
        if abs(top[0].imag) < 1e-9 and abs(top[1]) < 0.98 * abs(top[0]) and a["leading"]["power"]["converged"]:
            assert abs(a["leading"]["power"]["lambda"] - top[0].real) <= 1e-4 * rho
        gap = 1 - abs(top[1]) / abs(top[0]) if abs(top[0] - top[1]) > 1e-9 * rho else 1 - abs(top[2]) / abs(top[0])
        assert abs(a["leading"]["spectral_gap"] - gap) <= 1e-3


def test_jacobian_at_spontaneous_state(run_analyze):
    t, chans, hws, rep, out, _ = run_analyze
    depth, alpha = rep["depth"], rep["alpha"]
    rs = [torch.zeros(1, chans[j], hws[j], hws[j], dtype=torch.float64) for j in range(depth)]
    with torch.no_grad():
        for _ in range(rep["jacobian"]["steps_spont"]):
            rs = step(t, rs, depth, alpha)
    sizes = [r.numel() for r in rs]

    def flat_step(x):
        parts, at = [], 0
        for j in range(depth):
            parts.append(x[at : at + sizes[j]].reshape(rs[j].shape))
            at += sizes[j]
        return torch.cat([r.flatten() for r in step(t, parts, depth, alpha)])

    x0 = torch.cat([r.flatten() for r in rs])
    J = torch.autograd.functional.jacobian(flat_step, x0).numpy()
    ev = np.linalg.eigvals(J)
    got = []
    for a in rep["areas"]:
        got += [complex(re, im) for re, im in a["jacobian"]["eigenvalues"]]
    # each block's Krylov space closes early (the inactive units make 1 - alpha
    # an eigenvalue of high multiplicity), so compare as sets: every value found
    # is an eigenvalue of J, and every eigenvalue of J is found
    got = np.array(got)
    assert all(np.abs(ev - g).min() <= 1e-4 for g in got)
    assert all(np.abs(got - e).min() <= 1e-4 for e in ev)
    assert all(a["jacobian"]["ritz_values"] < a["n"] for a in rep["areas"])  # the closing happened
    rho = np.abs(ev).max()
    assert abs(rep["jacobian"]["spectral_radius"] - rho) <= 1e-5
    assert rep["jacobian"]["verdict"] == ("stable" if rho < 1 else "unstable")
    # some units are active and some not, so the masks matter
    act = [a["jacobian"]["active_fraction"] for a in rep["areas"]]
    assert 0 < min(act) and max(act) < 1, act


def test_outputs(run_analyze):
    _, chans, hws, rep, out, stdout = run_analyze
    for j in range(4):
        assert (out / f"spectrum_area{j}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for p in ("euler_multipliers.png", "jacobian_spectrum.png"):
        assert (out / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    raw = (out / "eigvecs.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    hdr = json.loads(raw[8 : 8 + n])
    assert hdr["area2.power"]["shape"] == [chans[2], hws[2], hws[2]]
    assert "stable" in stdout
