"""CordsNet: neurodyn against PyTorch CPU in the same run (docs/RESULTS.md).

    /usr/bin/python3 bench/cordsnet_bench.py [--threads 2] [--reps 3] [--what step,full,train]

step   one recurrent step of CordsNet-R8 at 224x224, batch 1 and 8: neurodyn
       (nd_cordsnet_forward with steps 1 + n, difference / n) against the
       reference model's Jacobi step (tests/python/cordsnet_ref.py) in
       PyTorch, no_grad, in its best memory format (contiguous or
       channels_last, the faster one reported);
full   the whole 100 + 100-step inference of one image: neurodyn (spontaneous
       phase cached: computed once per model; also the first, uncached call)
       against PyTorch running both phases, the stem once per phase;
train  one training step (loss, gradient, AdamW) of the native-resolution
       model on 28x28 inputs: neurodyn's BPTT (gradient checkpointing on and
       off) against torch autograd of the same loss.
Times are minima over --reps runs (after one warm-up); --clock cpu measures
the process's CPU time instead of wall time (with --threads 1 on a loaded
machine: the compute cost without the time spent waiting for a core).  Prints one JSON line
per figure.  Needs ND_BUILD_DIR (libneurodyn.so) and torch."""
import argparse
import ctypes
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
import cordsnet_ref as R  # noqa: E402


CLOCK = time.perf_counter


def best(fn, reps):
    fn()
    t = float("inf")
    for _ in range(reps):
        t0 = CLOCK()
        fn()
        t = min(t, CLOCK() - t0)
    return t


def nd_model(L, model, tmp, meta=None):
    path = os.path.join(tmp, "w.safetensors")
    R.save_safetensors(path, model.state_dict(), meta)
    return R.nd_load(L, path)


def nd_forward(L, m, x, spont, steps):
    out = np.empty((x.shape[0], 1000 if x.shape[1] == 3 else 10), np.float32)
    run = R.NdRun(spont, steps, 0.2)
    rc = L.nd_cordsnet_forward(m, ctypes.byref(run), R.fptr(x), x.shape[0], R.fptr(out))
    assert rc == 0, L.nd_last_error()
    return out


def torch_steps(model, x, n, fmt, with_stem=False):
    b = x.shape[0]
    r = [torch.zeros(b, c, s, s).contiguous(memory_format=fmt) for c, s in zip(model.chs, model.sizes)]
    inp = model.inp_avgpool(model.inp_conv(x))
    for _ in range(n):
        r = model.step(r, inp, 0.2)
    return r


def bench_step(L, args, emit, tmp):
    torch.manual_seed(0)
    model = R.RefCordsNet(depth=8, in_ch=3, classes=1000, width=64, in_hw=224)
    R.randomise(model, 1)
    m = nd_model(L, model, tmp)
    n = args.step_n
    for B in (1, 8):
        x = np.random.default_rng(B).standard_normal((B, 3, 224, 224)).astype(np.float32)
        t1 = best(lambda: nd_forward(L, m, x, 0, 1), args.reps)
        tn = best(lambda: nd_forward(L, m, x, 0, 1 + n), args.reps)
        nd_step = (tn - t1) / n
        tt = {}
        with torch.no_grad():
            for name, fmt in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
                mm = model.to(memory_format=fmt)
                xt = torch.from_numpy(x).contiguous(memory_format=fmt)
                a = best(lambda: torch_steps(mm, xt, 1, fmt), args.reps)
                b = best(lambda: torch_steps(mm, xt, 1 + n, fmt), args.reps)
                tt[name] = (b - a) / n
        fmt = min(tt, key=tt.get)
        emit({"bench": "cordsnet_r8_step", "batch": B, "neurodyn_ms": 1e3 * nd_step, "torch_ms": 1e3 * tt[fmt],
              "torch_format": fmt, "torch_other_ms": 1e3 * max(tt.values()), "speedup": tt[fmt] / nd_step})
    L.nd_cordsnet_free(m)


