"""Export, checked by python3-onnx and run in ONNX Runtime against graph-runner predict (1e-5),
at batch 1 and batch 1000: every example graph in graphs/ whose ops all export, one graph
per built-in layer operator (an operator without a case here fails the test), and the
example plugins.
Usage: test_export.py GRAPH_RUNNER SOURCE_DIR PLUGIN_DIR WORK_DIR"""
import glob
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np

from onnx_check import IDS, IDS_RANGE, predict_vs_ort, run

runner, src, plugin_dir, work = sys.argv[1:5]
shutil.rmtree(work, ignore_errors=True)  # no file from an earlier run may pass for this one's
os.makedirs(work)

# op -> (sample shapes of the inputs, nodes, the node compared, its sample shape). `f` is a
# linear in front, so that every case has a parameter for the checkpoint to hold.
F = "{name: f, op: linear, inputs: [x], units: 6}"
CASES = {
    "linear": ({"x": [4]}, ["{name: out, op: linear, inputs: [x], units: 3}"], [3]),
    "linear_3d": ({"x": [3, 4]}, ["{name: out, op: linear, inputs: [x], units: 5}"], [3, 5]),
    "linear_3d_nobias": ({"x": [3, 4]}, ["{name: out, op: linear, inputs: [x], units: 5, bias: false}"], [3, 5]),
    "linear_nobias": ({"x": [4]}, ["{name: out, op: linear, inputs: [x], units: 2, bias: false}"], [2]),
    "sigmoid": ({"x": [4]}, [F, "{name: out, op: sigmoid, inputs: [f]}"], [6]),
    "tanh": ({"x": [4]}, [F, "{name: out, op: tanh, inputs: [f]}"], [6]),
    "relu": ({"x": [4]}, [F, "{name: out, op: relu, inputs: [f]}"], [6]),
    "leaky_relu": ({"x": [4]}, [F, "{name: out, op: leaky_relu, inputs: [f], negative_slope: 0.2}"], [6]),
    "softmax": ({"x": [3, 4]}, [F, "{name: out, op: softmax, inputs: [f]}"], [3, 6]),
    "step": ({"x": [4]}, [F, "{name: out, op: step, inputs: [f]}"], [6]),
    "add": ({"x": [4]}, [F, "{name: g, op: linear, inputs: [x], units: 6}", "{name: h, op: relu, inputs: [x]}",
                         "{name: k, op: linear, inputs: [h], units: 6}", "{name: out, op: add, inputs: [f, g, k]}"], [6]),
    "concat": ({"x": [2, 4]}, [F, "{name: out, op: concat, inputs: [f, x]}"], [2, 10]),
    "conv2d": ({"x": [2, 7, 6]}, ["{name: out, op: conv2d, inputs: [x], out_channels: 4, kernel_size: [3, 2], "
                                  "stride: [2, 1], padding: 1, dilation: [1, 2]}"], [4, 4, 6]),
    "conv2d_groups": ({"x": [4, 5, 5]}, ["{name: out, op: conv2d, inputs: [x], out_channels: 6, kernel_size: 3, "
                                         "groups: 2, bias: false}"], [6, 3, 3]),
    "max_pool2d": ({"x": [2, 7, 7]}, ["{name: c, op: conv2d, inputs: [x], out_channels: 2, kernel_size: 1}",
                                      "{name: out, op: max_pool2d, inputs: [c], kernel_size: 3, stride: 2, "
                                      "padding: 1, ceil_mode: true}"], [2, 4, 4]),
    "avg_pool2d": ({"x": [2, 7, 7]}, ["{name: c, op: conv2d, inputs: [x], out_channels: 2, kernel_size: 1}",
                                      "{name: out, op: avg_pool2d, inputs: [c], kernel_size: 3, stride: 2, "
                                      "padding: 1, count_include_pad: false}"], [2, 4, 4]),
    "avg_pool2d_pad": ({"x": [2, 6, 6]}, ["{name: c, op: conv2d, inputs: [x], out_channels: 2, kernel_size: 1}",
                                          "{name: out, op: avg_pool2d, inputs: [c], kernel_size: 2, padding: 1}"],
                       [2, 4, 4]),
    "global_avg_pool": ({"x": [2, 5, 4]}, ["{name: c, op: conv2d, inputs: [x], out_channels: 3, kernel_size: 1}",
                                           "{name: out, op: global_avg_pool, inputs: [c]}"], [3]),
    "flatten": ({"x": [2, 3, 4]}, ["{name: c, op: conv2d, inputs: [x], out_channels: 2, kernel_size: 1}",
                                   "{name: out, op: flatten, inputs: [c]}"], [24]),
    "reshape": ({"x": [12]}, ["{name: f, op: linear, inputs: [x], units: 12}",
                              "{name: out, op: reshape, inputs: [f], shape: [3, -1, 2]}"], [3, 2, 2]),
    "dropout": ({"x": [4]}, [F, "{name: out, op: dropout, inputs: [f], p: 0.3}"], [6]),
    "batch_norm": ({"x": [2, 5, 4]}, ["{name: c, op: conv2d, inputs: [x], out_channels: 3, kernel_size: 1}",
                                      "{name: out, op: batch_norm, inputs: [c], eps: 0.001}"], [3, 5, 4]),
    "batch_norm_1d": ({"x": [4]}, [F, "{name: out, op: batch_norm, inputs: [f], affine: false}"], [6]),
    # Sequence operators. An input named `ids` gets integer token ids in [0, 4) (write_case here,
    # write_inputs in onnx_check.py), as an embedding requires.
    "embedding": ({"ids": [5]}, ["{name: out, op: embedding, inputs: [ids], num_embeddings: 4, embedding_dim: 3}"],
                  [5, 3]),
    "positional_embedding": ({"ids": [5]}, ["{name: e, op: embedding, inputs: [ids], num_embeddings: 4, "
                                            "embedding_dim: 3}",
                                            "{name: out, op: positional_embedding, inputs: [e], max_length: 8}"],
                             [5, 3]),
    "layer_norm": ({"x": [3, 4]}, [F, "{name: out, op: layer_norm, inputs: [f], eps: 0.001}"], [3, 6]),
    "layer_norm_plain": ({"x": [4]}, [F, "{name: out, op: layer_norm, inputs: [f], elementwise_affine: false}"], [6]),
    "gelu": ({"x": [4]}, [F, "{name: out, op: gelu, inputs: [f]}"], [6]),
    "gelu_tanh": ({"x": [3, 4]}, [F, "{name: out, op: gelu, inputs: [f], approximate: tanh}"], [3, 6]),
    "multihead_attention": ({"x": [5, 8]}, ["{name: out, op: multihead_attention, inputs: [x], num_heads: 2, "
                                            "causal: true}"], [5, 8]),
    "multihead_attention_nobias": ({"x": [4, 6]}, ["{name: out, op: multihead_attention, inputs: [x], num_heads: 3, "
                                                   "bias: false, dropout: 0.1}"], [4, 6]),
}
PLUGINS = {  # example plugins: their export_onnx
    "swish": ({"x": [4]}, [F, "{name: out, op: swish, inputs: [f]}"], [6]),
    "scale": ({"x": [3, 4]}, [F, "{name: out, op: scale, inputs: [f]}"], [3, 6]),
}


