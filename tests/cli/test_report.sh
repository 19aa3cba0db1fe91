#!/usr/bin/env bash
# neurodyn report: the page of a run written by tests/report/make_run.py
# (NumPy, independent of neurodyn's writers) holds the run's metrics, config,
# PNG and recorded frames exactly (read back from the page with Python), no
# reference to the network, and nothing that ends its <script> early;
# --max-frames thins frames to every k-th; --csv equals the metrics.jsonl;
# --compare holds both runs; bad input exits 2 with one line naming the
# file.  The browser checks are tests/cli/test_report_browser.sh.
source "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: /usr/bin/python3 has no numpy"; exit 77; }
MK="$SRC/tests/report/make_run.py"
"$PY" "$MK" "$TMP/a" --seed 1
"$PY" "$MK" "$TMP/b" --seed 2 --epochs 5

expect_ok "$ND" report --help
case "$out" in *"--compare"*"--csv"*) ;; *) fail "report --help lacks --compare / --csv" ;; esac

# ---- CSV: every numeric field of every line, the run's name first
expect_ok "$ND" report "$TMP/a" --csv "$TMP/a.csv"
[ ! -e "$TMP/a/report.html" ] || fail "--csv also wrote the page"
"$PY" - "$TMP/a" "$TMP/a.csv" <<'PY' || fail "CSV differs from metrics.jsonl"
import csv, json, sys
lines = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == len(lines), (len(rows), len(lines))
assert list(rows[0].keys()) == ["run", "epoch", "train_loss", "test_loss", "train_error", "test_error", "lr", "timing.epoch_s"], rows[0].keys()
for r, l in zip(rows, lines):
    assert r["run"] == "a"
    assert float(r["timing.epoch_s"]) == l["timing"]["epoch_s"]
    for k in ("epoch", "train_loss", "test_loss", "train_error", "test_error", "lr"):
        assert float(r[k]) == l[k], (k, r[k], l[k])  # exact: the text reads back to the same double
PY
expect_ok "$ND" report --compare "$TMP/a" "$TMP/b" --csv -
[ "$(printf '%s\n' "$out" | grep -c '^b,')" -eq 5 ] || fail "--compare --csv: expected 5 rows of run b"

# ---- bad input: exit 2, one line naming the culprit
expect_error 2 "neurodyn report:" "$TMP/none" "$ND" report "$TMP/none"
: > "$TMP/file"
expect_error 2 "neurodyn report:" "$TMP/file" "$ND" report "$TMP/file"
mkdir "$TMP/empty"
expect_error 2 "neurodyn report:" "not a run directory" "$ND" report "$TMP/empty"
expect_error 2 "neurodyn report:" "--compare" "$ND" report "$TMP/a" "$TMP/b"
expect_error 2 "neurodyn report:" "--compare" "$ND" report --compare "$TMP/a"
expect_error 2 "neurodyn report:" "--max-frames" "$ND" report "$TMP/a" --max-frames 0
expect_error 2 "neurodyn report:" "--bogus" "$ND" report "$TMP/a" --bogus
cp -r "$TMP/a" "$TMP/badline"
printf '{"epoch": 9, "x": 1}\nnot json\n{"epoch": 10}\n' >> "$TMP/badline/metrics.jsonl"
expect_error 2 "neurodyn report:" "metrics.jsonl: line 10" "$ND" report "$TMP/badline" --csv -
cp -r "$TMP/a" "$TMP/partial"   # a run still writing: the unfinished last line is left out
printf '{"epoch": 9, "train_lo' >> "$TMP/partial/metrics.jsonl"
expect_ok "$ND" report "$TMP/partial" --csv -
[ "$(printf '%s\n' "$out" | wc -l)" -eq 9 ] || fail "unfinished last line: expected header + 8 rows"
cp -r "$TMP/a" "$TMP/badconfig"
printf '{"epochs": ' > "$TMP/badconfig/config.json"
expect_error 2 "neurodyn report:" "config.json" "$ND" report "$TMP/badconfig" --csv -
cp -r "$TMP/a" "$TMP/badindex"
printf '{"format": "neurodyn-record", "version": 1, "streams": [{"name": "x/y"}]}' > "$TMP/badindex/record/index.json"
expect_error 2 "neurodyn report:" "index.json" "$ND" report "$TMP/badindex" --csv -
cp -r "$TMP/a" "$TMP/badchunk"
head -c 100 "$TMP/a/record/grid_000001.npy" > "$TMP/badchunk/record/grid_000001.npy"
expect_error 2 "neurodyn report:" "grid_000001.npy" "$ND" report "$TMP/badchunk" --csv -

# ---- the page (needs report/node_modules: scripts/deps.sh)
if ! ND_PAGE_CHECK=1 "$ND" report "$TMP/a" --out "$TMP/probe.html" >/dev/null 2>"$TMP/probe.err"; then
  grep -q "npm ci\|ND_REPORT_DIR" "$TMP/probe.err" || fail "report failed: $(cat "$TMP/probe.err")"
  echo "SKIP: the page's JavaScript libraries are not installed ($(cat "$TMP/probe.err")); CSV and bad input passed"
  exit 77
