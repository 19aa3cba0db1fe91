#!/usr/bin/python3
"""PyTorch reference of the trained spiking networks of include/neurodyn/snn.h
("training"), written from the equations (Bellec et al. 2020, Methods;
Neftci, Mostafa & Zenke 2019) independently of neurodyn, as an snnTorch-style
loop: one Python step per time step, the spike a torch.autograd.Function
whose backward is the pseudo-derivative, the reset detached.

  v_t = alpha v_{t-1} + x_t W_in + z_{t-1} W_rec - v_th sg(z_{t-1})
  a_t = rho a_{t-1} + z_{t-1}                          (ALIF)
  z_t = H((v_t - v_th - beta a_t) / v_th), dz/dv = gamma/v_th f(.)
  y_t = kappa y_{t-1} + z_t W_out + b_out, CE at the labelled steps (mean)

Used by tests/python/test_snn_train_torch.py (gradients against neurodyn's
BPTT) and, with --bench, by bench/snn_train.sh: one training step (forward,
backward, Adam) of a batch-128 recurrent network, timed.

usage: snn_train_torch.py --bench [--unit alif] [--batch 128] [--steps 100]
                          [--inputs 40] [--neurons 256] [--outputs 10]
                          [--threads 1] [--repeats 5]
prints one JSON line (wall and CPU seconds per training step, best and median)."""
import argparse, json, math, statistics, time

import torch


def surrogate_f(kind, x, slope):
    if kind == "triangle":
        return torch.clamp(1 - x.abs(), min=0)
    if kind == "fast-sigmoid":
        return 1 / (1 + slope * x.abs()) ** 2
    return 1 / (1 + (math.pi * slope * x) ** 2)


class Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, gamma, kind, slope):
        ctx.save_for_backward(x)
        ctx.gamma, ctx.kind, ctx.slope = gamma, kind, slope
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ctx.gamma * surrogate_f(ctx.kind, x, ctx.slope), None, None, None


def defaults():
    return dict(unit="alif", dt=1.0, tau_m=20.0, tau_a=200.0, tau_out=20.0, v_th=0.6, beta=1.8, gamma=0.3,
                slope=1.0, surrogate="triangle")


def loss_fn(x, labels, w_in, w_rec, w_out, b_out, cfg):
    """x [T, B, I], labels [T, B] (long, -1 unscored): the mean CE."""
    T, B, _ = x.shape
    N, K = w_rec.shape[0], w_out.shape[1]
    alpha = math.exp(-cfg["dt"] / cfg["tau_m"])
    rho = math.exp(-cfg["dt"] / cfg["tau_a"])
    kappa = math.exp(-cfg["dt"] / cfg["tau_out"]) if cfg["tau_out"] > 0 else 0.0
    vth, beta = cfg["v_th"], cfg["beta"] if cfg["unit"] == "alif" else 0.0
    v = x.new_zeros(B, N)
    a = x.new_zeros(B, N)
    z = x.new_zeros(B, N)
    y = x.new_zeros(B, K)
    n_scored = int((labels >= 0).sum())
    loss = x.new_zeros(())
    for t in range(T):
        r = x[t] @ w_in + z @ w_rec
        if cfg["unit"] == "rate":
            v = alpha * v + r
            zn = torch.tanh(v)
        else:
            v = alpha * v + r - vth * z.detach()
            if cfg["unit"] == "alif":
                a = rho * a + z
            zn = Spike.apply((v - vth - beta * a) / vth, cfg["gamma"], cfg["surrogate"], cfg["slope"])
        y = kappa * y + zn @ w_out + b_out
        m = labels[t] >= 0
        if m.any():
            loss = loss + torch.nn.functional.cross_entropy(y[m], labels[t][m], reduction="sum")
        z = zn
    return loss / max(n_scored, 1)


def bench(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = defaults()
    cfg["unit"] = a.unit
    T, B, I, N, K = a.steps, a.batch, a.inputs, a.neurons, a.outputs
    x = (torch.rand(T, B, I) < 0.3).float()
    labels = torch.full((T, B), -1, dtype=torch.long)
    labels[-10:] = torch.randint(0, K, (10, B))
    w_in = (torch.randn(I, N) / math.sqrt(I)).requires_grad_()
    w_rec = (torch.randn(N, N) / math.sqrt(N)).fill_diagonal_(0).requires_grad_()
    w_out = (torch.randn(N, K) / math.sqrt(N)).requires_grad_()
    b_out = torch.zeros(K, requires_grad=True)
    opt = torch.optim.Adam([w_in, w_rec, w_out, b_out], lr=1e-3)
    times, cpu = [], []
    for _ in range(a.repeats + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        loss = loss_fn(x, labels, w_in, w_rec, w_out, b_out, cfg)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([w_in, w_rec, w_out, b_out], 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    times, cpu = times[1:], cpu[1:]  # the first step warms up
    print(json.dumps({"impl": "torch", "unit": a.unit, "threads": a.threads, "T": T, "B": B, "I": I, "N": N, "K": K,
                      "s_per_step_best": min(times), "s_per_step_median": statistics.median(times),
                      "cpu_s_per_step_best": min(cpu), "cpu_s_per_step_median": statistics.median(cpu),
                      "torch": torch.__version__}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--unit", default="alif", choices=["lif", "alif", "rate"])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--inputs", type=int, default=40)
    ap.add_argument("--neurons", type=int, default=256)
    ap.add_argument("--outputs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    if a.bench:
        bench(a)
    else:
        ap.print_help()


if __name__ == "__main__":
    main()
