"""Each bad input to export and import gets one exact, one-line error and exit status 1, and
nothing is written: a truncated model, random bytes, a model with an unsupported op, an empty
graph, tensor operators on the batch axis (tensor_op_errors.py), a checkpoint that does not fit the graph, a plugin op without an ONNX form, a loss
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
import tensor_op_errors

runner, src, throwing, work = sys.argv[1:5]
throwing = os.path.realpath(throwing)
shutil.rmtree(work, ignore_errors=True)  # no file from an earlier run may pass for this one's
os.makedirs(work)
SUPPORTED = ("Abs, Add, AveragePool, BatchNormalization, Cast, Celu, Clip, Concat, Constant, Conv, ConvTranspose, "
             "Cos, Div, Dropout, Elu, Erf, Exp, Expand, Flatten, GRU, Gather, Gemm, GlobalAveragePool, "
             "GreaterOrEqual, HardSigmoid, HardSwish, Identity, LSTM, LayerNormalization, LeakyRelu, Log, "
             "LogSoftmax, MatMul, Max, MaxPool, Min, Mish, Mul, Neg, Pad, Pow, Reciprocal, ReduceMax, ReduceMean, "
             "ReduceSum, Relu, Reshape, Resize, Selu, Shape, Sigmoid, Sin, Slice, Softmax, Softplus, Split, Sqrt, "
             "Squeeze, Sub, Tanh, Transpose, Unsqueeze, Upsample")
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
def unary_model(op_type):
    return helper.make_model(
        helper.make_graph([helper.make_node(op_type, ["x"], ["y"], name=f"/act/{op_type}")], "g", [x], [y]),
        opset_imports=[helper.make_opsetid("", 17)])


onnx.save(unary_model("Tan"), path("tan.onnx"))
import_error("unsupported op", path("tan.onnx"),
             f"{path('tan.onnx')}: error: node '/act/Tan' (op_type Tan): gradflow has no such operator; "
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



def onnx_model(name, nodes, inputs, outputs, initializers=()):
    """Saves a model of `nodes` (opset 17) as NAME.onnx in the work folder and returns its path."""
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(initializers)),
                              opset_imports=[helper.make_opsetid("", 17)])
    open(path(name + ".onnx"), "wb").write(model.SerializeToString())
    return path(name + ".onnx")


def value(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, ["batch", *dims])


# Reshapes that are not per-sample reshapes: refused, never imported as flatten (issue 26: the
# first of these predicted wrong by 0.2 before).
for what, target in (("a reshape that changes the batch", [-1, 12]), ("a reshape of 24 values to 25", [0, 25]),
                     ("a reshape with two -1", [-1, -1]), ("a reshape to a fixed batch", [4, 24])):
    model_file = onnx_model(what.replace(" ", "_"), [helper.make_node("Reshape", ["x", "shape"], ["y"], name="r")],
                            [value("x", [24])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", "columns"])],
                            [helper.make_tensor("shape", TensorProto.INT64, [len(target)], target)])
    reason = {
        "a reshape that changes the batch": "a sample has 24 values, the sizes after the batch axis multiply to 12 "
                                            "(so the batch size would change)",
        "a reshape of 24 values to 25": "a sample has 24 values, the sizes after the batch axis multiply to 25",
        "a reshape with two -1": "more than one -1",
        "a reshape to a fixed batch": "only a target that keeps the batch axis (0 or -1 first) is supported",
    }[what]
    import_error(what, model_file, f"{model_file}: error: node 'r' (op_type Reshape): the target shape "
                                   f"[{', '.join(map(str, target))}] of an input [batch, 24]: {reason}")

# Shape arithmetic that needs the batch size (torch's x.view(x.size(0) * 2, -1)): no constant says
# "twice the batch", so the Shape node it starts from is the error.
doubled = onnx_model("doubled_batch", [
    helper.make_node("Shape", ["x"], ["s"], name="shape"),
    helper.make_node("Gather", ["s", "zero"], ["b"], name="gather", axis=0),
    helper.make_node("Mul", ["b", "two"], ["b2"], name="mul"),
    helper.make_node("Unsqueeze", ["b2", "axes"], ["b2_1"], name="unsqueeze"),
    helper.make_node("Concat", ["b2_1", "minus_one"], ["target"], name="concat", axis=0),
    helper.make_node("Reshape", ["x", "target"], ["y"], name="r")],
    [value("x", [24])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["rows", 12])],
    [helper.make_tensor("zero", TensorProto.INT64, [], [0]), helper.make_tensor("two", TensorProto.INT64, [], [2]),
     helper.make_tensor("axes", TensorProto.INT64, [1], [0]), helper.make_tensor("minus_one", TensorProto.INT64, [1], [-1])])
import_error("shape arithmetic on the batch size", doubled,
             f"{doubled}: error: node 'shape' (op_type Shape): import folds shape arithmetic into constants, and "
             "cannot fold what is computed from this shape: it needs the batch size (known only at run time) other "
             "than as the first entry of a Reshape's target or an Expand's shape, or a size that ONNX shape inference "
             "does not give")

int_input = onnx_model("int_input", [helper.make_node("Relu", ["ids"], ["y"], name="r")],
                       [value("ids", [4], TensorProto.INT64)], [value("y", [4], TensorProto.INT64)])
import_error("an int64 input", int_input,
             f"{int_input}: error: input 'ids' is INT64, not float32; gradflow's graph inputs are float32 tensors "
             "(token ids too), so import reads float32 inputs only")

# LSTM and GRU: torch's form (Transpose to time-major, LSTM / GRU, Squeeze, Transpose back) with
# one thing torch's nn.LSTM / nn.GRU does not compute, or a node around it that is not torch's.
def recurrent(name, op="LSTM", inputs=("t", "W", "R"), extra=(), after=None, **attributes):
    gates = 4 if op == "LSTM" else 3
    weights = [helper.make_tensor(n, TensorProto.FLOAT, [1, 2 * gates, 2], [0.1] * (4 * gates)) for n in ("W", "R")]
    nodes = [helper.make_node("Transpose", ["x"], ["t"], name="/rnn/Transpose", perm=[1, 0, 2]),
             helper.make_node(op, list(inputs), ["Y", "Y_h"], name=f"/rnn/{op}", hidden_size=2, **attributes),
             after or helper.make_node("Squeeze", ["Y", "axes"], ["s"], name="/rnn/Squeeze"),
             helper.make_node("Transpose", ["s"], ["y"], name="/rnn/Transpose_1", perm=[1, 0, 2])]
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    model_file = onnx_model(name, nodes, [value("x", [3, 2])], [value("y", [3, 2])], weights + [axes, *extra])
    return model_file, f"{model_file}: error: node '/rnn/{op}' (op_type {op}): "


def recurrent_error(what, name, message, **kw):
    model_file, prefix = recurrent(name, **kw)
    import_error(what, model_file, prefix + message)


h0 = helper.make_tensor("h0", TensorProto.FLOAT, [1, 1, 2], [0.0, 0.5])  # [D, batch, H], batch 1
lens = helper.make_tensor("lens", TensorProto.INT32, [1], [3])
peepholes = helper.make_tensor("P", TensorProto.FLOAT, [1, 6], [0.0] * 6)
recurrent_error("an LSTM with other activations", "lstm_relu",
                "activations [Relu, Tanh, Tanh]: only the defaults [Sigmoid, Tanh, Tanh] are supported (nn.LSTM)",
                activations=["Relu", "Tanh", "Tanh"])
recurrent_error("an LSTM with clip", "lstm_clip", "attribute clip is not supported (nn.LSTM has none)", clip=1.0)
recurrent_error("an LSTM with input_forget", "lstm_forget", "input_forget = 1 is not supported (nn.LSTM has none)",
                input_forget=1)
recurrent_error("an LSTM with peepholes", "lstm_peepholes", "peepholes (input 7, P) are not supported (nn.LSTM has none)",
                inputs=("t", "W", "R", "", "", "", "", "P"), extra=[peepholes])
recurrent_error("an LSTM with sequence_lens", "lstm_lens",
                "sequence_lens (input 4) is not supported; nn.LSTM runs every sequence of a batch to its full length",
                inputs=("t", "W", "R", "", "lens"), extra=[lens])
recurrent_error("an LSTM with a non-zero initial_h", "lstm_h0",
                "initial_h (input 5) must be zero, torch's default initial state; the constant 'h0' is not",
                inputs=("t", "W", "R", "", "", "h0"), extra=[h0])
recurrent_error("an LSTM with layout 1", "lstm_layout",
                "layout = 1 (batch-first Y) is not supported; torch.onnx.export writes layout 0", layout=1)
recurrent_error("a GRU whose initial_h is computed", "gru_h_computed",
                "initial_h (input 5) must be zero, torch's default initial state; 'x' is not a constant of zeros nor a "
                "ConstantOfShape of zero", op="GRU", inputs=("t", "W", "R", "", "", "x"), linear_before_reset=1)
recurrent_error("an LSTM run in reverse", "lstm_reverse",
                "direction reverse is not supported; nn.LSTM runs forward, or both ways when bidirectional",
                direction="reverse")
recurrent_error("a GRU with linear_before_reset 0", "gru_lbr0",
                "linear_before_reset = 0 is not supported; nn.GRU applies the reset gate after the hidden state's "
                "linear map (linear_before_reset = 1)", op="GRU")
recurrent_error("an LSTM on an input that is not transposed", "lstm_no_transpose",
                "input X must be the batch-first input through a Transpose (perm [1, 0, 2]) to time-major, as "
                "torch.onnx.export writes nn.LSTM(batch_first=True)", inputs=("x", "W", "R"))
relu_model, _ = recurrent("lstm_y_relu", after=helper.make_node("Relu", ["Y"], ["s"], name="/act/Relu"))
import_error("an LSTM whose Y a Relu reads", relu_model,
             f"{relu_model}: error: node '/act/Relu' (op_type Relu): it reads Y of LSTM node '/rnn/LSTM'; import "
             "expects Y to go through Transpose (perm [0, 2, 1, 3]) and Reshape to [0, 0, 2], or Squeeze (axes [1]), "
             "as torch.onnx.export writes nn.LSTM")
# h[0] of a 2-layer LSTM: gradflow's lstm gives the last layer's final state only.
stacked_nodes = [helper.make_node("Transpose", ["x"], ["t"], name="/rnn/Transpose", perm=[1, 0, 2]),
                 helper.make_node("LSTM", ["t", "W", "R"], ["Y0", "H0"], name="/rnn/LSTM", hidden_size=2),
                 helper.make_node("Squeeze", ["Y0", "axes"], ["s0"], name="/rnn/Squeeze"),
                 helper.make_node("LSTM", ["s0", "W", "R"], ["Y1", "H1"], name="/rnn/LSTM_1", hidden_size=2),
                 helper.make_node("Concat", ["H0", "H1"], ["h"], name="/rnn/Concat", axis=0),
                 helper.make_node("Gather", ["h", "zero"], ["y"], name="/Gather", axis=0)]
stacked = onnx_model("lstm_inner_state", stacked_nodes, [value("x", [3, 2])], [value("y", [2])],
                     [helper.make_tensor(n, TensorProto.FLOAT, [1, 8, 2], [0.1] * 16) for n in ("W", "R")] +
                     [helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
                      helper.make_tensor("zero", TensorProto.INT64, [], [0])])
import_error("the first layer's final state of a 2-layer LSTM", stacked,
             f"{stacked}: error: node '/Gather' (op_type Gather): it reads the final hidden state of layer 0 of 2; "
             "gradflow's lstm gives the last layer's only")
# The cell state as an output of the model: gradflow's lstm has none to give.
cell_model, _ = recurrent("lstm_cell_state")
cell = onnx.load(cell_model)
cell.graph.node[1].output.append("Y_c")
cell.graph.output.append(helper.make_tensor_value_info("Y_c", TensorProto.FLOAT, [1, "batch", 2]))
onnx.save(cell, cell_model)
import_error("an LSTM whose cell state is an output", cell_model,
             f"{cell_model}: error: node '/rnn/LSTM' (op_type LSTM): its final cell state Y_c is an output of the "
             "model; gradflow's lstm gives the hidden state only")

# Folded, but more padding than half the window: gradflow refuses the pool, and the error names
# the ONNX node (the graph file, whose line the loader names, is never written).
big_pads = helper.make_tensor("pads", TensorProto.INT64, [8], [0, 0, 2, 2, 0, 0, 2, 2])
too_padded = onnx_model("pad_avg", [helper.make_node("Pad", ["img", "pads"], ["p"], name="pad"),
                                    helper.make_node("AveragePool", ["p"], ["y"], name="/pool/AveragePool",
                                                     kernel_shape=[3, 3])],
                        [value("img", [2, 5, 5])], [value("y", [2, 7, 7])], [big_pads])
import_error("a folded Pad wider than half the window", too_padded,
             f"{too_padded}: error: node '/pool/AveragePool' (op_type AveragePool): gradflow refuses the node import "
             "makes of it: node 'pool' (op avg_pool2d): avg_pool2d: padding [2, 2] must be at most half of kernel_size "
             "[3, 3]; its input is 'img' [2, 5, 5]")
# Tensor operators on the batch axis, or in forms gradflow cannot express (tensor_op_errors.py).
for what, nodes, inputs, outputs, initializers, reason in tensor_op_errors.cases(value):
    model_file = onnx_model(what.replace(" ", "_"), nodes, inputs, outputs, initializers)
    op_type = nodes[-1].op_type
    import_error(what, model_file, f"{model_file}: error: node 'n' (op_type {op_type}): {reason}")
# Resize forms torch's Upsample does not compute.
scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
cubic = onnx_model("cubic", [helper.make_node("Resize", ["img", "", "scales"], ["y"], name="up", mode="cubic")],
                   [value("img", [2, 5, 5])], [value("y", [2, 10, 10])], [scales])
import_error("a cubic Resize", cubic,
             f"{cubic}: error: node 'up' (op_type Resize): mode cubic with coordinate_transformation_mode half_pixel: "
             "only nearest with asymmetric coordinates and nearest_mode floor, or linear with half_pixel or "
             "align_corners, are supported (torch's nn.Upsample)")
sizes = helper.make_tensor("sizes", TensorProto.INT64, [4], [1, 2, 10, 10])
by_sizes = onnx_model("by_sizes", [helper.make_node("Resize", ["img", "", "", "sizes"], ["y"], name="up")],
                      [value("img", [2, 5, 5])], [value("y", [2, 10, 10])], [sizes])
import_error("a Resize by sizes", by_sizes,
             f"{by_sizes}: error: node 'up' (op_type Resize): only a resize by constant scales is supported (torch's "
             "scale_factor), not by sizes")

# export: a checkpoint of another graph.
run([runner, "train", os.path.join(src, "graphs", "two_tower.yaml"), "--epochs", "0", "--save", path("tt.safetensors")])
expect("checkpoint that does not fit", [runner, "export", graph, "--weights", path("tt.safetensors"), "-o",
                                        path("nofit.onnx")],
       f"{graph}:11:5: error: {path('tt.safetensors')}: missing parameter 'fc1.weight'", path("nofit.onnx"))

# export: a plugin op that is not OnnxExportable, and a loss as an output.
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
       f"{os.path.realpath(throwing)}, which gives it no ONNX form (OnnxExportable, docs/plugins.md)",
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

# export: adaptive_avg_pool2d with an output_size that does not divide the input: its windows
# overlap, and no ONNX pooling computes them.
adaptive_graph = path("adaptive.yaml")
open(adaptive_graph, "w").write(f"""graph: a
inputs:
  x: {{shape: [1, 5, 5]}}
  y: {{shape: [1]}}
