#!/usr/bin/env bash
# The measurement behind docs/distributed.md's "Measured on this machine" table: one process at
# 1 and at 2 threads against two MPI ranks of one thread each, training the benchmark's MNIST MLP
# (batch 64) and large MLP (batch 1024) on 8,192 synthetic 28x28 uint8 images (an IDX file, as
# MNIST comes). Time per epoch from --metrics (elapsed_s differences, the first epoch dropped),
# pooled over RUNS runs of each configuration, which alternate so that a slow spell of a shared
# machine falls on all of them alike. Prints the table's rows in Markdown.
#   bash scripts/measure_distributed.sh [BUILD_DIR=build] [RUNS=3]
set -euo pipefail
build=${1:-build}
runs=${2:-3}
runner=$build/tools/graph-runner
[ -x "$runner" ] || { echo "measure_distributed.sh: $runner not found (bash scripts/build.sh)" >&2; exit 2; }
mpiexec=$(command -v mpiexec || true)
[ -n "$mpiexec" ] || { echo "measure_distributed.sh: mpiexec not found (bash scripts/setup.sh installs Open MPI)" >&2; exit 2; }
mpi_flags=(--oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && mpi_flags+=(--allow-run-as-root)

work=$(mktemp -d "${TMPDIR:-/tmp}/gradflow-measure.XXXXXX")
trap 'rm -rf "$work"' EXIT
samples=8192

python3 - "$work" "$samples" <<'PY'
import struct, sys
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/images.idx", "wb") as f:  # ubyte, [n, 784]: a fixed hash, no data set needed
    f.write(struct.pack(">BBBBII", 0, 0, 8, 2, n, 784))
    f.write(bytes(((i * 2654435761) % 4294967296) >> 24 for i in range(n * 784)))
with open(f"{work}/labels.idx", "wb") as f:
    f.write(struct.pack(">BBBBI", 0, 0, 8, 1, n))
    f.write(bytes(i % 10 for i in range(n)))
PY

# write_graph FILE BENCH_GRAPH EPOCHS BATCH: the bench graph with this data and schedule.
write_graph() {
  { cat "$2"; cat <<YAML
data:
  train:
    x: {idx: $work/images.idx, scale: 0.00392156862745098}
    y: {idx: $work/labels.idx}
train: {epochs: $3, batch_size: $4}
YAML
  } >"$1"
}
write_graph "$work/mnist.yaml" bench/graphs/mnist_mlp.yaml 10 64
write_graph "$work/large.yaml" bench/graphs/large_mlp.yaml 6 1024

configs=("N=1, 1 thread" "N=1, 2 threads" "N=2 ranks × 1 thread")
run_config() {  # CONFIG GRAPH METRICS
  case "$1" in
    "N=1, 1 thread") "$runner" train "$2" --threads 1 --metrics "$3" ;;
    "N=1, 2 threads") "$runner" train "$2" --threads 2 --metrics "$3" ;;
    *) "$mpiexec" "${mpi_flags[@]}" -np 2 "$runner" train "$2" --threads 1 --metrics "$3" ;;
  esac
}

for workload in mnist large; do
  for ((r = 0; r < runs; r++)); do
    for c in "${!configs[@]}"; do
      run_config "${configs[$c]}" "$work/$workload.yaml" "$work/$workload.$c.$r.jsonl" >"$work/$workload.$c.$r.out"
    done
  done
done

python3 - "$work" "$runs" "$samples" "${configs[@]}" <<'PY'
import json, re, statistics, sys
work, runs, samples, configs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
print("| workload | configuration | per step, median | epoch median [min, max] | samples/s | speed-up vs best N=1 | rank 0's wait per step |")
print("|---|---|---|---|---|---|---|")
for workload, title, batch in (("mnist", "MNIST MLP, batch 64", 64), ("large", "large MLP, batch 1024", 1024)):
    steps = -(-samples // batch)
    medians, rows = {}, []
    for c, name in enumerate(configs):
        epochs, waits = [], []
        for r in range(runs):
            elapsed = [json.loads(line)["elapsed_s"] for line in open(f"{work}/{workload}.{c}.{r}.jsonl")]
            epochs += [b - a for a, b in zip(elapsed, elapsed[1:])]
            out = open(f"{work}/{workload}.{c}.{r}.out").read()
            waits += [float(w) for w in re.findall(r"rank 0 waited ([0-9.]+) ms per step", out)]
        m = statistics.median(epochs)
        medians[name] = m
        rows.append((name, m, min(epochs), max(epochs), statistics.median(waits) if waits else None))
    best_single = min(medians[n] for n in configs if n.startswith("N=1"))
    for i, (name, m, lo, hi, wait) in enumerate(rows):
        speedup = f"{best_single / m:.2f}" if name.startswith("N=2") or medians[name] == best_single else ""
        if name.startswith("N=2"):
            speedup += f" (efficiency {best_single / m / 2:.0%})"
        print(f"| {title + f' ({steps} steps/epoch)' if i == 0 else ''} | {name} | {m / steps * 1e3:.2f} ms | "
              f"{m * 1e3:,.0f} ms [{lo * 1e3:,.0f}, {hi * 1e3:,.0f}] | {samples / m:,.0f} | {speedup} | "
              f"{f'{wait:.2f} ms' if wait is not None else ''} |")
PY
