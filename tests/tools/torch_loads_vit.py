#!/usr/bin/python3
"""A gradflow checkpoint of graphs/digits_vit.yaml (conv2d patches, flatten and transpose, a class
token and a position table as `parameter` nodes, concat on axis 0, pre-norm attention blocks,
slice + squeeze of the class token's row) loads into its PyTorch twin
(bench/twins/digits_vit_torch.py) with load_state_dict(strict=True) and gives the same logits.

    torch_loads_vit.py GRAPH_RUNNER SOURCE_DIR WORK_DIR

Trains the graph for 2 epochs, then compares torch's logits for 40 images with
`graph-runner predict --input` at 1e-4.
"""
import gzip
import os
import subprocess
import sys

import torch

from torch_state_dict import state_dict_of  # the checkpoint's parameters, by the independent reader

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


def main(runner, source, work):
    sys.path.insert(0, os.path.join(source, "bench", "twins"))
    from digits_vit_torch import DigitsViT
    os.makedirs(work, exist_ok=True)
    graph = os.path.join(source, "graphs", "digits_vit.yaml")
    checkpoint = os.path.join(work, "digits_vit.st")
    subprocess.run([runner, "train", graph, "--epochs", "2", "--save", checkpoint], check=True, stdout=subprocess.DEVNULL)
    with gzip.open(DIGITS, "rt") as f:
        rows = [[float(v) for v in line.split(",")] for line in f.read().splitlines()[:40]]
    pixels = [[v * 0.0625 for v in row[:64]] for row in rows]
    inputs = os.path.join(work, "images.csv")
    with open(inputs, "w") as f:
        f.write("".join(",".join(repr(v) for v in p) + "\n" for p in pixels))
    out = subprocess.run([runner, "predict", graph, "--weights", checkpoint, "--input", inputs], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    ours = torch.tensor([[float(v) for v in line.split(",")] for line in out[1:]])

    model = DigitsViT()
    model.load_state_dict(state_dict_of(checkpoint, {"opt"}), strict=True)
    model.eval()
    with torch.no_grad():
        theirs = model(torch.tensor(pixels).reshape(-1, 1, 8, 8))
    worst = (ours - theirs).abs().max().item()
    print(f"{len(pixels)} images: largest logit difference {worst:.3g}")
    if worst > 1e-4:
        sys.exit(f"FAIL: logits differ by {worst}")
    print("PASS")


if __name__ == "__main__":
    main(*sys.argv[1:])
