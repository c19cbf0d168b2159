"""Import of what torch.onnx.export writes around the layers (opset 17, dynamic batch): shape
arithmetic on x.size(0) (ShuffleNet's channel split, reshape(x.shape[0], c, -1), flatten after an
adaptive pool), folded at import with the batch kept symbolic; equal initializers torch shares
through Identity nodes; and torch's module names: a nested model's and torchvision's resnet18's
checkpoint is the state dict, and load_state_dict(strict=True) takes it. Each model is imported,
run by `graph-runner predict` and compared with torch (1e-5); the small ones are exported again
and run in ONNX Runtime.
Usage: test_import_fold.py GRAPH_RUNNER WORK_DIR"""
import copy
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torch import nn

from torch_import import TorchImport
from onnx_check import compare, read_csv, run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from torch_state_dict import state_dict_of  # noqa: E402

runner, work = sys.argv[1:3]
_torch_import = TorchImport(runner, work)
export_torch, import_and_predict = _torch_import.export, _torch_import.import_and_predict
check = _torch_import.check
shutil.rmtree(work, ignore_errors=True)  # no file from an earlier run may pass for this one's
os.makedirs(work)
torch.manual_seed(0)


class BatchViews(nn.Module):  # shape arithmetic on x.size(0): folded at import, the batch kept symbolic
    def __init__(self):
        super().__init__()
        self.conv, self.pool = nn.Conv2d(2, 6, 3, padding=1), nn.AdaptiveAvgPool2d((2, 2))
        self.fc = nn.Linear(24, 4)

    def forward(self, x):
        h = self.conv(x)
        b, c, height, width = h.size()
        h = torch.relu(h.view(b, 2, c // 2, height, width)).view(b, c, height, width)  # ShuffleNet's split
        s = h.reshape(h.shape[0], c, -1).softmax(-1)
        pooled = torch.flatten(self.pool(s.view(b, c, height, width)), 1)
        return torch.cat([self.fc(pooled), s.view(s.size(0), -1)], dim=-1)


class Blocks(nn.Module):  # nested modules: the checkpoint's names are the state dict's
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.layer1 = nn.Sequential(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1)), nn.ReLU())
        self.head = nn.ModuleDict({"fc": nn.Linear(4 * 8 * 8, 3)})

    def forward(self, x):
        return self.head["fc"](self.layer1(self.stem(x)).view(x.size(0), -1))


