#!/usr/bin/env bash
# The report page in a real browser: Debian's headless Chromium driven by
# puppeteer-core (report/node_modules, from scripts/deps.sh) through
# tests/report/browser_check.mjs.  Pages: a run with one recorded stream of
# every kind (tests/report/make_run.py), the demo's run (`neurodyn demo
# krotov`, small), runs of three other families (mlp, grid3d, lca), a
# --compare page, and the live page of `neurodyn serve` while lines are
# appended.  Each: no console error, every plot drawn with the series its
# metrics.jsonl implies, every viewer drawn (the 3-D view differs from its
# background), scrubbing changes the frame; screenshots go to
# $ND_BUILD_DIR/report-screenshots.  Where the trainers record (--record),
# the grid3d and lca runs record and their viewers are checked too, and a
# `run snn --record` raster.  Skipped (77) without chromium, node or
# puppeteer-core.
source "$(dirname "$0")/common.bash"
CHROMIUM="${ND_CHROMIUM:-/usr/bin/chromium}"
MODULES="$SRC/report/node_modules"
[ -x "$CHROMIUM" ] || { echo "SKIP: no Chromium at $CHROMIUM (Debian package chromium; scripts/deps.sh installs it)"; exit 77; }
command -v node >/dev/null || { echo "SKIP: no node (Debian package nodejs)"; exit 77; }
[ -d "$MODULES/puppeteer-core" ] || { echo "SKIP: no $MODULES/puppeteer-core (scripts/deps.sh runs npm ci in report/)"; exit 77; }
have_numpy || { echo "SKIP: /usr/bin/python3 has no numpy"; exit 77; }
SHOTS="${ND_BUILD_DIR:-$TMP}/report-screenshots"
export ND_CHROMIUM="$CHROMIUM" ND_NODE_MODULES="$MODULES"

"$PY" "$SRC/tests/report/make_run.py" "$TMP/synthetic"
expect_ok "$ND" report "$TMP/synthetic"
pages=("$TMP/synthetic/report.html=$TMP/synthetic")

DATA="${ND_DATA_DIR:-$SRC/data}"
if [ -e "$DATA/mnist" ]; then
  export ND_DATA_DIR="$DATA"
  common=(--threads 1 --quiet --seed 1)
  rec=() # the families' recorded states, where the trainer records (docs/record.md)
  "$ND" train grid3d --help | grep -q -- '--record-every' && rec=(--record)
  expect_ok "$ND" demo krotov --hidden 40 --epochs 3 --top-epochs 3 --limit 1000 "${common[@]}" --out "$TMP/demo"
  expect_ok "$ND" train mlp --layers 784,32,10 --epochs 3 --limit 1000 --test-limit 300 --angle-rows 200 "${common[@]}" --out "$TMP/mlp"
  expect_ok "$ND" train grid3d --grid 4,4,2 --epochs 2 --limit 1000 "${common[@]}" "${rec[@]}" --out "$TMP/grid3d"
  expect_ok "$ND" train lca --data mnist --limit 400 --validation 100 --atoms 16 --epochs 2 --max-iter 40 "${common[@]}" "${rec[@]}" --out "$TMP/lca"
  for r in demo mlp grid3d lca; do expect_ok "$ND" report "$TMP/$r"; done
  if "$ND" run snn --help | grep -q -- '--record-every'; then # a spike raster, from a run with no metrics
    expect_ok "$ND" run snn --record --quiet --out "$TMP/snn"
    expect_ok "$ND" report "$TMP/snn"
    pages+=("$TMP/snn/report.html=$TMP/snn")
  fi
  expect_ok "$ND" report --compare "$TMP/mlp" "$TMP/grid3d" --out "$TMP/compare.html"
  pages+=("$TMP/demo/report.html=$TMP/demo/hebbian,$TMP/demo/top" "$TMP/mlp/report.html=$TMP/mlp"
          "$TMP/grid3d/report.html=$TMP/grid3d" "$TMP/lca/report.html=$TMP/lca" "$TMP/compare.html=$TMP/mlp,$TMP/grid3d")
else
  echo "note: no MNIST in $DATA: only the synthetic run's page is checked"
fi

live=()
if [ "${ND_HAVE_MHD:-1}" != "0" ] && [ "${ND_HAVE_MHD:-1}" != "OFF" ]; then
  cp -r "$TMP/synthetic" "$TMP/live"
  "$ND" serve "$TMP/live" --port 0 >"$TMP/serve.out" 2>&1 &
  spid=$!
  trap 'kill $spid 2>/dev/null; rm -rf "$TMP"' EXIT
  for _ in $(seq 1 100); do grep -q "http://127.0.0.1:" "$TMP/serve.out" && break; sleep 0.1; done
  port=$(grep -o '127\.0\.0\.1:[0-9]*' "$TMP/serve.out" | head -1 | cut -d: -f2)
  [ -n "$port" ] || fail "serve printed no address: $(cat "$TMP/serve.out")"
  live=("http://127.0.0.1:$port/=$TMP/live")
  # a writer appends a metrics line every 0.3 s, as a training run does
  "$PY" - "$TMP/live/metrics.jsonl" <<'PY' &
import json, sys, time
for e in range(9, 200):
    with open(sys.argv[1], "a") as f:
        f.write(json.dumps({"epoch": e, "train_loss": 2.0 / e, "test_loss": 2.2 / e}) + "\n")
    time.sleep(0.3)
PY
  wpid=$!
  trap 'kill $spid $wpid 2>/dev/null; rm -rf "$TMP"' EXIT
fi

run node "$SRC/tests/report/browser_check.mjs" --shots "$SHOTS" --wait-events 20 --expect-growth "${pages[@]}" "${live[@]}"
printf '%s\n' "$out"
[ "$rc" -eq 77 ] && { echo "SKIP: $out"; exit 77; }
[ "$rc" -eq 0 ] || fail "browser checks failed (screenshots in $SHOTS)"
echo "report in the browser: ok (screenshots in $SHOTS)"
