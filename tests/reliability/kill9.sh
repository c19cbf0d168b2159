#!/usr/bin/env bash
# Crash safety, for real: trains with --save, kill -9s graph-runner at a random moment (during
# an epoch or during a checkpoint write), then checks that the checkpoint on disk loads
# (graph-runner eval exit 0) and that --resume continues from it, its epoch never going back,
# and that the temp files of killed writes are gone once a write completes.
# Each iteration resumes from what the previous kill left, so the chain is tested too.
# Usage: kill9.sh GRAPH_RUNNER [ITERATIONS=10] [WORKDIR]
# Prints one line per iteration and a summary; exit 0 only when every iteration passed.
set -euo pipefail
runner=$(realpath "$1")
iterations=${2:-10}
work=${3:-$(mktemp -d "${TMPDIR:-/tmp}/gradflow-kill9.XXXXXX")}
mkdir -p "$work"
digits=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
[ -f "$digits" ] || { echo "kill9: $digits missing (scripts/setup.sh --data)"; exit 1; }

# digits with two wide hidden layers (about 1.1 M parameters, a 13 MB checkpoint with Adam's
# moments) so that a checkpoint write takes long enough to be hit by a kill, trained on 10%
# of the set (180 samples) so that epochs are short, and a checkpoint after every epoch.
graph=$work/wide_digits.yaml
cat >"$graph" <<YAML
graph: wide_digits
seed: 3
inputs:
  x: {shape: [64]}
  y: {shape: [1]}
nodes:
  - {name: fc1,    op: linear,        inputs: [x],   units: 1024}
  - {name: h1,     op: relu,          inputs: [fc1]}
  - {name: fc2,    op: linear,        inputs: [h1],  units: 1024}
  - {name: h2,     op: relu,          inputs: [fc2]}
  - {name: logits, op: linear,        inputs: [h2],  units: 10}
  - {name: loss,   op: cross_entropy, inputs: [logits, y]}
  - {name: opt,    op: adam,          inputs: [loss], lr: 0.0005}
data:
  train:
    x: {csv: $digits, columns: "0:64", scale: 0.0625}
    y: {csv: $digits, columns: [64]}
  split: 0.9
train: {epochs: 100000, batch_size: 64, checkpoint_every: 1}
YAML
ckpt=$work/wide.safetensors
rm -f "$ckpt" "$ckpt".tmp-*

epoch_of() {  # the epoch graph-runner reports when resuming from $ckpt (loads it fully)
  "$runner" train "$graph" --resume "$ckpt" --epochs 0 2>&1 | sed -n 's/^resumed from .* at epoch \([0-9]*\),.*/\1/p'
}

pass=0 fail=0 mid_write=0 no_ckpt=0 last_epoch=0
for ((i = 1; i <= iterations; i++)); do
  args=(train "$graph" --save "$ckpt" --threads 2)
  [ -f "$ckpt" ] && args+=(--resume "$ckpt")
  "$runner" "${args[@]}" >"$work/train.log" 2>&1 &
  pid=$!
  if ((i % 2 == 1)); then
    # Odd iterations: a random moment, 0.3 to 4 s in (loading, an epoch or a write).
    sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.3 + 3.7 * rand() }')"
  else
    # Even iterations: inside a checkpoint write, once its temp file exists (0-3 ms later).
    for ((t = 0; t < 20000; t++)); do
      compgen -G "$ckpt.tmp-*" >/dev/null && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.001
    done
    sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.3f", 0.003 * rand() }')"
  fi
  if ! kill -9 "$pid" 2>/dev/null; then
    echo "iteration $i: graph-runner exited before the kill:"; cat "$work/train.log"; fail=$((fail + 1)); continue
  fi
  wait "$pid" 2>/dev/null || true
  # The killed write's temp file stays: the next write to the checkpoint removes it.
  tmp_left=0
  [ -e "$ckpt.tmp-$pid" ] && tmp_left=1 && mid_write=$((mid_write + 1))
  if [ ! -f "$ckpt" ]; then
    if [ "$last_epoch" -eq 0 ]; then
      echo "iteration $i: killed before the first checkpoint (ok)"; no_ckpt=$((no_ckpt + 1)); pass=$((pass + 1)); continue
    fi
    echo "iteration $i: FAIL: the checkpoint of epoch $last_epoch disappeared"; fail=$((fail + 1)); continue
  fi
  if ! "$runner" eval "$graph" --weights "$ckpt" >"$work/eval.log" 2>&1; then
    echo "iteration $i: FAIL: eval refused the checkpoint:"; cat "$work/eval.log"; fail=$((fail + 1)); continue
  fi
  epoch=$(epoch_of)
  if [ -z "$epoch" ] || [ "$epoch" -lt "$last_epoch" ]; then
    echo "iteration $i: FAIL: --resume gave epoch '${epoch}' after epoch $last_epoch"; fail=$((fail + 1)); continue
  fi
  echo "iteration $i: killed $( [ "$tmp_left" -gt 0 ] && echo "during a checkpoint write" || echo "between writes"), checkpoint loads, resumes at epoch $epoch"
  last_epoch=$epoch
  pass=$((pass + 1))
done

# The chain ends with an uninterrupted resumed run of one more epoch.
if [ -f "$ckpt" ]; then
  target=$((last_epoch + 1))
  if "$runner" train "$graph" --resume "$ckpt" --save "$ckpt" --epochs "$target" >"$work/final.log" 2>&1 &&
     [ "$(epoch_of)" = "$target" ]; then
    echo "final: resumed from epoch $last_epoch and completed epoch $target"
    if compgen -G "$ckpt.tmp-*" >/dev/null; then
      echo "final: FAIL: temp files of killed writes left after a completed write: $(cd "$work" && echo ./*.tmp-*)"
      fail=$((fail + 1))
    fi
  else
    echo "final: FAIL: resuming to epoch $target:"; cat "$work/final.log"; fail=$((fail + 1))
  fi
fi
echo "kill9: $iterations iterations, $pass passed, $fail failed; $mid_write killed during a checkpoint write, $no_ckpt before the first checkpoint; last epoch $last_epoch"
[ "$#" -ge 3 ] || rm -rf "$work"
[ "$fail" -eq 0 ]
