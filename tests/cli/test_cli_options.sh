#!/usr/bin/env bash
# Bad input to the option layer every command shares (issue 9 items 3, 6, 10,
# 13): thread counts from --threads and $ND_NUM_THREADS, strict --config files
# (trailing bytes, NUL, control bytes, duplicate keys, non-regular files), and
# messages that keep their reason when a path is very long.  Each must exit 2
# with one line naming the source, without hanging.
source "$(dirname "$0")/common.bash"

# Threads: the command-line value, then the environment.
for v in -1 100000 99999999 5abc 1.5 ""; do
  expect_error 2 "neurodyn demo mlp:" "--threads" "$ND" demo mlp --threads "$v"
done
for v in 5abc -1 0 99999999 " 2" 1e3; do
  ND_NUM_THREADS="$v" expect_error 2 "neurodyn demo mlp:" "ND_NUM_THREADS" "$ND" demo mlp
done
ND_NUM_THREADS=5abc expect_error 2 "neurodyn train krotov:" "ND_NUM_THREADS" "$ND" train krotov
ND_NUM_THREADS=5abc expect_error 2 "neurodyn eval:" "ND_NUM_THREADS" "$ND" eval --model "$TMP/none"
# a command without --threads ignores the variable (inspect reads a file only)
echo '{}' >"$TMP/empty.json"

# --config strictness: each refused naming the file and the offset.
printf '{"epochs": 1} xyz' >"$TMP/trailing.json"
expect_error 2 "neurodyn demo mlp:" "trailing.json" "$ND" demo mlp --config "$TMP/trailing.json"
case "$err" in *"offset 14"*) ;; *) fail "trailing garbage: offset not named" ;; esac
printf '{"epochs":\0 1}' >"$TMP/nul.json"
expect_error 2 "neurodyn demo mlp:" "NUL byte at offset 10" "$ND" demo mlp --config "$TMP/nul.json"
printf '{"epochs": 1}\0' >"$TMP/nul-end.json"
expect_error 2 "neurodyn demo mlp:" "NUL byte at offset 13" "$ND" demo mlp --config "$TMP/nul-end.json"
printf '{"epochs":\001 1}' >"$TMP/ctrl.json"
expect_error 2 "neurodyn demo mlp:" "control character" "$ND" demo mlp --config "$TMP/ctrl.json"
printf '{"epochs": 1, "epochs": 2}' >"$TMP/dup.json"
expect_error 2 "neurodyn demo mlp:" "duplicate key \"epochs\" at offset 14 (first at offset 1)" \
  "$ND" demo mlp --config "$TMP/dup.json"
case "$err" in *dup.json*) ;; *) fail "duplicate key: file not named" ;; esac
printf '{"_note": 1, "_note": 2}' >"$TMP/dup-ignored.json"
expect_error 2 "neurodyn demo mlp:" "duplicate key \"_note\"" "$ND" demo mlp --config "$TMP/dup-ignored.json"
printf '{"batch": 8, "threads": 1, "batch": 16}' >"$TMP/dup-far.json"
expect_error 2 "neurodyn demo mlp:" "at offset 27 (first at offset 1)" "$ND" demo mlp --config "$TMP/dup-far.json"
printf '{"threads": 1, "threads": 1}' >"$TMP/dup-same.json"
expect_error 2 "neurodyn demo mlp:" "duplicate key" "$ND" demo mlp --config "$TMP/dup-same.json"
printf '{"threads": -1}' >"$TMP/threads.json"
expect_error 2 "neurodyn demo mlp:" "threads" "$ND" demo mlp --config "$TMP/threads.json"
# a valid file with trailing whitespace is still accepted (inspect needs no data)
"$PY" -c "import sys; open(sys.argv[1],'wb').write(b'\x93NUMPY\x01\x00v\x00' + b\"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\".ljust(117) + b'\n' + b'\0'*8)" "$TMP/v.npy"
printf '{"stats": false}\n \t\r\n' >"$TMP/ws.json"
expect_ok "$ND" inspect --config "$TMP/ws.json" "$TMP/v.npy"
printf '{"stats": false, "stats": true}' >"$TMP/dup-bool.json"
expect_error 2 "neurodyn inspect:" "duplicate key" "$ND" inspect --config "$TMP/dup-bool.json" "$TMP/v.npy"

# Non-regular files: a FIFO must not block (timeout 20 s would mean a hang),
# a directory is named as one.
mkfifo "$TMP/fifo.json" "$TMP/fifo.npy"
run timeout 20 "$ND" demo mlp --config "$TMP/fifo.json"
[ "$rc" -ne 124 ] || fail "--config on a FIFO hangs"
[ "$rc" -eq 2 ] || fail "--config on a FIFO exited $rc, expected 2"
case "$err" in *"not a regular file (a FIFO)"*) ;; *) fail "--config FIFO: no 'not a regular file': $err" ;; esac
run timeout 20 "$ND" inspect "$TMP/fifo.npy"
[ "$rc" -ne 124 ] || fail "inspect on a FIFO hangs"
[ "$rc" -eq 2 ] || fail "inspect on a FIFO exited $rc, expected 2"
case "$err" in *"not a regular file"*) ;; *) fail "inspect FIFO: no 'not a regular file': $err" ;; esac
mkdir "$TMP/dir.json"
expect_error 2 "neurodyn demo mlp:" "not a regular file (a directory)" "$ND" demo mlp --config "$TMP/dir.json"

# A 4070-character path: the message keeps the reason at its end.
long="$TMP"
while [ ${#long} -lt 3900 ]; do long="$long/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; done
long="$long/$(printf 'b%.0s' $(seq 1 $((4070 - ${#long} - 1))))"
[ ${#long} -eq 4070 ] || fail "test bug: path has ${#long} characters"
expect_error 2 "neurodyn demo mlp:" "No such file or directory" "$ND" demo mlp --config "$long"
echo ok
