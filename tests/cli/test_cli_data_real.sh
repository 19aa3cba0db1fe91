#!/usr/bin/env bash
# neurodyn data check on the real MNIST and Fashion-MNIST (skipped, exit 77,
# when they have not been fetched): the sizes every copy of the sets has.
source "$(dirname "$0")/common.bash"
root="${ND_DATA_DIR:-$SRC/data}"
for set in mnist fashion-mnist; do
  [ -d "$root/$set" ] || { echo "SKIP: $root/$set not present (make data)"; exit 77; }
done
expect_ok "$ND" data check --data "$root"
printf '%s\n' "$out" | grep -q "^mnist: train 60000, test 10000 images of 28x28, 10 classes" || fail "MNIST: $out"
printf '%s\n' "$out" | grep -q "^fashion-mnist: train 60000, test 10000 images of 28x28, 10 classes" ||
  fail "Fashion-MNIST: $out"
echo "ok"
