# Shared by the distributed tests: `mpi N ARGS...` runs mpirun on this host, the test data and
# graphs, and a comparison of metrics files. Sourced with RUNNER and MPIEXEC set.
# Under the ASan build, leak checking is off for MPI processes: Open MPI's runtime keeps
# allocations from components it has unloaded at exit, which LeakSanitizer reports (and cannot
# suppress: their frames have no module left). The rest of the suite keeps leak checking on.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
set -euo pipefail
work=$(mktemp -d "${TMPDIR:-/tmp}/gradflow-dist.XXXXXX")
trap 'rm -rf "$work"' EXIT

mpi_flags=(--oversubscribe --bind-to none)  # CI has 2 cores; ranks share them
[ "$(id -u)" -eq 0 ] && mpi_flags+=(--allow-run-as-root)
mpi() {
  local n=$1
  shift
  "$MPIEXEC" "${mpi_flags[@]}" -np "$n" "$@"
}

# 700 samples of 12 features and 3 classes, from a fixed formula (no data set needed).
awk 'BEGIN {
  for (i = 0; i < 700; i++) {
    s = 0; line = "";
    for (j = 0; j < 12; j++) { v = sin(i * 0.37 + j * 1.3) + cos(i * 0.11 * (j + 1)); s += v * (j % 3 - 1); line = line sprintf("%.5f,", v) }
    print line (s > 0.6 ? 2 : (s < -0.6 ? 0 : 1))
  }
}' >"$work/data.csv"

# Two towers joined by concat (so the parallel scheduler runs nodes concurrently), Adam.
write_towers() {  # FILE [UNITS=16] [LR=0.003]
  cat >"$1" <<YAML
graph: towers
seed: 11
inputs:
  x: {shape: [12]}
  y: {shape: [1]}
nodes:
  - {name: a1,     op: linear,        inputs: [x],  units: ${2:-16}}
  - {name: ah,     op: relu,          inputs: [a1]}
  - {name: b1,     op: linear,        inputs: [x],  units: 16}
  - {name: bh,     op: tanh,          inputs: [b1]}
  - {name: joined, op: concat,        inputs: [ah, bh]}
  - {name: logits, op: linear,        inputs: [joined], units: 3}
  - {name: loss,   op: cross_entropy, inputs: [logits, y]}
  - {name: opt,    op: adam,          inputs: [loss], lr: ${3:-0.003}}
data:
  train:
    x: {csv: $work/data.csv, columns: "0:12"}
    y: {csv: $work/data.csv, columns: [12]}
  split: 0.2
train: {epochs: 6, batch_size: 25}
YAML
}

# A regression with a sum-reduced loss and SGD with momentum.
write_regression() {  # FILE
  cat >"$1" <<YAML
graph: regression
seed: 4
inputs:
  x: {shape: [12]}
  y: {shape: [1]}
nodes:
  - {name: fc1,  op: linear,  inputs: [x],   units: 8}
  - {name: h1,   op: sigmoid, inputs: [fc1]}
  - {name: out,  op: linear,  inputs: [h1],  units: 1}
  - {name: loss, op: mse,     inputs: [out, y], reduction: sum}
  - {name: opt,  op: sgd,     inputs: [loss], lr: 0.002, momentum: 0.9}
data:
  train:
    x: {csv: $work/data.csv, columns: "0:12"}
    y: {csv: $work/data.csv, columns: [12]}
train: {epochs: 5, batch_size: 32}
YAML
}

# The regression graph with the training schedule: a validation split, clipping of the reduced
# gradient, a plateau schedule and early stopping (their decisions must agree on every rank).
write_scheduled() {  # FILE
  write_regression "$1"
  sed -i 's|^train: {epochs: 5, batch_size: 32}|  validation_split: 0.2\ntrain:\n  epochs: 8\n  batch_size: 32\n  clip_grad_norm: 1.0\n  lr_schedule: {kind: plateau, patience: 0, factor: 0.5}\n  early_stopping: {patience: 3}|' "$1"
}

# The regression graph with dropout before its output layer: each sample's mask must be the
# same on whichever rank holds it, so -np 2 still matches one process.
write_dropout() {  # FILE
  write_regression "$1"
  sed -i -e 's|inputs: \[h1\],  units: 1}|inputs: [drop], units: 1}\n  - {name: drop, op: dropout, inputs: [h1], p: 0.3}|' "$1"
}

# compare_metrics A B RTOL: every epoch's loss (and test_loss) within RTOL; accuracies within
# 1%. RTOL 0 means bit-identical values. The step lines (train.log_every_steps) fall at the same
# steps; their loss is rank 0's share of each batch under mpirun, so it is not compared.
compare_metrics() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
all_a = [json.loads(l) for l in open(sys.argv[1])]
all_b = [json.loads(l) for l in open(sys.argv[2])]
steps = [[x["step"] for x in lines if "samples_per_s" in x] for lines in (all_a, all_b)]
assert steps[0] == steps[1], f"step lines at steps {steps[0]} vs {steps[1]}"
a, b = ([x for x in lines if "samples_per_s" not in x] for lines in (all_a, all_b))
rtol = float(sys.argv[3])
assert len(a) == len(b) and a, f"{len(a)} vs {len(b)} epochs"
worst = 0.0
for x, y in zip(a, b):
    assert x["epoch"] == y["epoch"] and x["step"] == y["step"], (x, y)
    assert x.get("lr") == y.get("lr"), (x, y)
    for k in ("loss", "test_loss", "val_loss"):
        if k not in x:
            continue
        d = abs(x[k] - y[k]) / max(abs(x[k]), 1e-30)
        worst = max(worst, d)
        if (rtol == 0 and x[k] != y[k]) or d > rtol:
            sys.exit(f"epoch {x['epoch']} {k}: {x[k]!r} vs {y[k]!r} (relative difference {d:.3g} > {rtol})")
    for k in ("accuracy", "test_accuracy"):
        if k in x and abs(x[k] - y[k]) > (0 if rtol == 0 else 0.01):
            sys.exit(f"epoch {x['epoch']} {k}: {x[k]} vs {y[k]}")
print(f"  {len(a)} epochs agree (largest relative loss difference {worst:.3g}, tolerance {rtol})")
PY
}
