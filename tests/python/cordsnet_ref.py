"""A PyTorch CordsNet written from the description of upstream's model
(wmws2/cordsnet cordsnet.py: architecture table, Jacobi explicit Euler with
alpha = dt/tau, the conv applied to the sum of an area's inputs, per-unit
biases, weight norm on every conv/linear, 100 zero-input + 100 image steps,
readout at the last step), independent of neurodyn's C code.  Its
state_dict keys are upstream's; `save_safetensors` writes them for
neurodyn.  Used by test_cordsnet_torch.py and bench/cordsnet_bench.py."""
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.utils.parametrize as parametrize


class _WeightNorm(nn.Module):
    """W = g v / ||v|| with the norm over all dims but 0 -- what
    torch.nn.utils.parametrizations.weight_norm (torch >= 2.1) registers;
    written out here for older torch.  Parameters: original0 = g, original1 = v."""

    def forward(self, g, v):
        dims = tuple(range(1, v.dim()))
        return g * v / (v * v).sum(dim=dims, keepdim=True).sqrt()

    def right_inverse(self, w):
        dims = tuple(range(1, w.dim()))
        return (w * w).sum(dim=dims, keepdim=True).sqrt(), w


def weight_norm(module):
    try:
        from torch.nn.utils.parametrizations import weight_norm as wn
        return wn(module)
    except ImportError:
        parametrize.register_parametrization(module, "weight", _WeightNorm(), unsafe=True)
        return module

MULT = [1, 1, 1, 2, 2, 4, 4, 8, 8]
STRIDES = [1, 1, 2, 1, 2, 1, 2, 1]


