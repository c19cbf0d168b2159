"""ONNX's backend node tests (Debian's libonnx-testdata: apt-get install libonnx-testdata) through
`graph-runner import` and `predict`. Each test is a one-node model with inputs and expected
outputs (test_data_set_0/input_K.pb, output_K.pb); axis 0 of each input is taken as the batch.
Counts the models that import, those whose predict matches the expected outputs (error
|a - b| / max(1, |a|) at most 1e-4) and those where graph-runner crashed (a signal, an exit status
other than 0 and 1, or no answer in 60 s). A refused model (exit 1, one error line) is not a crash.

Usage: /usr/bin/python3 tests/onnx/backend_tests.py GRAPH_RUNNER [--data DIR] [--work DIR] [--list FILE]
Exit status 1 when anything crashed, else 0."""
import argparse
import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

DEFAULT_DATA = "/usr/share/libonnx-testdata/data/node"
TOLERANCE = 1e-4


def run(cmd):
    """('ok', stdout), ('refused', first stderr line) or ('crashed', why)."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "crashed", "no answer in 60 s"
    if p.returncode == 0:
        return "ok", p.stdout
    why = (p.stderr.strip().splitlines() or [""])[0][:200]
    return ("refused" if p.returncode == 1 else "crashed"), f"exit {p.returncode}: {why}"


def rows_of(arrays):
    """The arrays side by side, one row per index of axis 0, or None when they differ there."""
    if not arrays or any(a.ndim == 0 or a.shape[0] != arrays[0].shape[0] for a in arrays):
        return None
    return np.concatenate([a.reshape(a.shape[0], -1).astype(np.float64) for a in arrays], axis=1)


def check(runner, test_dir, work):
    """(outcome, detail): outcome is refused, crashed, no data, predict crashed, differs or matches."""
    name = os.path.basename(test_dir)
    graph, weights = os.path.join(work, f"{name}.yaml"), os.path.join(work, f"{name}.safetensors")
    status, out = run([runner, "import", os.path.join(test_dir, "model.onnx"), "-o", graph, "--weights", weights])
    if status != "ok":
        return status, out
    model = onnx.load(os.path.join(test_dir, "model.onnx"))
    init = {t.name for t in model.graph.initializer}
    n_inputs = len([v for v in model.graph.input if v.name not in init])
    data = os.path.join(test_dir, "test_data_set_0")
    load = lambda f: numpy_helper.to_array(onnx.load_tensor(f))  # noqa: E731
    inputs = [load(os.path.join(data, f"input_{k}.pb")) for k in range(n_inputs)
              if os.path.exists(os.path.join(data, f"input_{k}.pb"))]
    outputs = [load(f) for f in sorted(glob.glob(os.path.join(data, "output_*.pb")))]
    x, expected = rows_of(inputs), rows_of(outputs)
    if len(inputs) != n_inputs or x is None or expected is None or len(x) != len(expected):
        return "no data", "inputs or outputs do not share a batch axis"
    csv = os.path.join(work, f"{name}_x.csv")
    np.savetxt(csv, x, delimiter=",", fmt="%.9g")
    status, out = run([runner, "predict", graph, "--weights", weights, "--input", csv])
    if status != "ok":
        return ("predict crashed" if status == "crashed" else "differs"), out
    ours = np.array([[float(v) for v in line.split(",")] for line in out.strip().splitlines()[1:]])
    if ours.shape != expected.shape:
        return "differs", f"predict gave {ours.shape}, expected {expected.shape}"
    err = np.abs(ours - expected) / np.maximum(1.0, np.abs(expected))
    err[np.isnan(ours) & np.isnan(expected)] = 0
    worst = float(np.nan_to_num(err, nan=np.inf).max()) if err.size else 0.0
    return ("matches", f"{worst:.2g}") if worst <= TOLERANCE else ("differs", f"max error {worst:.3g}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runner")
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--work", default="backend_work")
    parser.add_argument("--list", help="write one line per test: name, outcome, detail")
    args = parser.parse_args()
    tests = sorted(d for d in glob.glob(os.path.join(args.data, "test_*")) if os.path.isfile(os.path.join(d, "model.onnx")))
    if not tests:
        sys.exit(f"no test_*/model.onnx under {args.data}: apt-get install libonnx-testdata")
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    counts, lines = {}, []
    for test in tests:
        outcome, detail = check(os.path.abspath(args.runner), test, args.work)
        counts[outcome] = counts.get(outcome, 0) + 1
        lines.append(f"{os.path.basename(test)}\t{outcome}\t{detail.strip() if outcome != 'matches' else detail}")
        if "crashed" in outcome:
            print(f"CRASH {os.path.basename(test)}: {detail}", flush=True)
    if args.list:
        with open(args.list, "w") as f:
            f.write("\n".join(lines) + "\n")
    imported = len(tests) - counts.get("refused", 0) - counts.get("crashed", 0)
    print(f"{len(tests)} tests: {imported} imported, {counts.get('matches', 0)} match, "
          f"{counts.get('differs', 0)} differ, {counts.get('no data', 0)} without a shared batch axis, "
          f"{counts.get('refused', 0)} refused, {counts.get('crashed', 0)} crashed in import, "
          f"{counts.get('predict crashed', 0)} crashed in predict")
    return 1 if counts.get("crashed") or counts.get("predict crashed") else 0


if __name__ == "__main__":
    sys.exit(main())
