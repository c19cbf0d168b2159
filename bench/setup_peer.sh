#!/bin/sh
# Installs the benchmark's peers: python3-torch, OpenBLAS's OpenMP build for torch's BLAS, and
# (optionally) libtorch-dev for the LibTorch C++ twin. Idempotent: apt-get runs only when a
# package is missing. Nothing system-wide changes: no alternatives are switched.
#   sh bench/setup_peer.sh            # torch + OpenMP OpenBLAS + libtorch-dev
#   sh bench/setup_peer.sh --no-libtorch
#
# How the peer gets the OpenMP build (issue 17): torch's libtorch_cpu links both libblas.so.3
# and libopenblas.so.0. Both names resolve through Debian's alternatives, which stay on the
# pthreads build that scripts/setup.sh installs for gradflow, and the pthreads build's threads
# fight torch's OpenMP pool (torch at 1 thread: 3.3 s/epoch on it against 2.1 s on the OpenMP
# build). Switching the libblas.so.3 alternative, as this script once did, left libopenblas.so.0
# (where the work happens) on the pthreads build, and switching both would change every BLAS user
# on the machine. So instead bench/run.py prepends /usr/lib/<multiarch>/openblas-openmp, which
# holds libopenblas.so.0, libblas.so.3 and liblapack.so.3, to LD_LIBRARY_PATH in the peer's
# environment only (every torch and LibTorch child), and bench/twins/fashion_mnist_torch.py does the
# same for itself. gradflow is unaffected either way: it dlopens OpenBLAS's pthreads build by its
# full path with one OpenBLAS thread (framework/src/compute/blas.cpp). A machine where an earlier version
# of this script switched libblas.so.3 can go back with
#   update-alternatives --auto libblas.so.3-<multiarch>; update-alternatives --auto liblapack.so.3-<multiarch>
# (not done here: it changes nothing for the benchmark, whose peer bypasses the alternatives).
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

peer_dir="/usr/lib/$multiarch/openblas-openmp"
if [ ! -e "$peer_dir/libopenblas.so.0" ]; then
  echo "setup_peer.sh: $peer_dir/libopenblas.so.0 missing after installing libopenblas0-openmp" >&2
  exit 1
fi
echo "peer BLAS: LD_LIBRARY_PATH=$peer_dir (set by bench/run.py for torch and LibTorch only)"
