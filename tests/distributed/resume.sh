#!/usr/bin/env bash
# --resume under mpirun: 3 epochs, then 3 more from rank 0's checkpoint, equals 6 straight
# epochs (bit for bit), and only rank 0 writes files.
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
stray=$(ls | grep -v -E '^(data.csv|towers.yaml|straight.jsonl|straight.st|resumed.jsonl|resumed.st|out.txt)$' || true)
[ -z "$stray" ] || { echo "FAIL: unexpected files: $stray"; exit 1; }
echo PASS
