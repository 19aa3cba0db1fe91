"""`neurodyn convert model.pth model.safetensors` against PyTorch itself.

Checkpoints are written here by Debian's torch.save (the zip format) with
upstream CordsNet's state_dict key names (wmws2/cordsnet cordsnet.py: weight
norm's parametrizations.weight.original0|1, per-unit conv_bias.{j}) and
random weights, and with the storage layouts a reader can get wrong: float16
and float64 storages, transposed / sliced / expanded (stride 0) views,
storage offsets, several tensors on one storage, one tensor under two keys.
The safetensors output is read here by a few lines of NumPy (the format's
8-byte length and JSON header), so the reference is PyTorch's own tensors.

Hostile files (a pickle whose REDUCE would call os.system, an unknown global,
a view longer than its storage, a storage file shorter than the pickle says,
...) must exit 2 with a message, leave no output file and run nothing: the
os.system payload would create a marker file, which must not exist.
Skipped when torch or the CLI is missing."""
import collections
import io
import json
import os
import pickle
import struct
import subprocess
import zipfile

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")

CLI = os.environ.get("ND_CLI", "")


@pytest.fixture(scope="module")
def cli():
    if not CLI or not os.path.exists(CLI):
        pytest.skip("ND_CLI (the neurodyn program) not found")
    return CLI


def read_safetensors(path):
    """name -> numpy array, from the format's definition (8-byte little-endian
    header length, JSON header, byte buffer)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    dt = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "BOOL": "?", "I8": "i1"}
    out = {}
    base = 8 + n
    for k, v in header.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        out[k] = np.frombuffer(raw[base + b : base + e], dtype=dt[v["dtype"]]).reshape(v["shape"])
    return out


def wn(shape, gen):
    """A weight-normed weight's (original0 = g, original1 = v), dim 0."""
    v = torch.randn(*shape, generator=gen)
    g = torch.rand(shape[0], *([1] * (len(shape) - 1)), generator=gen) + 0.5
    return g, v


