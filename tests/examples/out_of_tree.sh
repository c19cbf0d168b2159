#!/usr/bin/env bash
# Installs the built gradflow into a fresh prefix, builds examples/embed against it as an
# outside project would (find_package(gradflow)), and runs it.
# Usage: out_of_tree.sh CMAKE BINARY_DIR SOURCE_DIR WORK_DIR CHECKPOINT [CXX_FLAGS [EXE_LINKER_FLAGS]]
set -euo pipefail
cmake=$1 binary=$2 source=$3 work=$4 checkpoint=$5 cxx_flags=${6:-} link_flags=${7:-}
rm -rf "$work"
"$cmake" --install "$binary" --prefix "$work/prefix" > "$work.install.log" 2>&1 || { cat "$work.install.log"; exit 1; }
"$cmake" -S "$source/examples/embed" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror $cxx_flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$link_flags"
"$cmake" --build "$work/build"
out=$("$work/build/embed-example" "$checkpoint" "$source/graphs/xor.yaml")
echo "$out"
[[ $(grep -c -E '^0 xor 0 -> 0\.0|^0 xor 1 -> (0\.9|1\.0)|^1 xor 0 -> (0\.9|1\.0)|^1 xor 1 -> 0\.0' <<< "$out") == 4 ]]
