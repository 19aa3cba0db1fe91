#!/usr/bin/env bash
# neurodyn --help lists every command of the table in cli/main.c; --version
# prints the library version; unknown commands and options and bad values exit
# 2 with one line naming them; every command answers --help.
source "$(dirname "$0")/common.bash"

expect_ok "$ND" --help
help="$out"
# The commands from the table in cli/main.c, read independently of the program.
mapfile -t cmds < <(sed -n 's/^ *{"\([a-z-]*\)", nd_cli_[a-z_]*,.*/\1/p' "$SRC/cli/main.c")
[ "${#cmds[@]}" -ge 4 ] || fail "could not read the command table from $SRC/cli/main.c"
for c in "${cmds[@]}"; do
  printf '%s\n' "$help" | grep -Eq "^  $c +[a-z]" || fail "--help does not list '$c'"
  expect_ok "$ND" "$c" --help
  [ -n "$out" ] || fail "'$c --help' printed nothing"
done
for c in data inspect convert demo; do
  printf '%s\n' "$help" | grep -Eq "^  $c " || fail "--help does not list '$c'"
done

# --version: the version in include/neurodyn/core.h.
want="$(sed -n 's/^#define ND_VERSION_STRING "\(.*\)"/\1/p' "$SRC/include/neurodyn/core.h")"
expect_ok "$ND" --version
[ "$out" = "neurodyn $want" ] || fail "--version printed '$out', expected 'neurodyn $want'"

# No command: usage on stderr, exit 2.
run "$ND"
[ "$rc" -eq 2 ] || fail "no command: exit $rc, expected 2"

expect_error 2 "neurodyn:" "frobnicate" "$ND" frobnicate
expect_error 2 "neurodyn:" "--frobnicate" "$ND" --frobnicate
expect_error 2 "neurodyn inspect:" "--frobnicate" "$ND" inspect --frobnicate x.npy
expect_error 2 "neurodyn convert:" "--frobnicate" "$ND" convert --frobnicate=3 a.npy b.safetensors
expect_error 2 "neurodyn demo mlp:" "--epochs" "$ND" demo mlp --epochs many
expect_error 2 "neurodyn demo mlp:" "--epochs" "$ND" demo mlp --epochs 99999999999
expect_error 2 "neurodyn demo mlp:" "--lr" "$ND" demo mlp --lr nan
expect_error 2 "neurodyn demo mlp:" "--lr" "$ND" demo mlp --lr
expect_error 2 "neurodyn demo mlp:" "--quiet" "$ND" demo mlp --quiet=maybe
expect_error 2 "neurodyn data check:" "--dataset" "$ND" data check --dataset cifar
expect_error 2 "neurodyn inspect:" "missing argument" "$ND" inspect
expect_error 2 "neurodyn convert:" "too many arguments" "$ND" convert a.npy b.npy c.npy
expect_error 2 "neurodyn data:" "frob" "$ND" data frob
expect_error 2 "neurodyn demo:" "nosuchdemo" "$ND" demo nosuchdemo

# train krotov-top: bad values and a missing features file exit 2 and write nothing.
expect_error 2 "neurodyn train krotov-top:" "--lr-decay" "$ND" train krotov-top --features x --lr-decay 2 --out "$TMP/top-bad"
expect_error 2 "neurodyn train krotov-top:" "--dropout" "$ND" train krotov-top --features x --dropout 1 --out "$TMP/top-bad"
expect_error 2 "neurodyn train krotov-top:" "--optimizer" "$ND" train krotov-top --features x --optimizer sgd --out "$TMP/top-bad"
expect_error 2 "neurodyn train krotov-top:" "--weight-decay" "$ND" train krotov-top --features x --optimizer maxnorm --weight-decay 0.1 --out "$TMP/top-bad"
expect_error 2 "neurodyn train krotov-top:" "no-such.safetensors" "$ND" train krotov-top --features "$TMP/no-such.safetensors" --out "$TMP/top-bad"
[ ! -e "$TMP/top-bad" ] || fail "a refused krotov-top run left $TMP/top-bad behind"

# Demo table: --list names mlp; the demo's --help shows its options.
expect_ok "$ND" demo --list
printf '%s\n' "$out" | grep -Eq '^  mlp ' || fail "demo --list does not list mlp"
printf '%s\n' "$out" | grep -q '\[default\]' || fail "demo --list marks no default"
expect_ok "$ND" demo mlp --help
for o in --epochs --seed --out --config --threads "--\[no-\]quiet"; do
  printf '%s\n' "$out" | grep -q -- "$o" || fail "demo mlp --help does not mention $o"
done
# Without MNIST the demo says how to fetch it.
expect_error 2 "neurodyn demo mlp:" "make data" "$ND" demo mlp --data "$TMP/no-such-dir"
echo "ok"