def cordsnet_state_dict(depth, chans, hw, classes, inp_ch=3, seed=0):
    """Upstream's key layout (upstream.md section 2.2) for CordsNet-R<depth>:
    chans[j] channels and hw[j] size for area j."""
    gen = torch.Generator().manual_seed(seed)
    sd = collections.OrderedDict()

    def conv(name, cout, cin, k):
        g, v = wn((cout, cin, k, k), gen)
        sd[name + ".parametrizations.weight.original0"] = g
        sd[name + ".parametrizations.weight.original1"] = v

    conv("inp_conv", chans[0], inp_ch, 7)
    conv("inp_skip", chans[0], chans[0], 3)
    for j in range(depth):
        conv(f"area_conv.{j}", chans[j], chans[j], 3)
    for j in range(depth):
        cin = chans[0] if j == 0 else chans[j - 1]
        conv(f"area_area.{j}", chans[j], cin, 3)
    for j in range(depth):
        sd[f"conv_bias.{j}"] = torch.randn(chans[j], hw[j], hw[j], generator=gen)
    for k in range(depth // 2 - 1):
        conv(f"skip_area.{k}", chans[2 * k + 3], chans[2 * k + 2 - 1], 1)
    g, v = wn((classes, chans[-1]), gen)
    sd["out_fc.parametrizations.weight.original0"] = g
    sd["out_fc.parametrizations.weight.original1"] = v
    sd["out_fc.bias"] = torch.randn(classes, generator=gen)
    return sd


def run(cli, *args):
    return subprocess.run([cli, *args], capture_output=True, text=True, timeout=120)


def convert_ok(cli, tmp_path, sd, name="model", extra=()):
    src = tmp_path / f"{name}.pth"
    dst = tmp_path / f"{name}.safetensors"
    torch.save(sd, src)
    r = run(cli, "convert", *extra, str(src), str(dst))
    assert r.returncode == 0, r.stderr
    return r, read_safetensors(dst)


@pytest.mark.parametrize("depth", [2, 4, 8])
def test_cordsnet_layout(cli, tmp_path, depth):
    chans = [4, 4, 6, 6, 8, 8, 10, 10][:depth]
    hw = [8, 8, 4, 4, 2, 2, 1, 1][:depth]
    sd = cordsnet_state_dict(depth, chans, hw, classes=5)
    r, got = convert_ok(cli, tmp_path, sd, extra=("--layout", "cordsnet"))
    assert f"depth {depth} (CordsNet-R{depth})" in r.stdout, r.stdout
    assert sorted(got) == sorted(sd), "names: upstream's keys, unchanged"
    for k, v in sd.items():
        assert got[k].dtype == np.float32, k
        assert got[k].shape == tuple(v.shape), k
        np.testing.assert_array_equal(got[k], v.numpy(), err_msg=k)


def test_layout_refused(cli, tmp_path):
    sd = cordsnet_state_dict(4, [4, 4, 6, 6], [8, 8, 4, 4], classes=3)
    del sd["skip_area.0.parametrizations.weight.original1"]
    src, dst = tmp_path / "m.pth", tmp_path / "m.safetensors"
    torch.save(sd, src)
    r = run(cli, "convert", "--layout", "cordsnet", str(src), str(dst))
    assert r.returncode == 2 and "skip_area.0" in r.stderr, r.stderr
    assert not dst.exists()
    # without --layout the same file converts, with no layout claim
    r = run(cli, "convert", str(src), str(dst))
    assert r.returncode == 0 and "CordsNet" not in r.stdout, r.stdout + r.stderr


def test_dtypes_and_views(cli, tmp_path):
    gen = torch.Generator().manual_seed(1)
    base = torch.randn(6, 5, generator=gen)
    shared = torch.randn(4, 3, generator=gen)
    sd = collections.OrderedDict()
    sd["half"] = torch.randn(3, 4, generator=gen).half()
    sd["double"] = torch.randn(2, 3, 4, generator=gen).double()
    sd["transposed"] = base.t()  # strides (1, 5)
    sd["sliced"] = base[1:5:2, ::2]  # offset 5, strides (10, 2)
    sd["expanded"] = torch.randn(3, generator=gen).expand(4, 3)  # stride (0, 1)
    sd["row0"] = shared[0]  # two views of one storage
    sd["row2"] = shared[2]  # storage offset 6
    sd["again"] = sd["transposed"]  # one tensor, two keys
    sd["half_t"] = torch.randn(5, 3, generator=gen).half().t()
    sd["steps"] = torch.tensor(17, dtype=torch.int64)  # 0-d integer (BatchNorm's num_batches_tracked)
    sd["mask"] = torch.tensor([True, False, True])
    sd["empty"] = torch.zeros(0, 3)
    sd["five_d"] = torch.randn(1, 2, 1, 3, 2, generator=gen).permute(4, 3, 2, 1, 0)
    _, got = convert_ok(cli, tmp_path, sd)
    assert sorted(got) == sorted(sd)
    for k, v in sd.items():
        want = v.numpy()
        if want.dtype.kind == "f":
            want = want.astype(np.float32)  # f16 -> f32 exact; f64 -> f32 rounded to nearest, as NumPy does
            assert got[k].dtype == np.float32, k
        else:
            assert got[k].dtype == want.dtype, k
        assert got[k].shape == want.shape, k
        np.testing.assert_array_equal(got[k], want, err_msg=k)
    # --keep-dtype: the storages' dtypes kept
    _, kept = convert_ok(cli, tmp_path, sd, name="kept", extra=("--keep-dtype",))
    assert kept["half"].dtype == np.float16 and kept["double"].dtype == np.float64
    np.testing.assert_array_equal(kept["double"], sd["double"].numpy())
    np.testing.assert_array_equal(kept["half_t"], sd["half_t"].numpy())


def test_parameters_and_module_state_dict(cli, tmp_path):
    """nn.Module.state_dict() (OrderedDict with _metadata set by BUILD), and
    a dict of nn.Parameter (torch._utils._rebuild_parameter)."""
    torch.manual_seed(2)
    m = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))
    sd = m.state_dict()
    _, got = convert_ok(cli, tmp_path, sd, name="module")
    assert sorted(got) == sorted(sd)
    for k, v in sd.items():
        np.testing.assert_array_equal(got[k], v.numpy().astype(got[k].dtype), err_msg=k)
    params = {"w": torch.nn.Parameter(torch.randn(2, 2)), "b": torch.nn.Parameter(torch.randn(2))}
    _, got = convert_ok(cli, tmp_path, params, name="params")
    for k, v in params.items():
        np.testing.assert_array_equal(got[k], v.detach().numpy(), err_msg=k)


# ---------------------------------------------------------------- hostile files


