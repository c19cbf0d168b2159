#!/usr/bin/python3
"""A gradflow CNN checkpoint loads into the same torch.nn.Module with load_state_dict(strict=True)
and gives the same logits in evaluation mode.

    torch_loads_cnn.py GRAPH_RUNNER SOURCE_DIR WORK_DIR

Trains graphs/digits_cnn.yaml for 2 epochs (conv2d, batch_norm with running statistics and
num_batches_tracked, max_pool2d, global_avg_pool, dropout, linear), then compares torch's
logits for 40 images with `graph-runner predict --input` at 1e-4. The parameters and buffers of
the checkpoint are the state dict; the optimizer's state (under the optimizer node's name) and
the training loop's (under gradflow.) are left out, as docs/checkpoints.md says.
"""
import gzip
import os
import subprocess
import sys

import torch

from torch_state_dict import state_dict_of  # the checkpoint's parameters and buffers, by the independent reader

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


class DigitsCnn(torch.nn.Module):
    """graphs/digits_cnn.yaml, with its node names as attribute names."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(32)
        self.conv2 = torch.nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = torch.nn.BatchNorm2d(64)
        self.drop = torch.nn.Dropout(0.2)
        self.logits = torch.nn.Linear(64, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = torch.relu(self.bn2(self.conv2(x))).mean(dim=(2, 3))
        return self.logits(self.drop(x))


def main(runner, source, work, name="digits_cnn", model=None, sample_shape=(1, 8, 8)):
    """Checks graphs/<name>.yaml against `model` (DigitsCnn by default), fed samples of `sample_shape`."""
    graph = os.path.join(source, "graphs", f"{name}.yaml")
    checkpoint = os.path.join(work, f"{name}.st")
    subprocess.run([runner, "train", graph, "--epochs", "2", "--save", checkpoint], check=True, stdout=subprocess.DEVNULL)
    with gzip.open(DIGITS, "rt") as f:
        rows = [[float(v) for v in line.split(",")] for line in f.read().splitlines()[:40]]
    pixels = [[v * 0.0625 for v in row[:64]] for row in rows]
    inputs = os.path.join(work, f"{name}_images.csv")
    with open(inputs, "w") as f:
        f.write("".join(",".join(repr(v) for v in p) + "\n" for p in pixels))
    out = subprocess.run([runner, "predict", graph, "--weights", checkpoint, "--input", inputs], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    ours = torch.tensor([[float(v) for v in line.split(",")] for line in out[1:]])

    model = model if model is not None else DigitsCnn()
    model.load_state_dict(state_dict_of(checkpoint, {"opt"}), strict=True)
    model.eval()
    assert model.bn1.num_batches_tracked.dtype == torch.int64 and int(model.bn1.num_batches_tracked) > 0
    with torch.no_grad():
        theirs = model(torch.tensor(pixels).reshape(-1, *sample_shape))
    worst = (ours - theirs).abs().max().item()
    print(f"{len(pixels)} images: largest logit difference {worst:.3g}")
    if worst > 1e-4:
        sys.exit(f"FAIL: logits differ by {worst}")
    print("PASS")


if __name__ == "__main__":
    main(*sys.argv[1:])
