"""Each bad input to export and import gets one exact, one-line error and exit status 1, and
nothing is written: a truncated model, random bytes, a model with an unsupported op, an empty
graph, a checkpoint that does not fit the graph, a plugin op without an ONNX form, a loss
among the outputs.
Usage: test_errors.py GRAPH_RUNNER SOURCE_DIR THROWING_PLUGIN WORK_DIR"""
import os
import shutil
import random
import subprocess
import sys

import onnx
from onnx import TensorProto, helper

from onnx_check import run

runner, src, throwing, work = sys.argv[1:5]
throwing = os.path.realpath(throwing)
shutil.rmtree(work, ignore_errors=True)  # no file from an earlier run may pass for this one's
os.makedirs(work)
SUPPORTED = ("Add, AveragePool, Concat, Constant, Conv, Dropout, Flatten, Gemm, GlobalAveragePool, Identity, "
             "LeakyRelu, MatMul, MaxPool, Pad, Relu, Reshape, Sigmoid, Softmax, Tanh")
failures = []


def expect(what, cmd, message, written):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = p.stderr.strip().splitlines()
    if p.returncode != 1 or lines != [message]:
        failures.append(f"{what}: exit {p.returncode}, stderr:\n{p.stderr}expected:\n{message}")
    elif os.path.exists(written):
        failures.append(f"{what}: {written} was written despite the error")
    else:
        print(f"ok   {what}: {message}")


def path(name):
    return os.path.join(work, name)


def import_error(what, model_file, message):
    out = path(what.replace(" ", "_") + ".yaml")
    expect(what, [runner, "import", model_file, "-o", out, "--weights", out + ".safetensors"], message, out)


# A valid model to damage: xor exported.
graph = os.path.join(src, "graphs", "xor.yaml")
run([runner, "train", graph, "--epochs", "0", "--save", path("xor.safetensors")])
run([runner, "export", graph, "--weights", path("xor.safetensors"), "-o", path("xor.onnx")])
blob = open(path("xor.onnx"), "rb").read()