nodes:
  - {{name: pool, op: adaptive_avg_pool2d, inputs: [x], output_size: 3}}
  - {{name: flat, op: flatten, inputs: [pool]}}
  - {{name: fc, op: linear, inputs: [flat], units: 1}}
  - {{name: loss, op: mse, inputs: [fc, y]}}
  - {{name: opt, op: sgd, inputs: [loss], lr: 0.1}}
data:
  train: {{x: [{list(range(25))}], y: [[1]]}}
""")
run([runner, "train", adaptive_graph, "--epochs", "0", "--save", path("adaptive.safetensors")])
expect("adaptive_avg_pool2d with overlapping windows", [runner, "export", adaptive_graph, "--weights",
                                                        path("adaptive.safetensors"), "-o", path("adaptive.onnx")],
       f"{adaptive_graph}:6:5: error: node 'pool' (op adaptive_avg_pool2d): output_size [3, 3] does not divide the "
       "input [H, W] [5, 5]: its windows overlap or differ in size, which no ONNX pooling computes; an output_size "
       "that divides the input exports as AveragePool", path("adaptive.onnx"))

# Tensors whose dims claim far more values than their bytes hold (issue 30: a 408-byte model, the
# fuzz corpus's oom_claimed_dims.onnx, claimed [2, 536870902] and cost 4 GB before it was
# refused): each is refused from the bytes present, before anything the size of the claim is
# allocated. The bound is on the child's peak RSS (its own, from wait4).
PEAK_KB = 256 * 1024


def import_peak_kb(model_file, out):
    child = subprocess.Popen([runner, "import", model_file, "-o", out, "--weights", out + ".safetensors"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr = child.stderr.read()
    child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, stderr, usage.ru_maxrss


def claimed_dims_error(what, model_file, message):
    out = path(what.replace(" ", "_") + ".yaml")
    code, stderr, peak_kb = import_peak_kb(model_file, out)
    if code != 1 or stderr.strip().splitlines() != [message]:
        failures.append(f"{what}: exit {code}, stderr:\n{stderr}expected:\n{message}")
    elif peak_kb > PEAK_KB:
        failures.append(f"{what}: refused, but its peak RSS was {peak_kb} KB (bound {PEAK_KB} KB)")
    elif os.path.exists(out):
        failures.append(f"{what}: {out} was written despite the error")
    else:
        print(f"ok   {what} ({peak_kb} KB peak): {message}")


seed = os.path.join(src, "tests", "onnx", "fuzz", "corpus", "oom_claimed_dims.onnx")
claimed_dims_error("raw data shorter than its dims", seed,
                   f"{seed}: error: node 'c' (op_type Conv): tensor 'c.weight' has 16 bytes of data, its dims need "
                   "4294967216")
huge = [536870902, 2]


def short_tensor(name, elem, dims, field, values):
    """A tensor whose typed field holds `values`, fewer than its dims claim (helper.make_tensor refuses)."""
    t = TensorProto(name=name, data_type=elem, dims=dims)
    getattr(t, field).extend(values)
    return t


gx = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])
gy = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", huge[0]])
for elem, field in ((TensorProto.FLOAT, "float_data"), (TensorProto.DOUBLE, "double_data")):
    name = TensorProto.DataType.Name(elem).lower()
    weight = short_tensor("fc.weight", elem, huge, field, [0.5] * 4)
    typed = helper.make_model(helper.make_graph([helper.make_node("Gemm", ["x", "fc.weight"], ["y"], name="fc",
                                                                  transB=1)], "g", [gx], [gy], [weight]),
                              opset_imports=[helper.make_opsetid("", 17)])
    open(path(f"claimed_{name}.onnx"), "wb").write(typed.SerializeToString())
    claimed_dims_error(f"a {name} field shorter than its dims", path(f"claimed_{name}.onnx"),
                       f"{path(f'claimed_{name}.onnx')}: error: node 'fc' (op_type Gemm): tensor 'fc.weight' has 4 "
                       f"values, its dims need {huge[0] * huge[1]}")
shape = helper.make_node("Constant", [], ["shape"], name="shape",
                         value=short_tensor("v", TensorProto.INT64, [huge[0]], "int64_data", [-1, 4]))
reshaped = helper.make_model(helper.make_graph([shape, helper.make_node("Reshape", ["x", "shape"], ["y"], name="r")],
                                               "g", [gx], [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                                                         ["batch", 4])]),
                             opset_imports=[helper.make_opsetid("", 17)])
open(path("claimed_int64.onnx"), "wb").write(reshaped.SerializeToString())
claimed_dims_error("an int64 Constant shorter than its dims", path("claimed_int64.onnx"),
                   f"{path('claimed_int64.onnx')}: error: node 'r' (op_type Reshape): tensor 'shape' has 2 values, "
                   f"its dims need {huge[0]}")

if failures:
    sys.exit("FAIL:\n" + "\n".join(failures))