def write_zip(path, pkl, storages=(), prefix="archive"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", pkl)
        for key, data in storages:
            z.writestr(f"{prefix}/data/{key}", data)
        z.writestr(f"{prefix}/version", "3\n")


class FakeStorage:
    def __init__(self, key, numel, typ):
        self.key, self.numel, self.typ = key, numel, typ


class FakeTensor:
    """Pickles as _rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class FakePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", obj.typ, obj.key, "cpu", obj.numel)
        return None


def fake_pickle(obj):
    buf = io.BytesIO()
    FakePickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


class CallsSystem:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def expect_refused(cli, tmp_path, path, *needles):
    dst = tmp_path / "out.safetensors"
    r = run(cli, "convert", str(path), str(dst))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("neurodyn convert:"), r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)
    assert not dst.exists()
    assert not [p for p in os.listdir(tmp_path) if ".tmp." in p], "a temporary file was left behind"
    return r


def test_hostile_os_system(cli, tmp_path):
    marker = tmp_path / "PWNED"
    cmd = f"touch {marker}"
    # a state_dict value whose unpickling would call os.system, as torch.save writes it
    bad = tmp_path / "system.pth"
    torch.save({"w": torch.zeros(2), "x": CallsSystem(cmd)}, bad)
    expect_refused(cli, tmp_path, bad, "system", "not allowed")
    # the same pickle alone in a hand-made archive, and as the whole object
    bad2 = tmp_path / "system2.pth"
    write_zip(bad2, pickle.dumps(CallsSystem(cmd), protocol=2))
    expect_refused(cli, tmp_path, bad2, "system", "not allowed")
    bad3 = tmp_path / "system4.pth"
    write_zip(bad3, pickle.dumps(CallsSystem(cmd), protocol=4))  # STACK_GLOBAL, FRAME, MEMOIZE
    expect_refused(cli, tmp_path, bad3, "system", "not allowed")
    # sanity: Python's own unpickler would have run it
    assert not marker.exists(), "the payload ran"
    pickle.loads(pickle.dumps(CallsSystem(cmd)))
    assert marker.exists(), "the payload is not a real one"


def test_hostile_unknown_global(cli, tmp_path):
    bad = tmp_path / "counter.pth"
    torch.save({"w": torch.zeros(2), "c": collections.Counter("ab")}, bad)
    expect_refused(cli, tmp_path, bad, "collections.Counter", "not allowed")
    bad = tmp_path / "numpy.pth"
    torch.save({"a": np.zeros(3)}, bad)
    expect_refused(cli, tmp_path, bad, "numpy", "not allowed")


def test_hostile_short_storage(cli, tmp_path):
    st = FakeStorage("0", 3, torch.FloatStorage)
    # a view of 5 elements on a storage of 3
    bad = tmp_path / "view.pth"
    write_zip(bad, fake_pickle({"w": FakeTensor(st, 0, (5,), (1,))}), [("0", np.zeros(3, np.float32).tobytes())])
    expect_refused(cli, tmp_path, bad, "storage '0'", "holds 3 elements")
    # a view whose offset and strides go past the end
    bad = tmp_path / "strided.pth"
    write_zip(bad, fake_pickle({"w": FakeTensor(st, 1, (2,), (2,))}), [("0", np.zeros(3, np.float32).tobytes())])
    expect_refused(cli, tmp_path, bad, "storage '0'")
    # the pickle says 3 floats, the archive's storage holds 2
    bad = tmp_path / "file.pth"
    write_zip(bad, fake_pickle({"w": FakeTensor(st, 0, (3,), (1,))}), [("0", np.zeros(2, np.float32).tobytes())])
    expect_refused(cli, tmp_path, bad, "data/0", "8 bytes", "12 are needed")
    # no storage file at all
    bad = tmp_path / "missing.pth"
    write_zip(bad, fake_pickle({"w": FakeTensor(st, 0, (3,), (1,))}))
    expect_refused(cli, tmp_path, bad, "storage '0'")
    # negative offset, a 9-dimensional view
    bad = tmp_path / "neg.pth"
    write_zip(bad, fake_pickle({"w": FakeTensor(st, -1, (1,), (1,))}), [("0", np.zeros(3, np.float32).tobytes())])
    expect_refused(cli, tmp_path, bad, "offset")
    bad = tmp_path / "dims.pth"
    write_zip(bad, fake_pickle({"w": FakeTensor(st, 0, (1,) * 9, (1,) * 9)}), [("0", np.zeros(3, np.float32).tobytes())])
    expect_refused(cli, tmp_path, bad, "9 dimensions")


def test_not_a_state_dict(cli, tmp_path):
    bad = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], bad)
    expect_refused(cli, tmp_path, bad, "not a dict")
    bad = tmp_path / "wrapped.pth"
    torch.save({"model": {"w": torch.zeros(2)}, "epoch": 3}, bad)
    expect_refused(cli, tmp_path, bad, "'model'", "state_dict")
    bad = tmp_path / "legacy.pth"
    torch.save({"w": torch.zeros(2)}, bad, _use_new_zipfile_serialization=False)
    expect_refused(cli, tmp_path, bad, "legacy")
    bad = tmp_path / "nopkl.pth"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("archive/version", "3\n")
    expect_refused(cli, tmp_path, bad, "data.pkl")
    bad = tmp_path / "cut.pth"
    torch.save({"w": torch.zeros(2)}, tmp_path / "whole.pth")
    raw = (tmp_path / "whole.pth").read_bytes()
    bad.write_bytes(raw[: len(raw) // 2])
    expect_refused(cli, tmp_path, bad, "cut.pth")