open(path("truncated.onnx"), "wb").write(blob[: len(blob) // 2])
import_error("truncated model", path("truncated.onnx"),
             f"{path('truncated.onnx')}: error: not an ONNX model (the file does not parse as an ONNX ModelProto)")
open(path("random.onnx"), "wb").write(bytes(random.Random(3).getrandbits(8) for _ in range(4096)))
import_error("random bytes", path("random.onnx"),
             f"{path('random.onnx')}: error: not an ONNX model (the file does not parse as an ONNX ModelProto)")
open(path("empty.onnx"), "wb").write(b"")
import_error("empty file", path("empty.onnx"),
             f"{path('empty.onnx')}: error: not an ONNX model (the file does not parse as an ONNX ModelProto)")

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
erf = helper.make_model(helper.make_graph([helper.make_node("Erf", ["x"], ["y"], name="/act/Erf")], "g", [x], [y]),
                        opset_imports=[helper.make_opsetid("", 17)])
onnx.save(erf, path("erf.onnx"))
import_error("unsupported op", path("erf.onnx"),
             f"{path('erf.onnx')}: error: node '/act/Erf' (op_type Erf): gradflow has no such operator; "
             f"import supports {SUPPORTED}")
# A zero stride: libonnx's shape inference divides by it (SIGFPE, found by fuzz_onnx); refused first.
img = helper.make_tensor_value_info("img", TensorProto.FLOAT, ["batch", 2, 7, 7])
pooled = helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", 2, 3, 3])
zero_stride = helper.make_model(
    helper.make_graph([helper.make_node("AveragePool", ["img"], ["pooled"], name="pool", kernel_shape=[3, 3],
                                        strides=[2, 0])], "g", [img], [pooled]),
    opset_imports=[helper.make_opsetid("", 17)])
open(path("zero_stride.onnx"), "wb").write(zero_stride.SerializeToString())
import_error("a zero stride", path("zero_stride.onnx"),
             f"{path('zero_stride.onnx')}: error: not a valid ONNX model: node 'pool' (AveragePool): attribute "
             "'strides' must be positive")
bad = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x", "x"], ["y"], name="r")], "g", [x], [y]),
                        opset_imports=[helper.make_opsetid("", 17)])
open(path("invalid.onnx"), "wb").write(bad.SerializeToString())
p = subprocess.run([runner, "import", path("invalid.onnx"), "-o", path("invalid.yaml"), "--weights", path("i.st")],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
prefix = f"{path('invalid.onnx')}: error: not a valid ONNX model: "
if p.returncode != 1 or len(p.stderr.strip().splitlines()) != 1 or not p.stderr.startswith(prefix):
    failures.append(f"checker's error: exit {p.returncode}, stderr:\n{p.stderr}")
else:
    print(f"ok   a model onnx::checker refuses: {p.stderr.strip()}")

# export: a checkpoint of another graph.
run([runner, "train", os.path.join(src, "graphs", "two_tower.yaml"), "--epochs", "0", "--save", path("tt.safetensors")])
expect("checkpoint that does not fit", [runner, "export", graph, "--weights", path("tt.safetensors"), "-o",
                                        path("nofit.onnx")],
       f"error: {path('tt.safetensors')}: missing parameter 'fc1.weight'", path("nofit.onnx"))

# export: a plugin op without export_onnx, and a loss as an output.
plugin_graph = path("plugin.yaml")
open(plugin_graph, "w").write(f"""graph: p
plugins: [{throwing}]
inputs:
  x: {{shape: [2]}}
  y: {{shape: [1]}}
nodes:
  - {{name: fc, op: linear, inputs: [x], units: 1}}
  - {{name: odd, op: test_throw, inputs: [fc]}}
  - {{name: loss, op: mse, inputs: [odd, y]}}
  - {{name: opt, op: sgd, inputs: [loss], lr: 0.1}}
data:
  train: {{x: [[0, 1]], y: [[1]]}}
""")
run([runner, "train", plugin_graph, "--epochs", "0", "--save", path("p.safetensors")])
expect("plugin op without an ONNX form", [runner, "export", plugin_graph, "--weights", path("p.safetensors"), "-o",
                                          path("plugin.onnx")],
       f"{plugin_graph}:8:5: error: node 'odd' (op test_throw): the op comes from the plugin "
       f"{os.path.realpath(throwing)}, which gives it no ONNX form (Operator::export_onnx, docs/plugins.md)",
       path("plugin.onnx"))
loss_graph = path("loss.yaml")
open(loss_graph, "w").write(open(plugin_graph).read().replace("odd, op: test_throw", "odd, op: relu")
                            + "outputs: [loss]\n")
expect("a loss among the outputs", [runner, "export", loss_graph, "--weights", path("p.safetensors"), "-o",
                                    path("loss.onnx")],
       f"{loss_graph}:9:5: error: node 'loss' (op mse): a loss has no ONNX form; export writes the inference "
       "graph, so `outputs` must name layers, not losses", path("loss.onnx"))

# export: an opset too old for an operator's ONNX form (layer_norm's LayerNormalization is opset 17).
ln_graph = path("ln.yaml")
open(ln_graph, "w").write(open(plugin_graph).read().replace("plugins: [" + throwing + "]\n", "")
                          .replace("odd, op: test_throw", "odd, op: layer_norm"))
run([runner, "train", ln_graph, "--epochs", "0", "--save", path("ln.safetensors")])
expect("an opset too old for layer_norm", [runner, "export", ln_graph, "--weights", path("ln.safetensors"), "-o",
                                          path("ln.onnx"), "--opset", "16"],
       f"{ln_graph}:7:5: error: node 'odd' (op layer_norm): its ONNX form, LayerNormalization, needs opset 17 or "
       "later; --opset 16 was asked", path("ln.onnx"))

if failures:
    sys.exit("FAIL:\n" + "\n".join(failures))
