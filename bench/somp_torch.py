"""PyTorch peer of bench/bench_somp.c (docs/RESULTS.md "SOMPNet"): the same
4-cell cyclic network (c_i reads c_{i-1 mod 4} and itself, c0 also x),
dense cells y = alpha tanh(z / alpha), the same rules on every input of every
cell in accumulated mode, written from docs/somp.md:

  STDP       Delta = sum_{t>=1} post_t^T pre_{t-1} - post_{t-1}^T pre_t
  cov decay  per step t >= 1: M <- beta M + (1-beta) mean_b post_t^T pre_{t-1}
             (first step: M = that mean; m_pre, m_post likewise),
             Delta += a (|M - m_post m_pre^T| - 1) W

where pre_t of a recurrent input is the source's y_{t-1}; BPTT of a per-step
MSE readout of c3 by autograd; one SGD step w -= lr (grad - sum eta Delta).

  python3 bench/somp_torch.py [--reps N] [--threads N]
prints one JSON line.
"""
import argparse
import json
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--units", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--T", type=int, default=100)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    U, B, T, NX, NO = a.units, a.batch, a.T, 64, 16
    beta, acd, eta, lr = 0.9, 1.0, 1e-3, 1e-3
    names = ["c0", "c1", "c2", "c3"]
    # inputs of each cell: (source, n); source -1 = x
    ins = [[(-1, NX), (3, U), (0, U)]] + [[((i + 3) % 4, U), (i, U)] for i in range(1, 4)]
    W = [[(torch.rand(U, n) * 2 - 1) * (3.0 / n) ** 0.5 for (_, n) in cell] for cell in ins]
    for cell in W:
        for w in cell:
            w.requires_grad_(True)
    b = [torch.zeros(U, requires_grad=True) for _ in range(4)]
    V = torch.zeros(NO, U, requires_grad=True)
    c = torch.zeros(NO, requires_grad=True)
    x = torch.rand(B, T, NX) - 0.5
    tgt = torch.rand(B, T, NO) - 0.5

    def sequence():
        xt = x.transpose(0, 1)  # [T, B, NX]
        zx = xt @ W[0][0].T  # all steps at once
        ys = [[torch.zeros(B, U)] for _ in range(4)]  # ys[c][t+1] = y_t
        R = [[torch.zeros_like(w) for w in cell] for cell in W]
        M = [[None] * len(cell) for cell in W]
        mp = [[None] * len(cell) for cell in W]
        mq = [[None] * len(cell) for cell in W]

        def pre_at(ci, k, t):  # the value multiplying W[ci][k] at step t
            s, _ = ins[ci][k]
            return xt[t] if s < 0 else ys[s][t]

        for t in range(T):
            new = []
            for ci in range(4):
                z = b[ci].expand(B, U)
                if ci == 0:
                    z = z + zx[t]
                for k, (s, _) in enumerate(ins[ci]):
                    if s >= 0 and t > 0:
                        z = z + ys[s][t] @ W[ci][k].T
                new.append(torch.tanh(z))
            for ci in range(4):
                ys[ci].append(new[ci])
            if t >= 1:
                with torch.no_grad():
                    for ci in range(4):
                        post = ys[ci][t + 1]
                        for k in range(len(ins[ci])):
                            prev = pre_at(ci, k, t - 1)
                            cur = post.T @ prev / B
                            if M[ci][k] is None:
                                M[ci][k], mp[ci][k], mq[ci][k] = cur, prev.mean(0), post.mean(0)
                            else:
                                M[ci][k] = beta * M[ci][k] + (1 - beta) * cur
                                mp[ci][k] = beta * mp[ci][k] + (1 - beta) * prev.mean(0)
                                mq[ci][k] = beta * mq[ci][k] + (1 - beta) * post.mean(0)
                            sig = M[ci][k] - torch.outer(mq[ci][k], mp[ci][k])
                            R[ci][k] += eta * acd * (sig.abs() - 1) * W[ci][k]
        with torch.no_grad():  # STDP over the whole sequence, one GEMM per term
            for ci in range(4):
                Y = torch.stack(ys[ci][1:])  # [T, B, U]
                for k, (s, _) in enumerate(ins[ci]):
                    P = xt if s < 0 else torch.stack(ys[s][:-1])
                    d = torch.einsum("tbi,tbj->ij", Y[1:], P[:-1]) - torch.einsum("tbi,tbj->ij", Y[:-1], P[1:])
                    R[ci][k] += eta * d
        Y3 = torch.stack(ys[3][1:]).transpose(0, 1)  # [B, T, U]
        loss = ((Y3 @ V.T + c - tgt) ** 2).mean()
        params = [w for cell in W for w in cell] + b + [V, c]
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for ci in range(4):
                for k, w in enumerate(W[ci]):
                    w -= lr * (w.grad - R[ci][k])
                b[ci] -= lr * b[ci].grad
            V.sub_(lr * V.grad)
            c.sub_(lr * c.grad)
        return loss.item()

    sequence()
    best, best_cpu = 1e30, 1e30
    for _ in range(a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = sequence()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "units": U, "batch": B, "T": T,
                      "threads": a.threads, "seconds_per_sequence": best, "cpu_seconds_per_sequence": best_cpu,
                      "loss": loss}))


if __name__ == "__main__":
    main()
