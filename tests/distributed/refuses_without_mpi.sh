#!/usr/bin/env bash
# A graph-runner built without MPI, started by mpirun as two ranks, refuses at once on every
# rank, names the cause and the fix, and writes nothing (no checkpoint, no metrics, no plot).
# The same for the launcher's variables without mpirun (another MPI's launcher).
# Usage: refuses_without_mpi.sh GRAPH_RUNNER_WITHOUT_MPI MPIEXEC
RUNNER=$1 MPIEXEC=$2
source "$(dirname "$0")/common.sh"
write_towers "$work/g.yaml"
cd "$work"
status=0
timeout 120 "$MPIEXEC" "${mpi_flags[@]}" -np 2 "$RUNNER" train g.yaml --save out.safetensors --metrics m.jsonl \
  --plot p.svg >out.txt 2>&1 || status=$?
cat out.txt
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || { echo "FAIL: mpirun exit status $status"; exit 1; }
expected="error: started by an MPI launcher as one of 2 ranks (OMPI_COMM_WORLD_SIZE is set), but this graph-runner was built without MPI"
[ "$(grep -c "^$expected" out.txt)" -eq 2 ] || { echo "FAIL: not one error per rank"; exit 1; }
grep -q "bash scripts/setup.sh --mpi && bash scripts/build.sh" out.txt || { echo "FAIL: no fix named"; exit 1; }
! grep -q "training '" out.txt || { echo "FAIL: a rank trained"; exit 1; }
for f in out.safetensors m.jsonl p.svg; do [ ! -e "$f" ] || { echo "FAIL: $f was written"; exit 1; }; done

# MPICH's variables, no mpirun: the same refusal, exit status 1.
status=0
PMI_SIZE=2 PMI_RANK=1 "$RUNNER" train g.yaml --save out.safetensors >out.txt 2>&1 || status=$?
cat out.txt
[ "$status" -eq 1 ] && grep -q "one of 2 ranks (PMI_SIZE is set)" out.txt && [ ! -e out.safetensors ] ||
  { echo "FAIL: PMI_SIZE=2 without MPI (exit $status)"; exit 1; }
# One rank is a single-process run: it trains.
OMPI_COMM_WORLD_SIZE=1 OMPI_COMM_WORLD_RANK=0 "$RUNNER" train g.yaml --epochs 1 >out.txt 2>&1 ||
  { cat out.txt; echo "FAIL: a one-rank launch refused"; exit 1; }
echo "PASS"
