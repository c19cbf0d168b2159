#!/usr/bin/env bash
# SIGINT to one rank under mpirun: every rank stops after the same step (they agree after each
# step), rank 0 writes the checkpoint, the job exits 130, and --resume from it ends with the
# uninterrupted run's checkpoint, byte for byte.
# Usage: signal.sh GRAPH_RUNNER MPIEXEC
RUNNER=$1 MPIEXEC=$2
source "$(dirname "$0")/common.sh"
write_towers "$work/towers.yaml"
cd "$work"
fail() { cat out.txt; echo "FAIL: $*"; exit 1; }
mpi 2 "$RUNNER" train towers.yaml --epochs 3000 --save straight.st >/dev/null
mpi 2 "$RUNNER" train towers.yaml --epochs 3000 --save part.st >out.txt 2>&1 &
launcher=$!
until grep -q "^training 'towers'" out.txt 2>/dev/null; do sleep 0.01; done
sleep 0.2
rank1=""
for pid in $(pgrep -f "graph-runner train towers.yaml --epochs 3000 --save part.st"); do
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && rank1=$pid
done
[ -n "$rank1" ] || fail "rank 1's process not found"
kill -INT "$rank1"
set +e
wait "$launcher"
status=$?
set -e
grep -q "^stopped after step" out.txt || { echo "the run ended before the signal: nothing to check"; exit 0; }
[ "$status" = 130 ] || fail "mpirun's exit status $status (130 expected)"
grep -q "^a signal to another rank: exit status 130; --resume part.st continues the run" out.txt ||
  fail "rank 0 did not say why it stopped"
mpi 2 "$RUNNER" train towers.yaml --epochs 3000 --resume part.st --save part.st >/dev/null
cmp straight.st part.st || fail "the run resumed after the signal ends with another checkpoint"
echo "PASS: $(grep '^stopped after step' out.txt)"
