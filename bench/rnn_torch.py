"""Time per training step of the same cells in PyTorch, trained by ordinary
BPTT (autograd stores every step), against `neurodyn train rnn` in the same
run (docs/RESULTS.md "Training through time: time per step").

  tanh:    h_t = tanh(W h_{t-1} + U x_t + b)
  unitary: h_t = R h_{t-1} + U x_t, R = L layers of Givens rotations on
           alternating neighbour pairs (Jing et al. 2017, real form)
readout y_t = V h_t + c, softmax cross-entropy on the copy task
(Arjovsky et al. 2016), Adam; float64 like neurodyn.

usage: python3 bench/rnn_torch.py path/to/neurodyn [T] [steps]
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import torch

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)


def copy_batch(T, B, g):
    L = T + 20
    sym = torch.randint(0, 8, (B, 10), generator=g)
    x = torch.zeros(L, B, 10)
    lab = torch.full((L, B), 8, dtype=torch.long)
    x[torch.arange(10)[:, None], torch.arange(B)[None, :], sym.T] = 1
    x[10:T + 9, :, 8] = 1
    x[T + 9, :, 9] = 1
    x[T + 10:, :, 8] = 1
    lab[T + 10:] = sym.T
    return x, lab


class Givens(torch.nn.Module):
    def __init__(self, n, L):
        super().__init__()
        self.n, self.L = n, L
        self.theta = torch.nn.Parameter(torch.empty(L, n // 2).uniform_(-math.pi, math.pi))

    def forward(self, h):
        for l in range(self.L):
            off = l % 2
            np_ = (self.n - 1) // 2 if off else self.n // 2
            i = torch.arange(np_) * 2 + off
            j = i + 1
            c, s = torch.cos(self.theta[l, :np_]), torch.sin(self.theta[l, :np_])
            hi, hj = h[:, i], h[:, j]
            h = h.clone()
            h[:, i] = c * hi - s * hj
            h[:, j] = s * hi + c * hj
        return h


class Net(torch.nn.Module):
    def __init__(self, cell, n, L):
        super().__init__()
        self.cell = cell
        self.U = torch.nn.Linear(10, n, bias=cell == "tanh")
        self.W = torch.nn.Linear(n, n, bias=False) if cell == "tanh" else Givens(n, L)
        self.V = torch.nn.Linear(n, 9)

    def forward(self, x):
        h = torch.zeros(x.shape[1], self.V.in_features)
        ys = []
        for t in range(x.shape[0]):
            a = self.W(h) + self.U(x[t])
            h = torch.tanh(a) if self.cell == "tanh" else a
            ys.append(self.V(h))
        return torch.stack(ys)


def torch_step_time(cell, T, B, n, L, steps):
    g = torch.Generator().manual_seed(0)
    net = Net(cell, n, L)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, lab = copy_batch(T, B, g)
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        y = net(x)
        loss = torch.nn.functional.cross_entropy(y.reshape(-1, 9), lab.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    return sorted(times[1:])[len(times[1:]) // 2]


def neurodyn_step_time(nd, cell, T, B, n, L, steps):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([nd, "train", "rnn", "--cell", cell, "--length", str(T), "--batch", str(B), "--hidden", str(n),
                        "--layers", str(L), "--steps", str(steps), "--epochs", "1", "--val-batches", "1",
                        "--threads", "1", "--quiet", "--out", d + "/r"], check=True)
        with open(d + "/r/metrics.jsonl") as f:
            return json.loads(f.readline())["seconds"] / steps


def main():
    nd = sys.argv[1]
    T = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    B, n, L = 32, 128, 8
    print(f"load {os.getloadavg()[0]:.2f}; T={T} B={B} n={n} L={L}, float64, 1 thread, neurodyn: mean of {steps} steps, torch: median")
    print("cell        neurodyn_ms  torch_bptt_ms  ratio")
    for cell in ("tanh", "unitary", "reversible"):
        ours = neurodyn_step_time(nd, cell, T, B, n, L, steps) * 1e3
        if cell == "reversible":
            print(f"{cell:<11} {ours:11.2f}  {'-':>13}  -")
            continue
        theirs = torch_step_time(cell, T, B, n, L, steps) * 1e3
        print(f"{cell:<11} {ours:11.2f}  {theirs:13.2f}  {theirs / ours:5.2f}")


if __name__ == "__main__":
    main()
