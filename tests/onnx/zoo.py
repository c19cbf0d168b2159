"""The model zoo: torchvision 0.14's classifiers (weights=None, seed 0) and a few torch.nn
models, each exported by torch.onnx.export (opset 17, dynamic batch, eval mode), imported by
`graph-runner import`, run by `graph-runner predict` and compared with torch (error
|a - b| / max(1, |a|) at most 1e-4). Prints a table: per model, whether it imports, whether
predict matches and the first failure. Not a test that must pass: a report of where import
stands (docs/onnx.md). Batch-norm statistics are drawn at random (seeded), as trained ones
would be, so that a wrong use of them shows.

Usage: /usr/bin/python3 tests/onnx/zoo.py GRAPH_RUNNER [--work DIR] [--only NAME,...] [--rows N]
Exit status 0 when every model asked for imports and matches, else 1."""
import argparse
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

TOLERANCE = 1e-4


class FirstOutput(nn.Module):  # LSTM and GRU return (output, state): the output is the model's
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


def vision(name, **kw):
    import torchvision
    return lambda: getattr(torchvision.models, name)(weights=None, **kw)


def transformer():
    layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=2)


def mlp():
    return nn.Sequential(nn.Linear(20, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 5))


def autoencoder():
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                         nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.ReLU(),
                         nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(8, 3, 3, padding=1))


# name -> (constructor, sample shape): the smallest inputs each model takes.
MODELS = {
    "resnet18": (vision("resnet18"), [3, 64, 64]),
    "resnet50": (vision("resnet50"), [3, 64, 64]),
    "mobilenet_v2": (vision("mobilenet_v2"), [3, 64, 64]),
    "mobilenet_v3_small": (vision("mobilenet_v3_small"), [3, 64, 64]),
    "squeezenet1_1": (vision("squeezenet1_1"), [3, 64, 64]),
    "shufflenet_v2_x0_5": (vision("shufflenet_v2_x0_5"), [3, 64, 64]),
    "efficientnet_b0": (vision("efficientnet_b0"), [3, 64, 64]),
    "vgg11": (vision("vgg11"), [3, 224, 224]),  # AdaptiveAvgPool2d(7) exports only from 7x7 features
    "alexnet": (vision("alexnet"), [3, 224, 224]),  # likewise AdaptiveAvgPool2d(6)
    "densenet121": (vision("densenet121"), [3, 64, 64]),
    "googlenet": (vision("googlenet", aux_logits=False, init_weights=True), [3, 64, 64]),
    "regnet_y_400mf": (vision("regnet_y_400mf"), [3, 64, 64]),
    "convnext_tiny": (vision("convnext_tiny"), [3, 64, 64]),
    "vit_b_16": (vision("vit_b_16", image_size=32), [3, 32, 32]),
    "transformer_encoder": (transformer, [8, 64]),
    "lstm": (lambda: FirstOutput(nn.LSTM(16, 32, num_layers=2, bidirectional=True, batch_first=True)), [5, 16]),
    "gru": (lambda: FirstOutput(nn.GRU(16, 32, num_layers=2, bidirectional=True, batch_first=True)), [5, 16]),
    "mlp_batchnorm": (mlp, [20]),
    "autoencoder": (autoencoder, [3, 16, 16]),
}


def build(name):
    torch.manual_seed(0)
    model = MODELS[name][0]()
    for m in model.modules():  # trained-looking statistics
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)
    return model.eval()


def first_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    error = [line for line in lines if "error" in line.lower()]
    return (error or lines or ["(no output)"])[0][:300]


def run(cmd, timeout):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s: {os.path.basename(cmd[0])} {cmd[1]}"
    if p.returncode != 0:
        # the list of supported ops that follows an unsupported one would fill the table
        return None, f"{cmd[1]} exited {p.returncode}: {first_line(p.stderr + p.stdout).split('; import supports')[0]}"
    return p.stdout, None


def check(runner, name, work, rows):
    """(imports, matches, max error, first failure) of one model."""
    model, shape = build(name), MODELS[name][1]
    onnx_path = os.path.join(work, f"{name}.onnx")
    try:  # with gradients on: under no_grad torch's attention takes a fused path export does not know
        torch.onnx.export(model, torch.zeros(1, *shape), onnx_path, opset_version=17, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    except Exception as e:  # noqa: BLE001 (what torch says is the report)
        return False, False, None, f"torch.onnx.export failed: {first_line(str(e))}"
    graph, weights = os.path.join(work, f"{name}.yaml"), os.path.join(work, f"{name}.safetensors")
    _, failure = run([runner, "import", onnx_path, "-o", graph, "--weights", weights], 300)
    if failure:
        return False, False, None, failure
    x = np.random.default_rng(1).uniform(-2, 2, size=(rows, *shape)).astype(np.float32)
    inputs = os.path.join(work, f"{name}_x.csv")
    np.savetxt(inputs, x.reshape(rows, -1), delimiter=",", fmt="%.9g")
    out, failure = run([runner, "predict", graph, "--weights", weights, "--input", inputs], 600)
    if failure:
        return True, False, None, failure
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy().reshape(rows, -1).astype(np.float64)
    ours = np.array([[float(v) for v in line.split(",")] for line in out.strip().splitlines()[1:]])
    if ours.shape != expected.shape:
        return True, False, None, f"predict gave {ours.shape[1:]} values a row, torch {expected.shape[1:]}"
    worst = float((np.abs(ours - expected) / np.maximum(1.0, np.abs(expected))).max())
    return True, worst <= TOLERANCE, worst, None if worst <= TOLERANCE else f"max error {worst:.3g} > {TOLERANCE}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runner")
    parser.add_argument("--work", default="zoo_work")
    parser.add_argument("--only", default="", help="comma-separated model names (default: all)")
    parser.add_argument("--rows", type=int, default=2)
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f"unknown model(s) {', '.join(unknown)}; the zoo has {', '.join(MODELS)}")
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    print("| model | imports | predict matches | max error | first failure | s |\n|---|---|---|---|---|---|")
    good = 0
    for name in names:
        start = time.time()
        imports, matches, worst, failure = check(os.path.abspath(args.runner), name, args.work, args.rows)
        good += matches
        error = "" if worst is None else f"{worst:.2g}"
        print(f"| {name} | {'yes' if imports else 'no'} | {'yes' if matches else 'no'} | {error} | "
              f"{(failure or '').replace('|', '/')} | {time.time() - start:.0f} |", flush=True)
    print(f"\n{good} of {len(names)} models import and match torch")
    return 0 if good == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
