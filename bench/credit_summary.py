"""The rows of docs/RESULTS.md's credit-assignment table from the runs of
bench/credit_table.sh: test error (scored once), validation error, epochs,
learning rate, mean seconds per epoch, peak memory and the last epoch's
per-layer angle to the true gradient (dense layers, then conv kernels).

    python3 bench/credit_summary.py OUTDIR
"""
import glob
import json
import os
import re
import sys


def main():
    out = sys.argv[1]
    print("| data set | method | epochs | lr | validation error % | test error % | s / epoch | peak MiB | angle W0 / W1 / W2 (deg) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d in sorted(glob.glob(os.path.join(out, "*-*"))):
        if not os.path.isdir(d) or not os.path.exists(os.path.join(d, "metrics.jsonl")):
            continue
        rows = [json.loads(l) for l in open(os.path.join(d, "metrics.jsonl"))]
        fin = [r for r in rows if "final" in r]
        ep = [r for r in rows if "final" not in r]
        if not fin:
            continue
        cfg = json.load(open(os.path.join(d, "config.json")))
        opts = cfg.get("options", cfg)
        txt = open(d + ".txt").read() if os.path.exists(d + ".txt") else ""
        mem = re.search(r"peak memory (\d+) MiB", txt)
        last = ep[-1]
        keys = [f"angle_{l}" for l in range(8)] + [f"angle_conv_{j}" for j in range(4)]
        ang = " / ".join(f"{last[k]:.1f}" for k in keys if k in last) or "–"
        if opts.get("conv"):
            ang += " (dense, then conv)"
        sec = sum(r["seconds"] for r in ep) / len(ep)
        method = opts.get("method")
        if opts.get("activation", "relu") != "relu":
            method = f"{method}, {opts['activation']}"
        if float(opts.get("weight-decay", 0) or 0) != 0:
            method = f"{method}, weight decay {opts['weight-decay']}"
        print(f"| {opts.get('dataset')} | {method} | {len(ep)} | {opts.get('lr')} | "
              f"{100 * last['validation_error']:.2f} | {100 * fin[0]['test_error']:.2f} | {sec:.0f} | "
              f"{mem.group(1) if mem else '?'} | {ang} |")


if __name__ == "__main__":
    main()