class RefCordsNet(nn.Module):
    """depth areas; stem conv k x k stride s (upstream 7/2; native 3/1) + AvgPool(3,2,1)."""

    def __init__(self, depth=8, in_ch=3, classes=1000, width=64, in_hw=224, stem_k=7, stem_s=2):
        super().__init__()
        self.depth = depth
        ch = [width * m for m in MULT]
        self.inp_conv = weight_norm(nn.Conv2d(in_ch, ch[0], stem_k, stem_s, stem_k // 2, bias=False))
        self.inp_avgpool = nn.AvgPool2d(3, 2, 1)
        self.inp_skip = weight_norm(nn.Conv2d(ch[0], ch[0], 3, 1, 1, bias=False))
        h = (in_hw + 2 * (stem_k // 2) - stem_k) // stem_s + 1
        h = (h + 2 - 3) // 2 + 1
        sizes = []
        for j in range(depth):
            h = (h + 2 - 3) // STRIDES[j] + 1
            sizes.append(h)
        self.sizes = sizes
        self.chs = ch[1:depth + 1]
        self.area_conv = nn.ModuleList(
            [weight_norm(nn.Conv2d(ch[j + 1], ch[j + 1], 3, 1, 1, bias=False)) for j in range(depth)])
        self.conv_bias = nn.ParameterList(
            [nn.Parameter(torch.zeros(ch[j + 1], sizes[j], sizes[j])) for j in range(depth)])
        self.area_area = nn.ModuleList(
            [weight_norm(nn.Conv2d(ch[j], ch[j + 1], 3, STRIDES[j], 1, bias=False)) for j in range(depth)])
        # skip_area[k] feeds area 2k+3 from area 2k+1 (1x1, stride 2)
        self.skip_area = nn.ModuleList(
            [weight_norm(nn.Conv2d(ch[2 * k + 2], ch[2 * k + 4], 1, 2, 0, bias=False)) for k in range(depth // 2 - 1)])
        self.out_fc = weight_norm(nn.Linear(ch[depth], classes))

    def area_input(self, j, r, inp):
        relu = torch.relu
        if j == 0:
            return inp
        if j == 1:
            return relu(r[0]) + self.inp_skip(inp)
        if j % 2 == 0:
            return relu(r[j - 1]) + relu(r[j - 2])
        return relu(r[j - 1]) + self.skip_area[(j - 3) // 2](relu(r[j - 2]))

    def step(self, r, inp, alpha):
        new = list(r)
        for j in range(self.depth):  # every area from the previous states (Jacobi)
            u = self.area_input(j, r, inp)
            new[j] = (1 - alpha) * r[j] + alpha * torch.relu(
                self.area_conv[j](r[j]) + self.conv_bias[j] + self.area_area[j](u))
        return new

    def readout(self, r):
        x = torch.relu(r[self.depth - 1]) + torch.relu(r[self.depth - 2])
        return self.out_fc(x.mean(dim=(2, 3)))

    def forward(self, x, steps_spont=100, steps=100, alpha=0.2, record=()):
        b = x.shape[0]
        r = [torch.zeros(b, c, s, s, dtype=x.dtype) for c, s in zip(self.chs, self.sizes)]
        traj = {j: [] for j in record}
        zero = self.inp_avgpool(self.inp_conv(x * 0))
        for _ in range(steps_spont):
            r = self.step(r, zero, alpha)
            for j in record:
                traj[j].append(r[j])
        inp = self.inp_avgpool(self.inp_conv(x))
        for _ in range(steps):
            r = self.step(r, inp, alpha)
            for j in record:
                traj[j].append(r[j])
        return self.readout(r), {j: torch.stack(v) for j, v in traj.items()}


def randomise(model, seed, gain=0.6, bias=0.05):
    """Random weights with g scaled so that the dynamics stay bounded; random
    per-unit biases and classifier bias."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("original1"):
                p.copy_(torch.rand(p.shape, generator=g) * 2 - 1)
            elif name.endswith("original0"):
                p.copy_(gain * (0.5 + torch.rand(p.shape, generator=g)))
            else:
                p.copy_(bias * (torch.rand(p.shape, generator=g) * 2 - 1))


def save_safetensors(path, tensors, metadata=None):
    """Minimal safetensors writer (F32), names as given."""
    header, blobs, off = {}, [], 0
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k].detach().cpu().numpy().astype("<f4"))
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"])
    return out


# ---------------------------------------------------------------- neurodyn through ctypes
import ctypes as _ct


class NdRun(_ct.Structure):
    _fields_ = [("steps_spont", _ct.c_int), ("steps", _ct.c_int), ("alpha", _ct.c_float)]


class NdTrain(_ct.Structure):
    _fields_ = [("run", NdRun), ("ce_steps", _ct.c_int), ("post_steps", _ct.c_int),
                ("penalty_steps", _ct.c_int), ("penalty", _ct.c_float), ("truncate", _ct.c_int),
                ("checkpoint_every", _ct.c_int)]


def bind(L):
    """Declares the nd_cordsnet_* functions on a ctypes CDLL of libneurodyn.so."""
    VP, F, I64 = _ct.c_void_p, _ct.POINTER(_ct.c_float), _ct.c_int64
    sig = {
        "nd_cordsnet_load": (_ct.c_int, [_ct.c_char_p, _ct.c_int, _ct.POINTER(VP)]),
        "nd_cordsnet_save": (_ct.c_int, [VP, _ct.c_char_p]),
        "nd_cordsnet_free": (None, [VP]),
        "nd_cordsnet_num_params": (I64, [VP]),
        "nd_cordsnet_params": (F, [VP]),
        "nd_cordsnet_grad": (F, [VP]),
        "nd_cordsnet_weights_changed": (None, [VP]),
        "nd_cordsnet_forward": (_ct.c_int, [VP, _ct.POINTER(NdRun), F, I64, F]),
        "nd_cordsnet_loss_grad": (_ct.c_int, [VP, _ct.POINTER(NdTrain), F, _ct.POINTER(_ct.c_int32), I64,
                                              _ct.POINTER(_ct.c_double), _ct.POINTER(I64)]),
        "nd_cordsnet_bptt_bytes": (_ct.c_size_t, [VP]),
        "nd_last_error": (_ct.c_char_p, []),
    }
    for name, (res, args) in sig.items():
        f = getattr(L, name)
        f.restype, f.argtypes = res, args
    return L


def fptr(a):
    return a.ctypes.data_as(_ct.POINTER(_ct.c_float))


def nd_load(L, path):
    m = _ct.c_void_p()
    if L.nd_cordsnet_load(path.encode(), 0, _ct.byref(m)) != 0:
        raise RuntimeError(L.nd_last_error().decode())
    return m


def nd_loss_grad(L, m, tr, x, y):
    """(loss, correct) of one nd_cordsnet_loss_grad call; x float32 NCHW, y int32."""
    import numpy as _np
    xs = _np.ascontiguousarray(x, dtype=_np.float32)
    ys = _np.ascontiguousarray(y, dtype=_np.int32)
    loss, correct = _ct.c_double(), _ct.c_int64()
    rc = L.nd_cordsnet_loss_grad(m, _ct.byref(tr), fptr(xs), ys.ctypes.data_as(_ct.POINTER(_ct.c_int32)),
                                 xs.shape[0], _ct.byref(loss), _ct.byref(correct))
    if rc != 0:
        raise RuntimeError(L.nd_last_error().decode())
    return loss.value, correct.value


def ref_loss(model, x, y, t, dtype=None):
    """Upstream's training loss (training/class_rnn_5_final.py as described)
    on the reference model: no-grad spontaneous phase, then `steps` image
    steps scored at the last `ce` by a logspace(-3, 0, ce) ramp (averaged),
    then `post` zero-input steps whose last `q` carry penalty * sum_j
    mean((r_j - spont_j)^2) / (D q); BPTT truncated to the last `truncate`
    steps when > 0.  Returns the loss tensor."""
    dtype = dtype or torch.float64
    xb = torch.as_tensor(x).to(dtype)
    b, D = xb.shape[0], model.depth
    r = [torch.zeros(b, c, s, s, dtype=dtype) for c, s in zip(model.chs, model.sizes)]
    with torch.no_grad():
        zero = model.inp_avgpool(model.inp_conv(xb * 0))
        for _ in range(t["spont"]):
            r = model.step(r, zero, t["alpha"])
    base = [v.clone() for v in r]
    inp = model.inp_avgpool(model.inp_conv(xb))
    S, K, P, Q = t["steps"], t["ce"], t["post"], t["q"]
    total = S + P
    ramp = torch.logspace(-3, 0, K, dtype=dtype) if K > 1 else torch.ones(1, dtype=dtype)
    yt = torch.as_tensor(y).long()
    start = total - t["truncate"] if t["truncate"] else 0
    loss = 0
    for s in range(1, total + 1):
        if s == start + 1:
            r = [v.detach() for v in r]
        r = model.step(r, inp if s <= S else zero, t["alpha"])
        if S - K + 1 <= s <= S:
            loss = loss + ramp[s - (S - K + 1)] / K * torch.nn.functional.cross_entropy(model.readout(r), yt)
        if P > 0 and s >= total - Q + 1:
            loss = loss + t["penalty"] / (D * Q) * sum(((r[j] - base[j]) ** 2).mean() for j in range(D))
    return loss


def nd_train(t):
    return NdTrain(NdRun(t["spont"], t["steps"], t["alpha"]), t["ce"], t["post"], t["q"], t["penalty"],
                   t["truncate"], t["cp"])
