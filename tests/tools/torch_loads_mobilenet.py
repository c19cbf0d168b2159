#!/usr/bin/python3
"""A gradflow MobileNet checkpoint (graphs/fashion_mnist_mobilenet.yaml: depthwise conv2d,
hardswish, squeeze-and-excitation with hardsigmoid and a broadcast `mul`, residual `add`) loads
into its PyTorch twin (bench/twins/fashion_mnist_mobilenet_torch.py) with
load_state_dict(strict=True) and gives graph-runner predict's logits in evaluation mode.

    torch_loads_mobilenet.py GRAPH_RUNNER SOURCE_DIR WORK_DIR

Trains the graph for 20 steps (batch statistics move the running ones), then compares the logits
of 32 test images at 1e-4.
"""
import gzip
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "twins"))
from torch_state_dict import state_dict_of  # noqa: E402  the checkpoint's parameters, by the independent reader
from fashion_mnist_mobilenet_torch import MobileNet  # noqa: E402  the twin (re-executes nothing on import)

IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def main(runner, source, work):
    os.makedirs(work, exist_ok=True)
    graph = os.path.join(source, "graphs", "fashion_mnist_mobilenet.yaml")
    checkpoint = os.path.join(work, "mobilenet.safetensors")
    subprocess.run([runner, "train", graph, "--max-steps", "20", "--save", checkpoint], check=True,
                   stdout=subprocess.DEVNULL)
    with gzip.open(IMAGES, "rb") as f:
        raw = f.read()
    images = torch.frombuffer(bytearray(raw[16:16 + 32 * 784]), dtype=torch.uint8).float()
    x = ((images / 255.0) - 0.2860) / 0.3530  # the graph's scale and normalize
    inputs = os.path.join(work, "images.csv")
    with open(inputs, "w") as f:
        f.write("".join(",".join(repr(v) for v in row) + "\n" for row in x.reshape(32, 784).tolist()))
    out = subprocess.run([runner, "predict", graph, "--weights", checkpoint, "--input", inputs], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    ours = torch.tensor([[float(v) for v in line.split(",")] for line in out[1:]])

    model = MobileNet()
    model.load_state_dict(state_dict_of(checkpoint, {"opt"}), strict=True)
    model.eval()
    with torch.no_grad():
        theirs = model(x.reshape(32, 1, 28, 28))
    worst = (ours - theirs).abs().max().item()
    print(f"32 images: largest logit difference {worst:.3g}")
    if worst > 1e-4:
        sys.exit(f"FAIL: logits differ by {worst}")
    print("PASS")


if __name__ == "__main__":
    main(*sys.argv[1:])