def listed_ops():
    """(every op, the built-in layer ops) that `graph-runner ops` lists."""
    ops, layers = set(), []
    for line in run([runner, "ops"]).splitlines():
        parts = line.split()
        if not line[:1].isalpha() or len(parts) < 2:
            continue
        ops.add(parts[0])
        if parts[1] == "layer" and line.rstrip().endswith("[built-in]"):
            layers.append(parts[0])
    return ops, layers


def write_case(name, inputs, nodes, out_shape):
    lines = [f"graph: op_{name}", "seed: 5", "inputs:"]
    lines += [f"  {k}: {{shape: {v}}}" for k, v in inputs.items()] + [f"  t: {{shape: {out_shape}}}", "nodes:"]
    lines += [f"  - {n}" for n in nodes]
    lines += ["  - {name: loss, op: mse, inputs: [out, t]}", "  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}"]
    # Four random samples: three epochs on them move the weights and batch norm's running
    # statistics away from their initial values, so the export is checked on trained state.
    rng = np.random.default_rng(len(name))
    lines += ["data:", "  train:"]
    for k, shape in list(inputs.items()) + [("t", out_shape)]:
        if k == IDS:
            samples = [", ".join(str(v) for v in rng.integers(0, IDS_RANGE, math.prod(shape))) for _ in range(4)]
        else:
            samples = [", ".join(f"{v:.4f}" for v in rng.uniform(-1, 1, math.prod(shape))) for _ in range(4)]
        lines.append(f"    {k}: [{', '.join(f'[{x}]' for x in samples)}]")
    lines.append("train: {epochs: 3, batch_size: 4}")
    path = os.path.join(work, f"op_{name}.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines + ["outputs: [out]", ""]))
    return path


def check_graph(name, graph, extra=(), epochs=None):
    weights = os.path.join(work, f"{name}.safetensors")
    model = os.path.join(work, f"{name}.onnx")
    run([runner, "train", graph, *(["--epochs", str(epochs)] if epochs is not None else []), "--save", weights,
         *extra])
    run([runner, "export", graph, "--weights", weights, "-o", model, *extra])
    worst = predict_vs_ort(runner, graph, weights, model, work, name, extra=extra)
    print(f"ok   {name}: ONNX Runtime matches predict at batch 1 and 1000 (worst error {worst:.2g})")


def check_example(graph):
    name = os.path.splitext(os.path.basename(graph))[0]
    weights = os.path.join(work, f"{name}.safetensors")
    run([runner, "train", graph, "--epochs", "0", "--save", weights])
    p = subprocess.run([runner, "export", graph, "--weights", weights, "-o", os.path.join(work, name + ".onnx")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0 and "no ONNX mapping exists" in p.stderr:
        print(f"skip {name}: an op without an ONNX mapping ({p.stderr.strip()})")
        return
    check_graph(name, graph, epochs=0)


def main():
    ops, layers = listed_ops()
    missing = [op for op in layers if op not in CASES]
    if missing:
        sys.exit(f"FAIL: no export case for the built-in layer ops {missing}: add one to {__file__}")
    for graph in sorted(glob.glob(os.path.join(src, "graphs", "*.yaml"))):
        check_example(graph)
    for name, case in CASES.items():
        absent = sorted({op for node in case[1] for op in re.findall(r"op: (\w+)", node)} - ops)
        if absent:  # a case for an operator of an issue that has not landed in this tree
            print(f"skip op_{name}: this gradflow has no {', '.join(absent)}")
            continue
        check_graph(f"op_{name}", write_case(name, *case))
    for name, case in PLUGINS.items():
        check_graph(f"plugin_{name}", write_case(name, *case), ["--plugin", os.path.join(plugin_dir, f"lib{name}.so")])


main()