def bench_full(L, args, emit, tmp):
    torch.manual_seed(0)
    model = R.RefCordsNet(depth=8, in_ch=3, classes=1000, width=64, in_hw=224)
    R.randomise(model, 1)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    m = nd_model(L, model, tmp)
    t0 = CLOCK()
    nd_forward(L, m, x, 100, 100)
    cold = CLOCK() - t0
    warm = best(lambda: nd_forward(L, m, x, 100, 100), args.reps)
    with torch.no_grad():
        tt = {}
        for name, fmt in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
            mm = model.to(memory_format=fmt)
            xt = torch.from_numpy(x).contiguous(memory_format=fmt)
            tt[name] = best(lambda: mm(xt, 100, 100, 0.2), max(1, args.reps - 1))
    fmt = min(tt, key=tt.get)
    emit({"bench": "cordsnet_r8_full_200", "batch": 1, "neurodyn_s": warm, "neurodyn_first_call_s": cold,
          "torch_s": tt[fmt], "torch_format": fmt, "speedup": tt[fmt] / warm, "speedup_first_call": tt[fmt] / cold})
    L.nd_cordsnet_free(m)


def bench_train(L, args, emit, tmp):
    torch.manual_seed(0)
    depth, width, B = args.train_depth, args.train_width, args.train_batch
    model = R.RefCordsNet(depth=depth, in_ch=1, classes=10, width=width, in_hw=28, stem_k=3, stem_s=1)
    R.randomise(model, 2, gain=0.8, bias=0.05)
    x = np.random.default_rng(0).random((B, 1, 28, 28)).astype(np.float32)
    y = (np.arange(B) % 10).astype(np.int32)
    t = dict(spont=args.train_spont, steps=args.train_steps, ce=5, post=5, q=2, penalty=1e-3, truncate=0, cp=0,
             alpha=0.2)
    m = nd_model(L, model, tmp)
    n = L.nd_cordsnet_num_params(m)
    res = {}
    for cp in (0, 1):
        t["cp"] = cp
        tr = R.nd_train(t)
        res[cp] = best(lambda: R.nd_loss_grad(L, m, tr, x, y), args.reps)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def torch_step():
        opt.zero_grad()
        R.ref_loss(model, x, y, t, torch.float32).backward()
        opt.step()

    tt = best(torch_step, args.reps)
    emit({"bench": "cordsnet_native_train_step", "depth": depth, "width": width, "batch": B,
          "steps": "%d+%d+%d" % (t["spont"], t["steps"], t["post"]), "params": n,
          "neurodyn_s_checkpointed": res[0], "neurodyn_s_all_stored": res[1], "torch_s": tt,
          "speedup_checkpointed": tt / res[0], "speedup_all_stored": tt / res[1]})
    L.nd_cordsnet_free(m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--step-n", type=int, default=5)
    ap.add_argument("--what", default="step,full,train")
    ap.add_argument("--clock", default="wall", choices=["wall", "cpu"])
    ap.add_argument("--train-depth", type=int, default=4)
    ap.add_argument("--train-width", type=int, default=16)
    ap.add_argument("--train-batch", type=int, default=32)
    ap.add_argument("--train-spont", type=int, default=10)
    ap.add_argument("--train-steps", type=int, default=10)
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)
    os.environ.setdefault("ND_NUM_THREADS", str(args.threads))
    L = R.bind(ctypes.CDLL(os.path.join(os.environ.get("ND_BUILD_DIR", "build/release"), "libneurodyn.so")))
    import tempfile
    load = os.getloadavg()[0]

    def emit(d):
        d["threads"] = args.threads
        d["clock"] = args.clock
        d["load"] = round(load, 1)
        print(json.dumps(d), flush=True)

    with tempfile.TemporaryDirectory(prefix="nd_cordsnet_bench_") as tmp:
        for w in args.what.split(","):
            {"step": bench_step, "full": bench_full, "train": bench_train}[w](L, args, emit, tmp)


if __name__ == "__main__":
    main()
