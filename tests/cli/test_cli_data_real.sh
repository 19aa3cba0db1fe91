#!/usr/bin/env bash
# neurodyn data check on the real MNIST and Fashion-MNIST (skipped, exit 77,
# when they have not been fetched): the sizes every copy of the sets has, and
# data fetch --data DIR over valid files.
source "$(dirname "$0")/common.bash"
root="${ND_DATA_DIR:-$SRC/data}"
for set in mnist fashion-mnist; do
  [ -d "$root/$set" ] || { echo "SKIP: $root/$set not present (make data)"; exit 77; }
done
expect_ok "$ND" data check --data "$root"
printf '%s\n' "$out" | grep -q "^mnist: train 60000, test 10000 images of 28x28, 10 classes" || fail "MNIST: $out"
printf '%s\n' "$out" | grep -q "^fashion-mnist: train 60000, test 10000 images of 28x28, 10 classes" ||
  fail "Fashion-MNIST: $out"
# data fetch into a directory that already holds valid files only checks
# their SHA-256 (no network); a relative --data is taken from the working
# directory, not from the script's.
abs="$(cd "$root" && pwd)"
rel="$(realpath --relative-to="$TMP" "$abs")"
(cd "$TMP" && "$ND" data fetch --data "$rel") >"$TMP/fetch.out" 2>&1 || fail "data fetch --data $rel: $(cat "$TMP/fetch.out")"
grep -q "data fetch: done" "$TMP/fetch.out" || fail "data fetch: $(cat "$TMP/fetch.out")"
[ ! -e "$TMP/data" ] || fail "data fetch --data wrote into ./data"
echo "ok"