fi
expect_error 2 "neurodyn report:" "ND_REPORT_DIR" env ND_REPORT_DIR="$TMP/empty" "$ND" report "$TMP/a"
expect_error 2 "neurodyn report:" "$TMP/no/such" "$ND" report "$TMP/a" --out "$TMP/no/such/r.html"
expect_ok "$ND" report "$TMP/a"
[ "$out" = "$TMP/a/report.html" ] || fail "report printed '$out', expected the page's path"
check_page() { # PAGE MAX_FRAMES RUN...: the page's data equals the runs' files
  "$PY" - "$@" <<'PY'
import base64, json, re, sys
import numpy as np
page, max_frames, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
html = open(page, encoding="utf-8").read()
# self-contained: no URL to fetch from anywhere
assert not re.search(r'(src|href)\s*=\s*["\']?\s*(https?:)?//', html), "the page references the network"
assert "@DATA@" not in html and "@APP@" not in html
assert "</script><b>" not in html, "config text ended a <script> element"
m = re.search(r'<script type="application/json" id="nd-data">(.*?)</script>', html, re.S)
data = json.loads(m.group(1))
assert [r["name"] for r in data["runs"]] == [d.rstrip("/").split("/")[-1] for d in runs]
for run, d in zip(data["runs"], runs):
    assert run["config"] == json.load(open(d + "/config.json"))
    lines = [json.loads(l) for l in open(d + "/metrics.jsonl")]
    cols = run["metrics"]["columns"]
    assert run["metrics"]["n"] == len(lines)
    assert "note" not in cols  # text is no series
    close = lambda a, b: len(a) == len(b) and all(abs(x - y) <= 4e-16 * abs(y) for x, y in zip(a, b))  # cJSON prints 15-17 digits
    assert close(cols["test_loss"], [l["test_loss"] for l in lines])
    assert close(cols["timing.epoch_s"], [l["timing"]["epoch_s"] for l in lines])
    assert [p["name"] for p in run["pngs"]] == ["figure.png"]
    assert base64.b64decode(run["pngs"][0]["data"]) == open(d + "/figure.png", "rb").read()
    index = json.load(open(d + "/record/index.json"))
    assert [s["name"] for s in run["streams"]] == [s["name"] for s in index["streams"]]
    for s, si in zip(run["streams"], index["streams"]):
        frames = np.concatenate([np.load(d + "/record/" + c["file"]) for c in si["chunks"]]).astype(np.float32)
        st = -(-len(frames) // max_frames)  # every k-th frame, at most max_frames (the byte budget is ample here)
        assert s["kind"] == si["kind"] and s["frame_shape"] == si["frame_shape"] and s["frames"] == len(frames)
        got = np.concatenate([np.frombuffer(base64.b64decode(c["data"]), "<f4").reshape((c["frames"], *si["frame_shape"]))
                              for c in s["chunks"]])
        ts = np.concatenate([c["t0"] + c["stride"] * np.arange(c["frames"]) for c in s["chunks"]])
        assert s["stride"] == st, (s["name"], s["stride"], st)
        assert (ts == np.arange(0, len(frames), st)).all(), (s["name"], ts)
        assert np.array_equal(got, frames[::st]), s["name"]
        if "positions" in si:
            pos = np.frombuffer(base64.b64decode(s["positions"]), "<f4").reshape(-1, 3)
            assert np.array_equal(pos, np.load(d + "/record/" + si["positions"]))
PY
}
check_page "$TMP/a/report.html" 1000 "$TMP/a" || fail "the page's data differs from the run's files"
# --max-frames 10: grid (70 frames) keeps every 7th, the 100-frame raster every 10th
expect_ok "$ND" report "$TMP/a" --max-frames 10 --out "$TMP/thin.html"
check_page "$TMP/thin.html" 10 "$TMP/a" || fail "--max-frames 10: the frames kept differ from every k-th"
"$PY" - "$TMP/thin.html" <<'PY' || fail "--max-frames 10 did not thin the frames as documented"
import json, re, sys
html = open(sys.argv[1]).read()
d = json.loads(re.search(r'id="nd-data">(.*?)</script>', html, re.S).group(1))
strides = {s["name"]: (s["stride"], sum(c["frames"] for c in s["chunks"])) for s in d["runs"][0]["streams"]}
assert strides == {"grid": (7, 10), "maps": (2, 10), "spikes": (10, 10), "fields": (1, 5), "codes": (4, 10)}, strides
PY
# --max-mb bounds the frames too: 1 MiB over 5 streams is plenty here (same page)
expect_ok "$ND" report "$TMP/a" --max-mb 1 --out "$TMP/mb.html"
cmp -s <(grep -o 'id="nd-data">.*' "$TMP/mb.html") <(grep -o 'id="nd-data">.*' "$TMP/a/report.html") || fail "--max-mb 1 changed a small run's page"
# --compare: both runs in one page, default ./compare.html
(cd "$TMP" && "$ND" report --compare a b >/dev/null) || fail "report --compare failed"
[ -s "$TMP/compare.html" ] || fail "--compare wrote no compare.html"
"$PY" - "$TMP/compare.html" <<'PY' || fail "compare.html lacks a run"
import json, re, sys
d = json.loads(re.search(r'id="nd-data">(.*?)</script>', open(sys.argv[1]).read(), re.S).group(1))
assert [r["name"] for r in d["runs"]] == ["a", "b"] and d["compare"] is True
assert len(d["runs"][1]["metrics"]["columns"]["lr"]) == 5
PY
# a demo's directory (no run itself, runs inside) shows each
mkdir "$TMP/demo" && cp -r "$TMP/a" "$TMP/demo/first" && cp -r "$TMP/b" "$TMP/demo/second"
expect_ok "$ND" report "$TMP/demo" --out -
case "$out" in *'"name":"demo/first"'*'"name":"demo/second"'*) ;; *) fail "a directory of runs: not both shown" ;; esac
echo "report: ok"
