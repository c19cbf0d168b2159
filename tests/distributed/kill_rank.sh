#!/usr/bin/env bash
# A rank that dies or hangs mid-training ends every rank with a clear error within a bounded
# time, never a hang:
#  1. kill -9 rank 1: mpirun notices and ends the job, exit status non-zero.
#  2. kill -STOP rank 1 (alive but silent, as a hung host): rank 0's wait on the gradient
#     allreduce passes GRADFLOW_MPI_TIMEOUT, it names what it waited for and MPI_Aborts the job.
# Usage: kill_rank.sh GRAPH_RUNNER MPIEXEC
RUNNER=$1 MPIEXEC=$2
source "$(dirname "$0")/common.sh"
write_towers "$work/towers.yaml"
export GRADFLOW_MPI_TIMEOUT=5

rank_pid() {  # MPIRUN_PID RANK: the pid of that rank (a graph-runner whose environment says so)
  local p
  for p in $(pgrep -f "graph-runner train $work/towers.yaml" || true); do
    [ "$p" = "$1" ] && continue
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo "$p"; return; }
  done
}

run_and_hit() {  # SIGNAL PATTERN LIMIT_S
  local signal=$1 pattern=$2 limit=$3
  rm -f "$work/m.jsonl"
  mpi 2 "$RUNNER" train "$work/towers.yaml" --epochs 100000 --metrics "$work/m.jsonl" >"$work/out.txt" 2>&1 &
  local launcher=$!
  for ((t = 0; t < 600; t++)); do [ -s "$work/m.jsonl" ] && break; sleep 0.1; done  # training has started
  [ -s "$work/m.jsonl" ] || { cat "$work/out.txt"; echo "FAIL: training did not start"; kill -9 "$launcher"; exit 1; }
  local victim
  victim=$(rank_pid "$launcher" 1)
  [ -n "$victim" ] || { echo "FAIL: rank 1 not found"; kill -9 "$launcher"; exit 1; }
  local start=$SECONDS
  kill "-$signal" "$victim"
  local status=0 waited=0
  while kill -0 "$launcher" 2>/dev/null && ((waited < limit * 10)); do sleep 0.1; ((waited++)) || true; done
  if kill -0 "$launcher" 2>/dev/null; then
    cat "$work/out.txt"; echo "FAIL (SIG$signal): mpirun still running after ${limit} s"
    kill -9 "$launcher" "$victim" 2>/dev/null || true; exit 1
  fi
  wait "$launcher" || status=$?
  [ "$status" -ne 0 ] || { cat "$work/out.txt"; echo "FAIL (SIG$signal): mpirun exited 0"; exit 1; }
  grep -q "$pattern" "$work/out.txt" || { cat "$work/out.txt"; echo "FAIL (SIG$signal): output lacks '$pattern'"; exit 1; }
  # Nothing left behind.
  sleep 0.5
  if [ -n "$(pgrep -f "graph-runner train $work/towers.yaml" || true)" ]; then
    echo "FAIL (SIG$signal): ranks left running"; kill -9 $(pgrep -f "graph-runner train $work/towers.yaml") 2>/dev/null; exit 1
  fi
  echo "  SIG$signal rank 1: mpirun exit $status after $((SECONDS - start)) s: $(grep -m1 "$pattern" "$work/out.txt")"
}

run_and_hit KILL "exited on signal 9" 30
run_and_hit STOP "did not complete within 5 s (GRADFLOW_MPI_TIMEOUT)" 30
echo PASS
