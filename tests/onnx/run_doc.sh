#!/usr/bin/env bash
# Runs every ```sh block of docs/onnx.md, in order and as written, as a user would from the
# source folder: in an empty folder that links the source's graphs/ and tests/, with
# graph-runner and Debian's python3 (python3-onnx, python3-torch) first on the PATH.
# Usage: run_doc.sh DOC.md GRAPH_RUNNER_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
doc=$1 bindir=$2 src=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
awk '/^```sh$/ { inside = 1; next } /^```$/ { inside = 0; next } inside { print }' "$doc" > "$work/doc.sh"
[[ -s $work/doc.sh ]] || { echo "FAIL: no sh blocks in $doc"; exit 1; }
ln -s "$src/graphs" "$work/graphs"
mkdir -p "$work/tests/onnx"
ln -s "${GRADFLOW_ORT_MODULES:-$src/tests/onnx/runtime/node_modules}" "$work/tests/onnx/runtime"
[[ -d $work/tests/onnx/runtime/onnxruntime-node ]] || { echo "FAIL: onnxruntime-node is not installed: run scripts/setup.sh --data"; exit 1; }
# The doc's NODE_PATH is tests/onnx/runtime/node_modules of the source folder.
mv "$work/tests/onnx/runtime" "$work/tests/onnx/modules" && mkdir "$work/tests/onnx/runtime"
mv "$work/tests/onnx/modules" "$work/tests/onnx/runtime/node_modules"
cd "$work"
PATH="$bindir:/usr/bin:$PATH" bash -euxo pipefail doc.sh
echo "every command of $doc ran"
