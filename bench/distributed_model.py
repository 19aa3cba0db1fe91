"""Scaling model of data-parallel training (docs/distributed.md), from measured inputs:

  bench/results/mpi_collectives_2ranks.jsonl  mpirun -np 2 build/release/mpi_collectives
  bench/results/krotov_rank.jsonl             build/release/bench_distributed --threads 1 --clock cpu
  bench/results/conv_1thread.jsonl            build/release/bench_conv --threads 1 --clock cpu (forward_backward)

  /usr/bin/python3 bench/distributed_model.py [--markdown]

Collectives: t = alpha + bytes / beta, alpha the 2-rank median of an 8-byte message, beta
fitted (least squares) to the medians of messages up to 2 MiB; larger messages use the measured time of the nearest size (the
2-core machine was loaded, and its large-message rates fell far below the fit).
At P ranks (standard algorithm costs, Thakur, Rabenseifner & Gropp, IJHPCA 19(1), 2005):
  allgather of m bytes per rank (recursive doubling): alpha*ceil(log2 P) + (P-1) m / beta
  allreduce of n bytes (ring, reduce-scatter + allgather): 2 (P-1) alpha + 2 (P-1)/P n / beta
Krotov (fast rule, batch B): a minibatch on P ranks costs the measured compute of the
busiest rank (its B/P rows' GEMM and ranking plus the update every rank repeats) plus an
allgather of 32 bytes per sample and one of the 4-byte stop flag.
CordsNet-R8 (Soo et al., NeurIPS 2024; batch 256, the training step of its final phase:
100 stimulus + 100 post-stimulus steps through BPTT, the 100-step spontaneous phase is
image-independent and cached): per sample 200 steps x (forward + backward) of every area
convolution at the measured one-thread forward_backward rate of neurodyn's conv2d for that
map size; gradients (every parameter, float32) allreduced once per step, either after the
backward pass or overlapped with it (bucketed, as PyTorch DDP: the step then costs the larger
of the two).  One rank = one core of this machine.
"""
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(HERE, "results")


def lines(name):
    with open(os.path.join(RES, name)) as f:
        return [json.loads(l) for l in f if l.strip().startswith("{")]


def fit(points):
    """alpha (s): the time of the smallest message; beta (bytes/s) of t = alpha + n/beta by least
    squares with alpha fixed."""
    alpha = min(points)[1]
    beta = sum(b * b for b, _ in points) / sum(b * (t - alpha) for b, t in points)
    return alpha, beta


coll = lines("mpi_collectives_2ranks.jsonl")
meas = {(c["op"], c["bytes"]): c["us"] * 1e-6 for c in coll}
model = {}
for op in ("allreduce", "allgather"):
    pts = [(c["bytes"], c["us"] * 1e-6) for c in coll if c["op"] == op and c["bytes"] <= 2 << 20]
    model[op] = fit(pts)


def p2p(op, nbytes):
    """2-rank time of one exchange step of n bytes: the fit, or the measured time above 2 MiB."""
    if nbytes <= 2 << 20:
        a, b = model[op]
        return a + nbytes / b
    sizes = sorted(b for o, b in meas if o == op)
    near = min(sizes, key=lambda s: abs(math.log(s / nbytes)))
    return meas[(op, near)] * nbytes / near


def allgather(P, m):
    if P == 1:
        return 0.0
    a, b = model["allgather"]
    return a * math.ceil(math.log2(P)) + (p2p("allgather", (P - 1) * m) - a)


def allreduce(P, n):
    if P == 1:
        return 0.0
    a, _ = model["allreduce"]
    return 2 * (P - 1) * a + 2 * (p2p("allreduce", n * (P - 1) / P) - a)


RANKS = (1, 2, 8, 64, 512)


def krotov_rows():
    rank = {(r["hidden"], r["batch"], r["ranks"]): r["ms"] * 1e-3 for r in lines("krotov_rank.jsonl")}
    out = []
    for B in (100, 1000):
        for H in (2000, 20000):
            t1 = rank[(H, B, 1)]
            for P in RANKS:
                comp = rank[(H, B, P)]
                comm = allgather(P, 32 * math.ceil(B / P)) + allgather(P, 4)
                ds_allreduce = allreduce(P, 4 * H * 784)  # the alternative: allreduce the dense ds
                t = comp + comm
                out.append(dict(model="krotov", hidden=H, batch=B, ranks=P, compute_ms=comp * 1e3, comm_ms=comm * 1e3,
                                bytes_per_rank=32 * math.ceil(B / P), step_ms=t * 1e3, speedup=t1 / t,
                                efficiency=t1 / t / P, ds_allreduce_ms=ds_allreduce * 1e3))
    return out


