#!/usr/bin/env bash
# Configures and builds gradflow into build/ (Release, warnings as errors). Extra arguments go
# to CMake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGRADFLOW_WERROR=ON "$@"
cmake --build build -j "$(nproc)"
