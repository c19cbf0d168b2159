#!/usr/bin/env bash
# The main job: installs what is missing (packages and the example data), builds, and trains
# the default graph, Fashion-MNIST with a 784-256-10 MLP. Any graph-runner train options may
# follow, e.g. scripts/run.sh --epochs 2.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --data
bash scripts/build.sh
mkdir -p runs
./build/tools/graph-runner train graphs/fashion_mnist_mlp.yaml \
  --save runs/fashion_mnist_mlp.safetensors --metrics runs/fashion_mnist_mlp.jsonl "$@"
