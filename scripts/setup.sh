#!/usr/bin/env bash
# Installs the Debian packages gradflow needs to build and test; installs nothing when all
# are present (idempotent). Usage: scripts/setup.sh [--data] [--peer] [--sanitize] [--mpi]
#   --data      also the example data sets (sklearn's digits, Fashion-MNIST)
#   --peer      also PyTorch, the reference peer for the benchmark
#   --sanitize  also clang 14 and its sanitizer/libFuzzer runtimes (scripts/sanitize.sh, fuzz.sh)
#   --mpi       also Open MPI, for data-parallel training under mpirun (docs/distributed.md)
set -euo pipefail

build_packages=(
  build-essential cmake pkg-config
  libboost-graph-dev libtbb-dev libyaml-cpp-dev catch2 libcli11-dev libfmt-dev
  nlohmann-json3-dev zlib1g-dev libopenblas-pthread-dev python3
)
data_packages=(python3-sklearn dataset-fashion-mnist graphviz)  # graphviz: `graph-runner dot --svg`
peer_packages=(python3-torch python3-numpy)
sanitize_packages=(clang-14 libclang-rt-14-dev dpkg-dev xz-utils)  # dpkg-dev: scripts/tsan_tbb.sh
mpi_packages=(libopenmpi-dev openmpi-bin)

wanted=("${build_packages[@]}")
for arg in "$@"; do
  case "$arg" in
    --data) wanted+=("${data_packages[@]}") ;;
    --peer) wanted+=("${peer_packages[@]}") ;;
    --sanitize) wanted+=("${sanitize_packages[@]}") ;;
    --mpi) wanted+=("${mpi_packages[@]}") ;;
    *) echo "setup.sh: unknown option '$arg' (expected --data, --peer, --sanitize or --mpi)" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#wanted[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
