#!/usr/bin/env bash
# neurodyn serve and train --live: the live report server (libmicrohttpd).
# Refuses a non-loopback address without --allow-remote and bad ports;
# serves a run written by tests/report/make_run.py read-only to 100
# concurrent event-stream clients (every line and frame equal to the files,
# also those appended while they listen), survives malformed requests and
# clients vanishing, stays under a memory bound (tests/report/serve_client.py);
# ends on SIGINT with clients connected; `train mlp --live` writes the same
# metrics and the same model bytes as without, while clients come and go.
source "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: /usr/bin/python3 has no numpy"; exit 77; }
expect_ok "$ND" serve --help
[ "${ND_HAVE_MHD:-1}" != "0" ] && [ "${ND_HAVE_MHD:-1}" != "OFF" ] || {
  expect_error 2 "neurodyn serve:" "libmicrohttpd" "$ND" serve "$TMP"
  echo "SKIP: built without libmicrohttpd (serve refuses, as it should)"; exit 77; }
"$PY" "$SRC/tests/report/make_run.py" "$TMP/run"

expect_error 2 "neurodyn serve:" "$TMP/none" "$ND" serve "$TMP/none"
expect_error 2 "neurodyn serve:" "--allow-remote" "$ND" serve "$TMP/run" --host 0.0.0.0
expect_error 2 "neurodyn serve:" "--allow-remote" "$ND" serve "$TMP/run" --host 192.168.1.10
expect_error 2 "neurodyn serve:" "IPv4" "$ND" serve "$TMP/run" --host nowhere
expect_error 2 "neurodyn serve:" "--port" "$ND" serve "$TMP/run" --port 70000
expect_error 2 "neurodyn train:" "--live" "$ND" train mlp --live abc
expect_error 2 "neurodyn train:" "--live" "$ND" train mlp --live
expect_ok "$ND" train --help
case "$out" in *"--live PORT"*) ;; *) fail "train --help does not mention --live" ;; esac

# starts `neurodyn ARGS...` in the background, its stdout in $TMP/srv.out;
# sets $pid and $port (from the "serving ... at http://127.0.0.1:PORT/" line)
start_server() {
  "$ND" "$@" >"$TMP/srv.out" 2>"$TMP/srv.err" &
  pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -o '127\.0\.0\.1:[0-9]*/' "$TMP/srv.out" 2>/dev/null | head -1 | tr -dc 0-9 | sed 's/^127001//')
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$TMP/srv.err" >&2; fail "'$*' ended before serving"; }
    sleep 0.1
  done
  [ -n "$port" ] || fail "'$*' printed no address"
}

if ! "$ND" report "$TMP/run" --out "$TMP/probe.html" >/dev/null 2>&1; then
  echo "SKIP: the page's JavaScript libraries are not installed (scripts/deps.sh); refusals passed"; exit 77
fi
start_server serve "$TMP/run" --port 0
"$PY" "$SRC/tests/report/serve_client.py" "$port" "$TMP/run" "$pid" --clients 100 || { kill "$pid"; fail "serve_client.py"; }
# SIGINT with clients still connected: exits 0, promptly
"$PY" - "$port" <<'PY' &
import socket, sys, time
ss = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(5)]
for s in ss: s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(30)
PY
holder=$!
sleep 1
kill -INT "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; fail "serve did not end within 5 s of SIGINT"; }
wait "$pid" || fail "serve exited $? after SIGINT, expected 0"
kill "$holder" 2>/dev/null || true

# ---- train --live: the run is the same with clients coming and going
DATA="${ND_DATA_DIR:-$SRC/data}"
if [ ! -e "$DATA/mnist" ] && [ ! -e "$DATA/train-images-idx3-ubyte" ]; then
  echo "SKIP (train --live part): no MNIST in $DATA"; echo "serve: ok"; exit 0
fi
train=(train mlp --layers 784,32,10 --epochs 8 --limit 5000 --test-limit 500 --angle-rows 0 --threads 1 --seed 3 --quiet)
expect_ok "$ND" "${train[@]}" --out "$TMP/plain"
start_server "${train[@]}" --out "$TMP/live" --live 0
"$PY" - "$port" <<'PY' || fail "no client got an answer from train --live"   # clients connect, read a little, vanish; some stay to the end
import socket, sys, time
port = int(sys.argv[1])
kept, got = [], 0
for i in range(60):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n" if i % 3 else b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got += len(s.recv(100)) > 0
        (kept.append(s) if i % 4 == 0 else s.close())
    except OSError:
        break  # the training ended and the server with it
    time.sleep(0.02)
print("train --live: %d clients answered while it trained" % got)
sys.exit(0 if got else 1)
PY
wait "$pid" || fail "train --live exited $?"
grep -q "serving train mlp at http://127.0.0.1:" "$TMP/srv.out" || fail "train --live did not say where it serves"
cmp "$TMP/plain/mlp.safetensors" "$TMP/live/mlp.safetensors" || fail "train --live changed the model"
"$PY" - "$TMP/plain/metrics.jsonl" "$TMP/live/metrics.jsonl" <<'PY' || fail "train --live changed the metrics"
import json, sys
drop = ("seconds", "elapsed", "time", "ms_per_batch", "peak_rss_mib")
clean = lambda p: [{k: v for k, v in json.loads(l).items() if not any(d in k for d in drop)} for l in open(p)]
a, b = clean(sys.argv[1]), clean(sys.argv[2])
assert len(a) == len(b) >= 6, (len(a), len(b))
assert a == b, "metrics differ"
PY
echo "serve: ok"
