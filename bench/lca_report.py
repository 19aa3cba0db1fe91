"""Markdown tables from a bench/lca.sh run:  python3 bench/lca_report.py OUT_DIR"""
import json
import sys
from collections import defaultdict

out = sys.argv[1]
rows = lambda name: [json.loads(l) for l in open(f"{out}/{name}") if l.startswith("{")]
conv, fista, times = rows("conv.jsonl"), rows("fista.jsonl"), rows("time.jsonl")


def mean_its(rs, key):
    v = [r[key] for r in rs]
    return None if any(x < 0 for x in v) else sum(v) / len(v)


def fmt(x):
    return "never" if x is None else f"{x:.0f}"


# ---- convergence table
groups = defaultdict(list)
for r in conv:
    groups[(r["set"], r["frac"], r["label"])].append(r)
for r in fista:
    groups[(r["set"], r["frac"], r["update"].upper())].append(r)
labels = [l for (s, f, l) in groups if s == "test" and f == 0.1]
fixed = [l for l in dict.fromkeys(labels) if "eta=0.0" not in l and "eta=0.1" not in l or l.startswith("euler")]
tuned = {}
for frac in (0.1, 0.01):
    for kind in ("rmsprop", "adam", "upstream-adam", "upstream-rmsprop"):
        best = None
        for (s, f, l), rs in groups.items():
            if s == "val" and f == frac and l.split(" eta=")[0] == kind:
                v = mean_its(rs, "it_1e-4")
                score = v if v is not None else 1e9 + (mean_its(rs, "it_1e-2") or 1e6)
                if best is None or score < best[0]:
                    best = (score, l)
        if best:
            tuned[(frac, kind)] = best[1]
print("| update | λ=0.1·max\\|Φᵀs\\|: 1e-2 | 1e-4 | 1e-6 | λ=0.01·max\\|Φᵀs\\|: 1e-2 | 1e-4 | 1e-6 |")
print("|---|---|---|---|---|---|---|")
order = fixed + ["rmsprop", "adam", "upstream-adam", "upstream-rmsprop"]
for l in order:
    cells, names = [], []
    for frac in (0.1, 0.01):
        lab = tuned.get((frac, l), l)
        names.append(lab)
        rs = groups.get(("test", frac, lab), [])
        cells += [fmt(mean_its(rs, k)) if rs else "-" for k in ("it_1e-2", "it_1e-4", "it_1e-6")]
    name = names[0] if names[0] == names[1] else f"{names[0]} / {names[1].split(' ')[-1]}"
    print(f"| {name} | " + " | ".join(cells) + " |")

# ---- timings
print()
best = defaultdict(lambda: float("inf"))
for r in times:
    b = r["bench"]
    if b == "lca_time":
        key = (b, r["n"], r["batch"], r["form"], r.get("threads", 2), r["iterations"])
    elif b == "torch_fista":
        key = (b, r["omp_wait_policy"], r["iterations"])
    else:
        key = (b, r.get("iterations", 0))
    best[key] = min(best[key], r["seconds"])
    if b == "torch_lca_4096":
        best[("torch_gram",)] = min(best[("torch_gram",)], r["gram_seconds"])
        best[("torch_two",)] = min(best[("torch_two",)], r["two_gemm_seconds"])
for k, v in sorted(best.items(), key=lambda kv: str(kv[0])):
    print(f"- {k}: {v * 1e3:.1f} ms")

print()
print("| n \\ B | " + " | ".join(str(b) for b in (1, 16, 128, 512)) + " |")
print("|---|---|---|---|---|")
g = defaultdict(dict)
for r in rows("growth.jsonl"):
    g[(r["n"], r["form"])][r["batch"]] = r
for (n, form), d in sorted(g.items()):
    print(f"| {n} ({form}) | " + " | ".join(f"{d[b]['ms_per_step']:.3g} ms ({d[b]['gflops']:.0f} GF/s)" if b in d else "-"
                                         for b in (1, 16, 128, 512)) + " |")
