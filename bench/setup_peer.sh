#!/bin/sh
# Installs the benchmark's peers: python3-torch, OpenBLAS's OpenMP build for torch's BLAS, and
# (optionally) libtorch-dev for the LibTorch C++ twin. Idempotent: apt-get runs only when a
# package is missing. Only the libblas.so.3/liblapack.so.3 alternatives change; gradflow is
# unaffected: it loads OpenBLAS's pthreads build by path, with one OpenBLAS thread (framework/src/blas.cpp).
#   sh bench/setup_peer.sh            # torch + OpenMP OpenBLAS + libtorch-dev
#   sh bench/setup_peer.sh --no-libtorch
set -eu

arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
want="python3-torch libopenblas0-openmp"
[ "${1:-}" = "--no-libtorch" ] || want="$want libtorch-dev"

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p:$arch" 2>/dev/null | grep -q "install ok installed" ||
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
if [ -n "$missing" ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

# torch (libtorch1.13) calls whatever libblas.so.3 the alternatives system points to. The serial
# build would leave torch single-threaded in its matmuls; the pthread build fights OpenMP's pool.
for lib in libblas.so.3 liblapack.so.3; do
  target="/usr/lib/$multiarch/openblas-openmp/$lib"
  name="$lib-$multiarch"
  [ -e "$target" ] || continue
  current=$(readlink -f "/etc/alternatives/$name" 2>/dev/null || true)
  if [ "$current" != "$target" ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo update-alternatives --set "$name" "$target"
  fi
done
update-alternatives --query "libblas.so.3-$multiarch" | grep '^Value:'