def shared_biases():
    """Equal initializers (zero biases, as VGG's init makes them) are written once by torch's export
    and read through Identity nodes, which import folds into initializers of their own."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 3), nn.Flatten(),
                          nn.Linear(64, 4), nn.Linear(4, 4))
    for m in model:
        if hasattr(m, "bias"):
            nn.init.zeros_(m.bias)
    return model


def check_state_dict(name, model, sample_shape, weights, inputs, expected):
    """The imported checkpoint is the torch module's state dict: the same names (module paths
    such as layer1.0.0, not mangled) and values, and load_state_dict(strict=True) takes it."""
    state = state_dict_of(weights, optimizers=())
    wanted = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    if set(state) - {k for k in state if k.endswith("num_batches_tracked")} != wanted:
        sys.exit(f"FAIL: {name}: checkpoint names {sorted(state)}, expected the state dict's {sorted(wanted)}")
    fresh = copy.deepcopy(model)
    for p in fresh.parameters():  # nothing of the original's values left
        nn.init.zeros_(p)
    fresh.load_state_dict(state, strict=True)
    with torch.no_grad():
        x = torch.from_numpy(np.loadtxt(inputs, delimiter=",", dtype=np.float32).reshape(-1, *sample_shape))
        again = fresh.eval()(x).numpy().reshape(len(x), -1).astype(np.float64)
    compare(f"{name}: torch from the imported checkpoint", ([str(k) for k in range(again.shape[1])], expected),
            ([str(k) for k in range(again.shape[1])], again))
    print(f"ok   {name}: checkpoint names are the state dict's ({len(state)}), load_state_dict(strict=True) takes it")


def check_resnet18():
    """torchvision's resnet18 (weights=None, batch norms given trained-looking statistics). Torch's
    eval export folds each BatchNorm into its Conv, whose node keeps the module's name
    (layer1.0.conv1). Exported keeping the batch norms (TrainingMode.PRESERVE), the checkpoint is
    the state dict (num_batches_tracked aside) and loads with strict=True."""
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(m.weight, 0.5, 1.5), nn.init.uniform_(m.bias, -0.5, 0.5)
    shape = [3, 64, 64]
    _, weights, _, _, worst = import_and_predict("resnet18", export_torch("resnet18", model, shape), model, shape, 4)
    modules = dict(model.named_modules())
    names = sorted(state_dict_of(weights, optimizers=()))
    if "layer1.0.conv1.weight" not in names or any(k.rsplit(".", 1)[0] not in modules for k in names):
        sys.exit(f"FAIL: resnet18: checkpoint names {names}: each must be a module's name and a parameter's")
    print(f"ok   resnet18: imported (batch norms folded), predict matches torch (worst error {worst:.2g}), "
          "nodes named as torch's modules")
    preserved = export_torch("resnet18_bn", model, shape, training=torch.onnx.TrainingMode.PRESERVE)
    probe = os.path.join(work, "resnet18_probe.yaml")
    p = subprocess.run([runner, "import", preserved, "-o", probe, "--weights", probe + ".safetensors"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0 and "(op_type BatchNormalization)" in p.stderr:
        print("skip resnet18 with its batch norms: BatchNormalization does not import in this tree yet")
        return
    _, weights, inputs, expected, _ = import_and_predict("resnet18_bn", preserved, model, shape, 4)
    check_state_dict("resnet18_bn", model, shape, weights, inputs, expected)


def check_hand_built():
    """Shape arithmetic as ViT's expand(n, -1, -1) writes it: the batch size gathered, concatenated,
    reshaped, compared with -1 (Equal) and chosen (Where) before it reaches a Reshape of x [batch,
    24] to [batch, 4, 6], followed by a softmax: the target folds to [0, 4, 6]."""
    ints = lambda name, values, dims=None: helper.make_tensor(name, TensorProto.INT64,  # noqa: E731
                                                              [len(values)] if dims is None else dims, values)
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "zero"], ["b"], axis=0),
             helper.make_node("Unsqueeze", ["b", "axis0"], ["b1"]),
             helper.make_node("Concat", ["b1", "sizes"], ["t0"], axis=0),
             helper.make_node("Reshape", ["t0", "three"], ["t"]),
             helper.make_node("Equal", ["t", "minus_ones"], ["unknown"]),
             helper.make_node("Where", ["unknown", "ones", "t"], ["target"]),
             helper.make_node("Reshape", ["x", "target"], ["r"], name="/view/Reshape"),
             helper.make_node("Softmax", ["r"], ["y"], name="/softmax/Softmax", axis=-1)]
    graph = helper.make_graph(nodes, "expand_like",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 24])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4, 6])],
                              [ints("zero", [0], []), ints("axis0", [0]), ints("sizes", [4, 6]), ints("three", [3]),
                               ints("minus_ones", [-1, -1, -1]), ints("ones", [1, 1, 1])])
    model_file, graph_file = os.path.join(work, "expand_like.onnx"), os.path.join(work, "expand_like.yaml")
    weights = os.path.join(work, "expand_like.safetensors")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model_file)
    run([runner, "import", model_file, "-o", graph_file, "--weights", weights])
    nodes = [line.split("op: ")[1].split(",")[0] for line in open(graph_file) if line.startswith("  - {name: ")]
    if nodes != ["reshape", "softmax"]:
        sys.exit(f"FAIL: expand_like: imported ops {nodes}, expected the shape arithmetic folded: [reshape, softmax]")
    x = np.random.default_rng(3).uniform(-2, 2, size=(5, 24)).astype(np.float32)
    inputs = os.path.join(work, "expand_like_x.csv")
    np.savetxt(inputs, x, delimiter=",", fmt="%.9g")
    e = np.exp(x.reshape(5, 4, 6) - x.reshape(5, 4, 6).max(-1, keepdims=True))
    expected = (e / e.sum(-1, keepdims=True)).reshape(5, -1).astype(np.float64)
    header, ours = read_csv(run([runner, "predict", graph_file, "--weights", weights, "--input", inputs]))
    worst = compare("expand_like: predict vs numpy", (header, expected), (header, ours))
    print(f"ok   expand_like: Shape, Gather, Concat, Reshape, Equal, Where fold into [0, 4, 6] (worst error {worst:.2g})")


check_hand_built()
check("batch_views", BatchViews(), [2, 4, 4])
check("shared_biases", shared_biases(), [1, 10, 10])
blocks = Blocks()
check_state_dict("blocks", blocks, [1, 8, 8], *check("blocks", blocks, [1, 8, 8], rows=8)[1:])
check_resnet18()
