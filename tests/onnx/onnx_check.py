"""Shared helpers of the ONNX tests: run graph-runner and ONNX Runtime, compare their outputs.

Uses Debian's python3-onnx (the checker) and numpy; ONNX Runtime runs through node.js
(run_ort.js), so a missing node or onnxruntime-node fails the test with what to install."""
import csv
import os
import subprocess
import sys

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 1e-5  # absolute, or relative above 1


def run(cmd, **kw):
    """Runs cmd; on failure prints it with its output and exits 1."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(map(str, cmd))} exited {p.returncode}\n{p.stdout}{p.stderr}")
    return p.stdout


def check_model(path):
    """python3-onnx's checker, full check (shape inference included), must accept the model."""
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    return model


def sample_shapes(model):
    """Each graph input's name and sample shape (the batch axis dropped)."""
    init = {t.name for t in model.graph.initializer}
    shapes = []
    for v in model.graph.input:
        if v.name in init:
            continue
        dims = [d.dim_value for d in v.type.tensor_type.shape.dim][1:]
        shapes.append((v.name, dims))
    return shapes


def token_inputs(model):
    """Graph inputs that an embedding reads (Cast to INT64 feeding Gather's indices), each with
    the number of rows of the table gathered from: they must get integer ids in range."""
    init = {t.name: t for t in model.graph.initializer}
    casts = {n.output[0]: n.input[0] for n in model.graph.node
             if n.op_type == "Cast" and any(a.name == "to" and a.i == onnx.TensorProto.INT64 for a in n.attribute)}
    ranges = {}
    for n in model.graph.node:
        if n.op_type == "Gather" and n.input[1] in casts and n.input[0] in init:
            ranges[casts[n.input[1]]] = int(init[n.input[0]].dims[0])
    return ranges


def write_inputs(path, shapes, rows, seed, ids=None):
    rng = np.random.default_rng(seed)
    width = sum(int(np.prod(s)) for _, s in shapes)
    data = rng.uniform(-2.0, 2.0, size=(rows, width)).astype(np.float32)
    column = 0
    for name, s in shapes:
        if ids and name in ids:
            data[:, column:column + int(np.prod(s))] = rng.integers(0, ids[name], size=(rows, int(np.prod(s))))
        column += int(np.prod(s))
    np.savetxt(path, data, delimiter=",", fmt="%.9g")
    return data


def read_csv(text):
    rows = list(csv.reader(text.strip().splitlines()))
    return rows[0], np.array([[float(v) for v in r] for r in rows[1:]], dtype=np.float64)


def node_modules():
    path = os.environ.get("GRADFLOW_ORT_MODULES", os.path.join(HERE, "runtime", "node_modules"))
    if not os.path.isdir(os.path.join(path, "onnxruntime-node")):
        sys.exit(f"FAIL: onnxruntime-node is not installed in {path}: run scripts/setup.sh --data")
    return path


def run_ort(model_path, input_csv, shapes):
    specs = [f"{n}:{'x'.join(map(str, s)) or '1'}" for n, s in shapes]
    env = dict(os.environ, NODE_PATH=node_modules())
    return read_csv(run(["node", os.path.join(HERE, "run_ort.js"), model_path, input_csv] + specs, env=env))


def compare(what, expected, actual, tolerance=None):
    """Same header and every value within `tolerance` (default TOLERANCE; relative above magnitude 1)."""
    tolerance = TOLERANCE if tolerance is None else tolerance
    (h1, a), (h2, b) = expected, actual
    if h1 != h2:
        sys.exit(f"FAIL: {what}: columns {h1} vs {h2}")
    if a.shape != b.shape:
        sys.exit(f"FAIL: {what}: shapes {a.shape} vs {b.shape}")
    err = np.abs(a - b) / np.maximum(1.0, np.abs(a))
    worst = float(err.max()) if err.size else 0.0
    if worst > tolerance:
        i = np.unravel_index(np.argmax(err), err.shape)
        sys.exit(f"FAIL: {what}: row {i[0]} column {h1[i[1]]}: {a[i]} vs {b[i]} (error {worst:.3g})")
    return worst


def predict_vs_ort(runner, graph, weights, model_path, work, name, batches=(1, 1000), extra=()):
    """graph-runner predict and ONNX Runtime on the same random inputs at each batch size."""
    model = check_model(model_path)
    shapes = sample_shapes(model)
    worst = 0.0
    for rows in batches:
        inputs = os.path.join(work, f"{name}_in{rows}.csv")
        write_inputs(inputs, shapes, rows, seed=rows, ids=token_inputs(model))
        ours = read_csv(run([runner, "predict", graph, "--weights", weights, "--input", inputs, *extra]))
        theirs = run_ort(model_path, inputs, shapes)
        worst = max(worst, compare(f"{name} at batch {rows}", ours, theirs))
    return worst
