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
