#!/usr/bin/env bash
# mpirun -np 2 trains the same as one process on the same global batch (within float
# tolerance), and two -np 2 runs are bit-identical (metrics and checkpoint), whichever scheduler;
# also with gradient clipping (of the reduced gradient), a plateau schedule and early stopping,
# and with dropout (masks follow the sample, not the rank).
# Usage: matches_single.sh GRAPH_RUNNER MPIEXEC
RUNNER=$1 MPIEXEC=$2
source "$(dirname "$0")/common.sh"
write_towers "$work/towers.yaml"
write_regression "$work/regression.yaml"
write_scheduled "$work/scheduled.yaml"
write_dropout "$work/dropout.yaml"

for graph in towers regression scheduled dropout; do
  g=$work/$graph.yaml
  echo "$graph: 1 process vs mpirun -np 2"
  "$RUNNER" train "$g" --metrics "$work/$graph.1.jsonl" --save "$work/$graph.1.st" >"$work/out1.txt"
  mpi 2 "$RUNNER" train "$g" --metrics "$work/$graph.2a.jsonl" --save "$work/$graph.2a.st" >"$work/out2.txt"
  grep -q "data-parallel on 2 ranks" "$work/out2.txt" || { cat "$work/out2.txt"; echo "FAIL: not data-parallel"; exit 1; }
  # Only rank 0 prints: one line per epoch, not two.
  [ "$(grep -c '^epoch ' "$work/out2.txt")" -eq "$(grep -c '^epoch ' "$work/out1.txt")" ] ||
    { cat "$work/out2.txt"; echo "FAIL: more than one rank printed"; exit 1; }
  compare_metrics "$work/$graph.1.jsonl" "$work/$graph.2a.jsonl" 1e-5

  echo "$graph: two mpirun -np 2 runs (sequential and parallel scheduler) are bit-identical"
  mpi 2 "$RUNNER" train "$g" --scheduler parallel --metrics "$work/$graph.2b.jsonl" --save "$work/$graph.2b.st" >/dev/null
  compare_metrics "$work/$graph.2a.jsonl" "$work/$graph.2b.jsonl" 0
  cmp "$work/$graph.2a.st" "$work/$graph.2b.st" || { echo "FAIL: checkpoints differ"; exit 1; }
  echo "  checkpoints identical"
done

echo "towers: 3 ranks, batch 2 (one rank has no samples in every step)"
"$RUNNER" train "$work/towers.yaml" --epochs 2 --batch-size 2 --metrics "$work/small.1.jsonl" >/dev/null
mpi 3 "$RUNNER" train "$work/towers.yaml" --epochs 2 --batch-size 2 --metrics "$work/small.3.jsonl" >/dev/null
compare_metrics "$work/small.1.jsonl" "$work/small.3.jsonl" 1e-5
echo PASS
