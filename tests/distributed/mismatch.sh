#!/usr/bin/env bash
# Ranks given different graph files (or options) stop at once with an error naming the ranks,
# never hang. Usage: mismatch.sh GRAPH_RUNNER MPIEXEC
RUNNER=$1 MPIEXEC=$2
source "$(dirname "$0")/common.sh"
write_towers "$work/a.yaml"
write_towers "$work/b.yaml" 16 0.004  # same shapes and parameter count, other bytes
write_towers "$work/c.yaml" 20        # another parameter count
printf 'graph: broken\nnodes: [\n' >"$work/broken.yaml"

expect_failure() {  # WHAT PATTERN mpirun-args...
  local what=$1 pattern=$2 status=0
  shift 2
  local start=$SECONDS
  timeout 120 "$MPIEXEC" "${mpi_flags[@]}" "$@" >"$work/out.txt" 2>&1 || status=$?
  if [ "$status" -eq 0 ] || [ "$status" -eq 124 ]; then
    cat "$work/out.txt"; echo "FAIL ($what): exit status $status"; exit 1
  fi
  grep -q "$pattern" "$work/out.txt" || { cat "$work/out.txt"; echo "FAIL ($what): no '$pattern'"; exit 1; }
  echo "  $what: exit $status after $((SECONDS - start)) s: $(grep -m1 "$pattern" "$work/out.txt")"
}
export GRADFLOW_MPI_TIMEOUT=30
expect_failure "other bytes" "ranks disagree on the graph file.*rank 1 has" \
  -np 1 "$RUNNER" train "$work/a.yaml" : -np 1 "$RUNNER" train "$work/b.yaml"
expect_failure "other parameter count" "ranks disagree on the graph file" \
  -np 1 "$RUNNER" train "$work/a.yaml" : -np 1 "$RUNNER" train "$work/c.yaml"
expect_failure "other --batch-size" "ranks disagree on the training options" \
  -np 1 "$RUNNER" train "$work/a.yaml" : -np 1 "$RUNNER" train "$work/a.yaml" --batch-size 10
expect_failure "one rank's graph is broken" "rank 1 of 2: bad graph file" \
  -np 1 "$RUNNER" train "$work/a.yaml" : -np 1 "$RUNNER" train "$work/broken.yaml"
echo PASS
