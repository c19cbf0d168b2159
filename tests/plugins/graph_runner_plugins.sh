#!/usr/bin/env bash
# graph-runner with operator plugins, end to end.
# Usage: graph_runner_plugins.sh GRAPH_RUNNER SOURCE_DIR PLUGIN_DIR THROWING_PLUGIN WORK_DIR
set -euo pipefail
runner=$1 src=$2 plugins=$3 throwing=$4 work=$5
rm -rf "$work" && mkdir -p "$work" && cd "$work"
swish=$plugins/libswish.so scale=$plugins/libscale.so

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_error STATUS TEXT COMMAND...: the command exits with STATUS and TEXT is on stderr.
expect_error() {
  local status=$1 text=$2; shift 2
  local rc=0
  "$@" > out.txt 2> err.txt || rc=$?
  [[ $rc == "$status" ]] || { cat out.txt err.txt; fail "'$*' exited $rc, expected $status"; }
  grep -qF -- "$text" err.txt || { cat err.txt; fail "'$*' did not report: $text"; }
}

echo "== ops lists plugin operators with their library"
"$runner" ops --plugin "$swish" --plugin "$scale" > ops.txt
grep -E "^swish .*\[$(realpath "$swish")\]$" ops.txt || fail "swish missing from ops"
grep -E "^scale .*\[$(realpath "$scale")\]$" ops.txt || fail "scale missing from ops"
grep -E "^relu .*\[built-in\]$" ops.txt || fail "relu missing from ops"
GRADFLOW_PLUGIN_PATH="$plugins" "$runner" ops > ops_env.txt
grep -qE "^swish .*libswish.so\]$" ops_env.txt || fail "GRADFLOW_PLUGIN_PATH did not load swish"
grep -qE "^scale .*libscale.so\]$" ops_env.txt || fail "GRADFLOW_PLUGIN_PATH did not load scale"

echo "== swish: validate, train, gradcheck"
"$runner" validate "$src/plugins/swish/xor_swish.yaml" --plugin "$swish" | grep -q "valid"
"$runner" train "$src/plugins/swish/xor_swish.yaml" --plugin "$swish" --metrics swish.jsonl
first=$(head -1 swish.jsonl | sed 's/.*"loss":\([0-9.e+-]*\).*/\1/')
last=$(tail -1 swish.jsonl | sed 's/.*"loss":\([0-9.e+-]*\).*/\1/')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 10) }' || fail "swish loss $first -> $last"
"$runner" gradcheck "$src/plugins/swish/xor_swish.yaml" --plugin "$swish"

echo "== scale: train, checkpoint holds <node>.weight, gradcheck"
"$runner" train "$src/plugins/scale/fit_scale.yaml" --plugin "$scale" --save scale.safetensors \
  --metrics scale.jsonl
grep -aq '"s.weight"' scale.safetensors || fail "checkpoint lacks s.weight"
last=$(tail -1 scale.jsonl | sed 's/.*"loss":\([0-9.e+-]*\).*/\1/')
awk -v b="$last" 'BEGIN { exit !(b < 1e-4) }' || fail "scale did not fit: loss $last"
"$runner" eval "$src/plugins/scale/fit_scale.yaml" --plugin "$scale" --weights scale.safetensors
"$runner" gradcheck "$src/plugins/scale/fit_scale.yaml" --plugin "$scale"

echo "== plugins: in the graph file, relative to it"
mkdir -p graphdir/lib && cp "$scale" graphdir/lib/
sed 's|^seed: 1$|seed: 1\nplugins: [lib/libscale.so]|' "$src/plugins/scale/fit_scale.yaml" > graphdir/fit.yaml
grep -q "^plugins:" graphdir/fit.yaml || fail "could not write the graph"
"$runner" train graphdir/fit.yaml --epochs 2
GRADFLOW_PLUGIN_PATH="$plugins" "$runner" train "$src/plugins/scale/fit_scale.yaml" --epochs 2

echo "== errors"
expect_error 1 "error: nothing.so: cannot load plugin: no such file" \
  "$runner" train "$src/plugins/scale/fit_scale.yaml" --plugin nothing.so
echo "not a library" > libfake.so
expect_error 1 "error: libfake.so: cannot load plugin: not a shared library" \
  "$runner" ops --plugin libfake.so
sed 's|^seed: 1$|seed: 1\nplugins: [lib/libnothing.so]|' "$src/plugins/scale/fit_scale.yaml" > graphdir/missing.yaml
expect_error 1 "graphdir/missing.yaml:6:11: error: graphdir/lib/libnothing.so: cannot load plugin: no such file" \
  "$runner" validate graphdir/missing.yaml
expect_error 1 "operator 'relu' from $(realpath "$(dirname "$throwing")/libgf_test_dup_relu.so") is already registered by built-in" \
  "$runner" ops --plugin "$(dirname "$throwing")/libgf_test_dup_relu.so"
expect_error 1 "plugin built for gradflow plugin API 7, this gradflow supports 6" \
  "$runner" ops --plugin "$(dirname "$throwing")/libgf_test_bad_version.so"
expect_error 1 "not a gradflow plugin: no gradflow_plugin_init symbol" \
  "$runner" ops --plugin "$(dirname "$throwing")/libgf_test_no_entry.so"
for pass in forward backward; do
  cat > throw_$pass.yaml <<YAML
graph: throws
inputs: {x: {shape: [2]}, y: {shape: [1]}}
nodes:
  - {name: fc, op: linear, inputs: [x], units: 1}
  - {name: bad, op: test_throw, inputs: [fc], fail_in: $pass}
  - {name: loss, op: mse, inputs: [bad, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
data: {train: {x: [[0, 1]], y: [[1]]}}
YAML
  expect_error 1 "throw_$pass.yaml:5:5: error: node 'bad' (op test_throw) failed in the $pass pass: test_throw: asked to fail in $pass" \
    "$runner" train throw_$pass.yaml --plugin "$throwing" --epochs 1
done

echo "== the plugins export only their entry point"
for lib in "$swish" "$scale"; do
  exported=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^_' | sort -u)
  [[ $exported == "gradflow_plugin_init" ]] || fail "$lib exports: $exported"
done
echo "all plugin checks passed"
