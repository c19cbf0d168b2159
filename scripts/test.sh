#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --data --test --mpi
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
