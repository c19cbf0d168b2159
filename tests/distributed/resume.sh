#!/usr/bin/env bash
# --resume under mpirun: 3 epochs, then 3 more from rank 0's checkpoint, equals 6 straight
# epochs (bit for bit), and so does a run stopped inside an epoch by --max-steps and resumed;
# only rank 0 writes files.
# Usage: resume.sh GRAPH_RUNNER MPIEXEC
RUNNER=$1 MPIEXEC=$2
source "$(dirname "$0")/common.sh"
write_towers "$work/towers.yaml"
cd "$work"
mpi 2 "$RUNNER" train towers.yaml --epochs 6 --metrics straight.jsonl --save straight.st >/dev/null
mpi 2 "$RUNNER" train towers.yaml --epochs 3 --metrics resumed.jsonl --save resumed.st >/dev/null
mpi 2 "$RUNNER" train towers.yaml --epochs 6 --resume resumed.st --metrics resumed.jsonl --save resumed.st >out.txt
grep -q "resumed from resumed.st at epoch 3" out.txt || { cat out.txt; echo "FAIL: no resume line"; exit 1; }
[ "$(grep -c '^resumed from' out.txt)" -eq 1 ] || { cat out.txt; echo "FAIL: more than one rank printed"; exit 1; }
compare_metrics straight.jsonl resumed.jsonl 0
cmp straight.st resumed.st || { echo "FAIL: the resumed run's checkpoint differs"; exit 1; }
# Stopped inside an epoch by --max-steps (23 steps an epoch: step 40 is epoch 2's batch 17), then
# resumed: every rank continues from that batch, and the checkpoint is the straight run's.
mpi 2 "$RUNNER" train towers.yaml --epochs 6 --max-steps 40 --save inside.st >inside.txt
grep -q "^stopped after step 40 (in epoch 2/6, batch 17 of 23): --max-steps" inside.txt ||
  { cat inside.txt; echo "FAIL: no stop line"; exit 1; }
mpi 2 "$RUNNER" train towers.yaml --epochs 6 --resume inside.st --save inside.st >/dev/null
cmp straight.st inside.st || { echo "FAIL: the run resumed inside an epoch ends with another checkpoint"; exit 1; }
stray=$(ls | grep -v -E '^(data.csv|towers.yaml|straight.jsonl|straight.st|resumed.jsonl|resumed.st|out.txt|inside.st|inside.txt)$' || true)
[ -z "$stray" ] || { echo "FAIL: unexpected files: $stray"; exit 1; }
echo PASS
