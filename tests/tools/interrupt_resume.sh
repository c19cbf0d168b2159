#!/bin/bash
# SIGINT at random steps of `train --save`, then `--resume`: the final checkpoint is the
# uninterrupted run's, byte for byte (docs/graph-format.md, "Step control"). Also: SIGTERM
# exits 143 after saving, and a second signal exits at once.
# Usage: interrupt_resume.sh GRAPH_RUNNER
set -u
runner=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 12 samples in batches of 5 (3 steps an epoch, the last of 2), shuffled, two hidden layers
# with dropout, SGD with momentum, a per-step step schedule with warm-up, and checkpoints inside
# epochs: 120000 steps in all, long enough (about half a second) for a signal to land inside the run.
cat > "$dir/g.yaml" <<'YAML'
graph: steps
seed: 11
inputs:
  x: {shape: [3]}
  y: {shape: [1]}
nodes:
  - {name: fc1, op: linear, inputs: [x], units: 8}
  - {name: h1, op: relu, inputs: [fc1]}
  - {name: d1, op: dropout, inputs: [h1], p: 0.25}
  - {name: fc2, op: linear, inputs: [d1], units: 4}
  - {name: h2, op: sigmoid, inputs: [fc2]}
  - {name: fc3, op: linear, inputs: [h2], units: 1}
  - {name: loss, op: mse, inputs: [fc3, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.05, momentum: 0.9}
data:
  train:
    x: [[0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 1, 1], [0.5, 0.5, 0], [0.2, 0.9, 0.4], [0.9, 0.1, 0.3], [0.3, 0.3, 0.3],
        [0.7, 0.8, 0.1], [0.1, 0.6, 0.9], [0.4, 0.2, 0.8], [0.6, 0.4, 0.5]]
    y: [[0], [1], [1], [0], [0.5], [0.8], [0.7], [0.1], [0.4], [0.6], [0.3], [0.2]]
train:
  epochs: 40000
  batch_size: 5
  checkpoint_every_steps: 5000
  lr_schedule: {kind: step, interval: step, step_size: 3000, gamma: 0.5, warmup_epochs: 200}
YAML

"$runner" train "$dir/g.yaml" --threads 1 --save "$dir/whole.st" > "$dir/whole.out" 2>&1 ||
  fail "the uninterrupted run: $(cat "$dir/whole.out")"

# Starts `train --save $1` in the background ($pid) and returns once it trains (the signal
# handlers are in place before its first line). The log is removed first: the last run's
# "training" line must not be taken for this one's before the new process has even started.
start() {
  rm -f "$dir/out"
  "$runner" train "$dir/g.yaml" --threads 1 --save "$1" > "$dir/out" 2>&1 &
  pid=$!
  until grep -q "^training 'steps'" "$dir/out" 2>/dev/null; do
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.002
  done
}

interrupted=0
for attempt in $(seq 1 30); do
  [ "$interrupted" -ge 3 ] && break
  rm -f "$dir/part.st"
  start "$dir/part.st"
  sleep "0.$(printf '%03d' $((RANDOM % 150)))"
  kill -INT "$pid"
  wait "$pid"
  status=$?
  # The run ended before the signal came: nothing to resume, try again.
  grep -q "^stopped after step" "$dir/out" || continue
  [ "$status" = 130 ] || fail "exit status $status after SIGINT (130 expected): $(cat "$dir/out")"
  grep -q "^graph-runner: SIGINT: stopping after the current step to write the checkpoint" "$dir/out" ||
    fail "no line about the signal: $(cat "$dir/out")"
  grep -q "^SIGINT: exit status 130; --resume $dir/part.st continues the run$" "$dir/out" ||
    fail "no exit line: $(cat "$dir/out")"
  step=$(sed -n 's/^stopped after step \([0-9]*\) .*: on a signal$/\1/p' "$dir/out")
  [ -n "$step" ] || fail "no stop line: $(cat "$dir/out")"
  "$runner" train "$dir/g.yaml" --threads 2 --resume "$dir/part.st" --save "$dir/part.st" > "$dir/resumed.out" 2>&1 ||
    fail "resuming from step $step: $(cat "$dir/resumed.out")"
  cmp -s "$dir/part.st" "$dir/whole.st" ||
    fail "resumed from step $step: the final checkpoint differs from the uninterrupted run's"
  echo "SIGINT after step $step, resumed: the final checkpoint is the uninterrupted run's"
  interrupted=$((interrupted + 1))
done
[ "$interrupted" -ge 3 ] || fail "only $interrupted of the runs were interrupted before they ended"

# SIGTERM: the same, with 143.
start "$dir/term.st"
sleep 0.05
kill -TERM "$pid"
wait "$pid"
status=$?
[ "$status" = 143 ] || fail "exit status $status after SIGTERM (143 expected): $(cat "$dir/out")"
grep -q "^SIGTERM: exit status 143; --resume $dir/term.st continues the run$" "$dir/out" ||
  fail "no exit line after SIGTERM: $(cat "$dir/out")"
echo "SIGTERM: saved, exit status 143"

# Two signals at once (held while the process is stopped; which of the two the process handles
# second is the kernel's choice): the second exits at once, without saving.
start "$dir/twice.st"
kill -STOP "$pid"
kill -INT "$pid"
kill -TERM "$pid"
kill -CONT "$pid"
wait "$pid"
status=$?
[ "$status" = 130 ] || [ "$status" = 143 ] ||
  fail "exit status $status after a second signal (130 or 143 expected): $(cat "$dir/out")"
grep -q "^graph-runner: a second signal: exiting now without saving" "$dir/out" ||
  fail "no line about the second signal: $(cat "$dir/out")"
grep -q "^saved" "$dir/out" && fail "a second signal still saved: $(cat "$dir/out")"
echo "a second signal: exit status $status at once"
exit 0