def cordsnet():
    """Parameters and MACs per Euler step of CordsNet-R8 (ImageNet: 3 input channels, 1000 classes)."""
    params = 0
    macs = {56: 0, 28: 0, 14: 0, 7: 0}
    # stem: conv 7x7 3->64 s2 (weight-normed: v and one g per output channel), computed once per image
    params += 64 * 3 * 49 + 64
    params += 64 * 64 * 9 + 64  # inp_skip 3x3 64->64
    chans = [64, 64, 128, 128, 256, 256, 512, 512]
    size = [56, 56, 28, 28, 14, 14, 7, 7]
    cin = [64, 64, 64, 128, 128, 256, 256, 512]
    for j in range(8):
        c, s = chans[j], size[j]
        params += c * cin[j] * 9 + c  # area_area[j] 3x3 (stride 2 into areas 2, 4, 6)
        params += c * c * 9 + c       # area_conv[j] 3x3 recurrent
        params += c * s * s           # conv_bias[j], one per unit
        macs[s] += (c * cin[j] * 9 + c * c * 9) * s * s
    for (ci, co, s) in ((64, 128, 28), (128, 256, 14), (256, 512, 7)):  # skip_area 1x1 s2
        params += co * ci + co
        macs[s] += co * ci * s * s
    macs[56] += 64 * 64 * 9 * 56 * 56  # inp_skip (its input is constant in a phase, counted per step as upstream does)
    params += 512 * 1000 + 1000 + 1000  # out_fc (weight-normed) with bias
    return params, macs


def cordsnet_rows():
    params, macs = cordsnet()
    rate = {}
    for r in lines("conv_1thread.jsonl"):
        rate[int(r["shape"].split("x")[2])] = r["gflops"] * 1e9  # forward+backward FLOP/s at this map size
    # forward_backward = 3 passes' FLOPs (forward, input and weight gradients): 6 FLOP per MAC
    per_sample = sum(6 * m / rate[s] for s, m in macs.items()) * 200
    batch = 256
    out = []
    t1 = per_sample * batch
    for P in RANKS:
        per_rank = math.ceil(batch / P)
        comp = per_sample * per_rank
        comm = allreduce(P, 4 * params)
        after, overlap = comp + comm, max(comp, comm)
        out.append(dict(model="cordsnet-r8", batch=batch, ranks=P, samples_per_rank=per_rank,
                        compute_s=comp, comm_s=comm, step_s_after=after, step_s_overlap=overlap,
                        speedup=t1 / overlap, efficiency=t1 / overlap / P))
    return params, sum(macs.values()), out


def main():
    md = "--markdown" in sys.argv
    for op, (a, b) in model.items():
        print(f"# {op} at 2 ranks: alpha = {a * 1e6:.2f} us, beta = {b / 1e9:.2f} GB/s (fit, <= 2 MiB)")
    params, mac, crows = cordsnet_rows()
    print(f"# CordsNet-R8: {params:,} parameters ({4 * params / 2**20:.1f} MiB float32), {mac / 1e9:.3f} GMAC per Euler step")
    krows = krotov_rows()
    if not md:
        for r in krows + crows:
            print(json.dumps(r))
        return
    print("\n| hidden | batch | ranks | rows/rank | compute ms | comm ms | step ms | speedup | efficiency | allreduce of dense ds, ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in krows:
        print(f"| {r['hidden']} | {r['batch']} | {r['ranks']} | {math.ceil(r['batch'] / r['ranks'])} | {r['compute_ms']:.2f} | "
              f"{r['comm_ms']:.3f} | {r['step_ms']:.2f} | {r['speedup']:.2f} | {r['efficiency']:.0%} | {r['ds_allreduce_ms']:.2f} |")
    print("\n| ranks | samples/rank | compute s | allreduce s | step s (after) | step s (overlapped) | speedup | efficiency |")
    print("|---|---|---|---|---|---|---|---|")
    for r in crows:
        print(f"| {r['ranks']} | {r['samples_per_rank']} | {r['compute_s']:.1f} | {r['comm_s']:.3f} | {r['step_s_after']:.1f} | "
              f"{r['step_s_overlap']:.1f} | {r['speedup']:.1f} | {r['efficiency']:.0%} |")


if __name__ == "__main__":
    main()
