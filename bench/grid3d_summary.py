"""Summaries of bench/grid3d_runs.sh.

  grid3d_summary.py choose OUT   per (data set, model, method) the lr of OUT/select
                                 with the best final-epoch val_acc (ties: the
                                 smaller lr); prints "ds model method lr"
  grid3d_summary.py table OUT    the markdown table: the chosen runs' validation
                                 accuracy and cost figures, and the test accuracy
                                 `neurodyn eval` gave them (OUT/final)
"""
import glob
import json
import os
import re
import sys

MLP_PARAMS = 784 * 49 + 49 + 49 * 10 + 10  # 784-49-10


def rows_of(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def split_name(name):
    if name.startswith("fashion-mnist-"):
        return ("fashion-mnist",) + tuple(name[len("fashion-mnist-"):].split("-"))
    return tuple(name.split("-"))


def chosen(out):
    best = {}
    for d in sorted(glob.glob(os.path.join(out, "select", "*"))):
        if not os.path.isdir(d) or not os.path.exists(os.path.join(d, "metrics.jsonl")):
            continue
        ds, model, method, lr = split_name(os.path.basename(d))
        epochs = [r for r in rows_of(os.path.join(d, "metrics.jsonl")) if "final" not in r]
        if not epochs or not any("final" in r for r in rows_of(os.path.join(d, "metrics.jsonl"))):
            continue
        cand = (epochs[-1]["val_acc"], -float(lr), lr)
        key = (ds, model, method)
        if key not in best or cand > best[key]:
            best[key] = cand
    return {k: v[2] for k, v in sorted(best.items())}


def choose(out):
    for (ds, model, method), lr in chosen(out).items():
        print(ds, model, method, lr)


def table(out):
    print("| data set | model | method | lr (chosen of) | epochs | val acc | test acc | params (allocated / dense) | "
          "active fraction | ms / minibatch | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    commits = set()
    for (ds, model, method), lr in chosen(out).items():
        d = os.path.join(out, "select", f"{ds}-{model}-{method}-{lr}")
        tried = sorted(split_name(os.path.basename(p))[3] for p in glob.glob(os.path.join(out, "select", f"{ds}-{model}-{method}-*"))
                       if os.path.isdir(p))
        cfg = json.load(open(os.path.join(d, "config.json")))
        commits.add(cfg["_provenance"]["commit"])
        epochs = [r for r in rows_of(os.path.join(d, "metrics.jsonl")) if "final" not in r]
        last = epochs[-1]
        train_s = sum(r["seconds"] for r in epochs)
        batches = (60000 - cfg["validation"] + cfg["batch"] - 1) // cfg["batch"]
        test = "?"
        fin = os.path.join(out, "final", f"{ds}-{model}-{method}.txt")
        if os.path.exists(fin):
            m = re.search(r"accuracy ([0-9.]+)%", open(fin).read())
            test = f"{m.group(1)}%" if m else "?"
        if model == "grid":
            log = open(d + ".log").read() if os.path.exists(d + ".log") else ""
            m = re.search(r"(\d+) of (\d+) parameters allocated", log)
            params = f"{last['params']} / {m.group(2) if m else '?'}"
            frac, ms, name = f"{last['active_fraction']:.3f}", f"{last['ms_per_batch']:.1f}", "grid 7x7x3, dim 8"
        else:
            params = f"{MLP_PARAMS} / {MLP_PARAMS}"
            frac, ms, name = "1", f"{1e3 * last['seconds'] / batches:.1f}", "MLP 784-49-10"
        print(f"| {ds} | {name} | {method} | {lr} ({', '.join(tried)}) | {len(epochs)} | {100 * last['val_acc']:.2f}% | "
              f"{test} | {params} | {frac} | {ms} | {train_s:.0f} |")
    print(f"\ncommits: {', '.join(sorted(commits))}")


if __name__ == "__main__":
    {"choose": choose, "table": table}[sys.argv[1]](sys.argv[2])
