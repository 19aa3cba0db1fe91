#!/usr/bin/env bash
# The progress line of a real command on a real terminal: `neurodyn train
# krotov` on a small synthetic data set, run under script(1) in a
# pseudo-terminal of 80 and of 40 columns.  Every redraw starts with "\r" and
# fits in width - 1 columns (so the terminal never wraps it), shows the unit,
# and the only newline of the progress output comes after its final state.
source "$(dirname "$0")/common.bash"
command -v script >/dev/null 2>&1 || { echo "SKIP: script(1) (util-linux) not installed"; exit 77; }

mkdir -p "$TMP/data/mnist"
"$PY" - "$TMP/data/mnist" <<'PY'
import struct, sys, random
d = sys.argv[1]
random.seed(1)
def idx(name, dims, payload):
    open(f"{d}/{name}", "wb").write(bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims) + payload)
for split, n in (("train", 2000), ("t10k", 100)):
    idx(f"{split}-images-idx3-ubyte", (n, 28, 28), bytes(random.randrange(256) for _ in range(n * 784)))
    idx(f"{split}-labels-idx1-ubyte", (n,), bytes(random.randrange(10) for _ in range(n)))
PY

for cols in 80 40; do
  rm -rf "$TMP/run"
  script -qec "stty cols $cols; exec '$ND' train krotov --hidden 40 --epochs 16 --batch 10 --data '$TMP/data' --out '$TMP/run' --threads 1" \
    /dev/null >"$TMP/tty.out" 2>&1 || fail "train under script(1) at $cols columns: $(cat "$TMP/tty.out")"
  "$PY" - "$TMP/tty.out" "$cols" <<'PY' || fail "progress line at $cols columns"
import re, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
width = int(sys.argv[2])
raw = raw.replace("\r\n", "\n")  # the terminal's own newline translation
# Progress redraws: "\r" + text + ESC[K; the final one is followed by "\n".
draws = re.findall(r"\r([^\r\n]*?)\x1b\[K(\n?)", raw)
assert draws, "no progress redraws in %r" % raw[:300]
for text, nl in draws:
    assert len(text) <= width - 1, "%d columns on a %d-column terminal: %r" % (len(text), width, text)
    assert "batches" in text, "no unit in %r" % text
    assert "krotov" in text, text
assert [nl for _, nl in draws].count("\n") == 1 and draws[-1][1] == "\n", "newlines among the redraws"
assert "100%" in draws[-1][0], "final state: %r" % (draws[-1][0],)
print(len(draws), "redraws, longest", max(len(t) for t, _ in draws), "columns")
PY
done
echo "ok"
