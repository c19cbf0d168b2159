#!/usr/bin/env bash
# The plugin SDK from outside the tree: install gradflow into a temporary prefix, build the
# plugin in out_of_tree/ as a separate CMake project against it, and train a graph that uses
# it with the installed graph-runner; check the op alone with the library's gradcheck.
# Usage: out_of_tree.sh GRADFLOW_BUILD_DIR OUT_OF_TREE_SOURCE WORK_DIR [CXX_FLAGS [EXE_LINKER_FLAGS
#        [SHARED_LINKER_FLAGS]]]: a sanitizer tree passes its own, so that the outside program
#        and plugin link the same sanitizer runtime as the gradflow they load
set -euo pipefail
build=$1 project=$2 work=$3 cxx_flags=${4:-} exe_link=${5:-} shared_link=${6:-}
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix"
cp "$project/softsign.cpp" "$project/check_softsign.cpp" "$project/CMakeLists.txt" "$project/xor_softsign.yaml" "$work/"
cmake -S "$work" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="$cxx_flags" -DCMAKE_EXE_LINKER_FLAGS="$exe_link" -DCMAKE_SHARED_LINKER_FLAGS="$shared_link" \
  -DCMAKE_MODULE_LINKER_FLAGS="$shared_link"
cmake --build "$work/build"

# Only the entry point is exported.
exported=$(nm -D --defined-only "$work/build/libsoftsign.so" | awk '{print $3}' | grep -v '^_' | sort -u)
[[ $exported == "gradflow_plugin_init" ]] || { echo "FAIL: exports $exported"; exit 1; }

"$prefix/bin/graph-runner" ops --plugin "$work/build/libsoftsign.so" | grep -E "^softsign .*libsoftsign.so\]$"
"$prefix/bin/graph-runner" train "$work/xor_softsign.yaml" --save "$work/xor.safetensors" \
  --metrics "$work/metrics.jsonl"
"$prefix/bin/graph-runner" gradcheck "$work/xor_softsign.yaml"
"$work/build/check_softsign" "$work/build/libsoftsign.so"  # the op alone: gradflow/gradcheck.hpp
last=$(tail -1 "$work/metrics.jsonl" | sed 's/.*"loss":\([0-9.e+-]*\).*/\1/')
awk -v b="$last" 'BEGIN { exit !(b < 0.1) }' || { echo "FAIL: final loss $last"; exit 1; }
grep -aq '"fc1.weight"' "$work/xor.safetensors"
echo "out-of-tree plugin trained: final loss $last"
