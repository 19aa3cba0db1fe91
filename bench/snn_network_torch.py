#!/usr/bin/python3
"""PyTorch loop for the LIF network benchmark (snnTorch-style: one Python step
per time step), written from the equations of include/neurodyn/snn.h
(exact exponential integration, delta synapses, refractoriness, reset to
v_reset, OU membrane noise) and Brunel (2000) connectivity, independently of
neurodyn.  Recurrent input either as a dense product z @ W (W [N, N]) or as
event-driven row sums W[spiking].sum(0) of a dense W -- whichever is faster is
the peer.  (torch.sparse CSR products need an MKL build of PyTorch; Debian's
python3-torch refuses them.)

usage: snn_network_torch.py --neurons 10000 --connectivity 0.1 --duration-ms 1000
                    --dt-ms 0.1 --drive 24 --noise 3 --threads 2
                    --mode event|dense [--steps-limit K]
Prints one JSON line: steps, wall_s and cpu_s (of the steps run), spikes,
events, events per wall and per CPU second, seconds per step."""
import argparse, json, math, time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--neurons", type=int, default=10000)
    ap.add_argument("--connectivity", type=float, default=0.1)
    ap.add_argument("--duration-ms", type=float, default=1000)
    ap.add_argument("--dt-ms", type=float, default=0.1)
    ap.add_argument("--drive", type=float, default=24)
    ap.add_argument("--noise", type=float, default=3)
    ap.add_argument("--weight", type=float, default=0.1)
    ap.add_argument("--g", type=float, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", choices=["event", "dense"], default="event")
    ap.add_argument("--steps-limit", type=int, default=0, help="run only this many steps (timing extrapolated)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    n, p = a.neurons, a.connectivity
    tau_m, v_th, v_reset, t_ref = 20.0, 20.0, 10.0, 2.0
    alpha = math.exp(-a.dt_ms / tau_m)
    gain = a.noise * math.sqrt(1 - alpha * alpha)
    n_ref = round(t_ref / a.dt_ms)
    n_exc = round(0.8 * n)
    # W[pre, post]: Bernoulli(p), no self-connections, J / -gJ by presynaptic type
    w = (torch.rand(n, n) < p).float()
    w.fill_diagonal_(0)
    nnz_row = w.sum(1)
    w[:n_exc] *= a.weight
    w[n_exc:] *= -a.g * a.weight
    v = torch.zeros(n)
    ref = torch.zeros(n, dtype=torch.int32)
    z = torch.zeros(n)
    steps = round(a.duration_ms / a.dt_ms)
    if a.steps_limit:
        steps = min(steps, a.steps_limit)
    spikes, events = 0, 0.0
    c_ext = (1 - alpha) * a.drive
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        idx = z.nonzero().squeeze(1)
        if a.mode == "dense":
            r = z @ w
        else:
            r = w[idx].sum(0) if idx.numel() else torch.zeros(n)
        vn = alpha * v + c_ext + r
        if gain > 0:
            vn += gain * torch.randn(n)
        refr = ref > 0
        vn = torch.where(refr, v, vn)
        ref = torch.where(refr, ref - 1, ref)
        s = (vn >= v_th) & ~refr
        vn = torch.where(s, torch.full_like(vn, v_reset), vn)
        ref = torch.where(s, torch.full_like(ref, n_ref), ref)
        z = s.float()
        v = vn
        k = int(s.sum())
        spikes += k
        if k:
            events += float(nnz_row[s].sum())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"mode": a.mode, "threads": a.threads, "neurons": n, "steps": steps, "wall_s": wall,
                      "s_per_step": wall / steps, "cpu_s": cpu, "cpu_s_per_step": cpu / steps, "spikes": spikes, "events": events,
                      "mean_rate_hz": spikes / n / (steps * a.dt_ms * 1e-3),
                      "events_per_s": events / wall, "events_per_cpu_s": events / cpu}))


if __name__ == "__main__":
    main()
