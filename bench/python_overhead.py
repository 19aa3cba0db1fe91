"""Calling overhead of the Python package: a tiny LCA solve from Python
against the same solve from C, in one run.

    PYTHONPATH=build/release/python python3 bench/python_overhead.py build/release [m n iters]

The problem: one signal, m = 8, n = 16, 10 Euler steps by default (tol so
small that every solve takes exactly `iters`).  Three timings of the same solver on the same
data, interleaved over rounds (minimum per round kept, then the minimum over
rounds, so a busy machine's preemptions drop out):
  C, separate program   bench/bench_lca_call (D and S read from the .npy files written here)
  C, same process       _core.lca_time_solves: a C loop of nd_lca_solve inside the extension
  Python                LCA.codes(S), LCA.solve(S) (plus the stats dict), neurodyn.lca.solve
The extra per call is Python minus "C, same process" (same library, same
process, same caches); for neurodyn.lca.solve, which creates a solver per
call, minus the in-process create + solve + free loop."""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import neurodyn

build = sys.argv[1] if len(sys.argv) > 1 else "build/release"
m, n, iters = (int(a) for a in sys.argv[2:5]) if len(sys.argv) > 4 else (8, 16, 10)
calls, rounds = 500, 200  # short bursts, many rounds: the minimum drops a busy machine's preemptions
rng = np.random.default_rng(1)
D = rng.normal(size=(m, n)).astype(np.float32)
S = rng.normal(size=(1, m)).astype(np.float32)
tmp = tempfile.mkdtemp()
np.save(os.path.join(tmp, "D.npy"), D)
np.save(os.path.join(tmp, "S.npy"), S)
cfg = dict(update="euler", tol=1e-300, max_iter=iters)
solver = neurodyn.lca.LCA(D, 0.1, max_batch=1, **cfg)
assert solver.solve(S)[1]["iterations"] == iters


def per_call(fn, k):
    t0 = time.perf_counter()
    for _ in range(k):
        fn()
    return (time.perf_counter() - t0) / k * 1e6


best = {}
def keep(name, us):
    best[name] = min(best.get(name, float("inf")), us)


for _ in range(rounds):
    keep("C in process: nd_lca_solve loop", neurodyn._core.lca_time_solves(solver._h, S, calls) * 1e6)
    keep("C in process: create + solve + free loop", neurodyn._core.lca_time_solves(solver._h, S, calls // 4, D) * 1e6)
    keep("Python: LCA.codes(S)", per_call(lambda: solver.codes(S), calls))
    keep("Python: LCA.solve(S) (codes + stats dict)", per_call(lambda: solver.solve(S), calls))
    keep("Python: neurodyn.lca.solve(D, S, lam) (creates)", per_call(lambda: neurodyn.lca.solve(D, S, 0.1, **cfg), calls // 4))
    keep("binding floor: _core.noop(S)", per_call(lambda: neurodyn._core.noop(S), calls))
c_lines = subprocess.run([os.path.join(build, "bench_lca_call"), os.path.join(tmp, "D.npy"), os.path.join(tmp, "S.npy"),
                          str(iters), str(20 * calls)], check=True, capture_output=True, text=True).stdout.splitlines()
for d in map(json.loads, c_lines):
    best["C program: " + d["what"]] = d["us_per_call"]

base = best["C in process: nd_lca_solve loop"]
print("load average: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
print("%-52s %10s %12s" % ("call (m=%d, n=%d, %d Euler steps, 1 signal)" % (m, n, iters), "us/call", "extra vs C"))
for name, us in best.items():
    ref = best["C in process: create + solve + free loop"] if "creates" in name else base
    extra = "%12.3f" % (us - ref) if name.startswith("Python") else ""
    print("%-52s %10.3f %s" % (name, us, extra))
