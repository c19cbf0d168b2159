#!/usr/bin/env bash
# Installs the Debian packages gradflow needs to build and test; installs nothing when all
# are present (idempotent). Usage: scripts/setup.sh [--data] [--test] [--peer] [--sanitize] [--mpi]
#   --data      also the example data sets (sklearn's digits, Fashion-MNIST)
#   --test      also what the tests check gradflow against: python3-onnx, python3-torch, node.js
#               and ONNX Runtime's npm package onnxruntime-node, installed into
#               tests/onnx/runtime/ (docs/onnx.md), and chromium, whose headless mode opens the
#               dashboard's page (docs/dashboard.md)
#   --peer      also PyTorch, the reference peer for the benchmark
#   --sanitize  also clang 14 and its sanitizer/libFuzzer runtimes (scripts/sanitize.sh, fuzz.sh)
#   --mpi       also Open MPI, for data-parallel training under mpirun (docs/distributed.md)
set -euo pipefail

build_packages=(
  build-essential cmake pkg-config
  libboost-graph-dev libtbb-dev libyaml-cpp-dev catch2 libcli11-dev libfmt-dev
  nlohmann-json3-dev zlib1g-dev libopenblas-pthread-dev python3
  libonnx-dev libprotobuf-dev  # graph-runner export/import (gradflow_onnx, docs/onnx.md)
  libcpp-httplib-dev libjs-chart.js  # graph-runner dashboard: its HTTP server and chart library
)
data_packages=(python3-sklearn dataset-fashion-mnist graphviz fortunes)  # graphviz: `graph-runner dot --svg`
onnx_test_packages=(python3-onnx python3-torch python3-torchvision python3-numpy)   # the ONNX tests' checker and peers
browser_test_packages=(chromium)  # the dashboard's page in headless Chromium (tests/tools/dashboard_test.py)
ort_version=1.30.0  # onnxruntime-node, pinned: the tests compare against this runtime
ort_dir=$(cd "$(dirname "$0")/.." && pwd)/tests/onnx/runtime
peer_packages=(python3-torch python3-numpy)
sanitize_packages=(clang-14 libclang-rt-14-dev dpkg-dev xz-utils)  # dpkg-dev: scripts/tsan_tbb.sh
mpi_packages=(libopenmpi-dev openmpi-bin)

wanted=("${build_packages[@]}")
want_ort=0
for arg in "$@"; do
  case "$arg" in
    --data) wanted+=("${data_packages[@]}") ;;
    --test) wanted+=("${onnx_test_packages[@]}" "${browser_test_packages[@]}"); want_ort=1 ;;
    --peer) wanted+=("${peer_packages[@]}") ;;
    --sanitize) wanted+=("${sanitize_packages[@]}") ;;
    --mpi) wanted+=("${mpi_packages[@]}") ;;
    *) echo "setup.sh: unknown option '$arg' (expected --data, --test, --peer, --sanitize or --mpi)" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# node.js from any source will do (Debian's, or NodeSource's, which bundles npm).
if [ "$want_ort" -eq 1 ]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#wanted[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime for the ONNX tests: its Linux x64 CPU library is inside the npm package, so no
# install script needs to run (--ignore-scripts). Only when that version is not there yet.
if [ "$want_ort" -eq 1 ] &&
   ! grep -qs "\"version\": \"$ort_version\"" "$ort_dir/node_modules/onnxruntime-node/package.json"; then
  echo "setup: installing onnxruntime-node $ort_version into $ort_dir"
  mkdir -p "$ort_dir"
  npm install --prefix "$ort_dir" --ignore-scripts --no-audit --no-fund --loglevel=error \
    "onnxruntime-node@$ort_version" >/dev/null
fi
