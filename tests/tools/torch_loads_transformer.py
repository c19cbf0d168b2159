#!/usr/bin/python3
"""A gradflow byte-level transformer checkpoint loads into the equivalent torch module with
load_state_dict(strict=True) and gives the same logits.

    torch_loads_transformer.py GRAPH_RUNNER GRAPH WORK_DIR [--T 128 --E 128 --heads 4 --blocks 4]
                               [--epochs 1] [--optimizer opt] [--windows 4] [--tol 1e-4]
    torch_loads_transformer.py GRAPH_RUNNER GRAPH WORK_DIR --small     # T 16, E 32, 2 heads, 2 blocks

GRAPH is a graph of graphs/fortunes_transformer.yaml's form (its nodes named as
bench/twins/fortunes_transformer_torch.py's ByteTransformer names its modules: embed, pos,
block{i}_ln1, block{i}_attn, block{i}_ln2, block{i}_fc1, block{i}_fc2, ln_f, head), with a data
section so that `graph-runner train` runs. The test trains it for --epochs epochs (0: the initial
weights), saves the checkpoint, builds ByteTransformer(T, E, heads, blocks), loads the
checkpoint's parameters with strict=True (the optimizer's state, under the optimizer node's
name, and the training loop's, under gradflow., are left out, as docs/checkpoints.md says), and
compares torch's logits in eval mode for a few byte windows with `graph-runner predict --input`
(one row of T ids per window; one row of T x 256 logits per window back). Exit status 1 when
the largest difference exceeds --tol times max(1, the largest |logit|).
"""
import argparse
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "twins"))
from torch_state_dict import state_dict_of  # noqa: E402  the checkpoint's parameters, by the independent reader
from fortunes_transformer_torch import ByteTransformer  # noqa: E402  the twin (re-executes nothing on import)

# The windows' text: printable bytes and a few above 127, so that ids over the whole range occur.
TEXT = (b"Q: How many gradflow users does it take to change a light bulb?\n"
        b"A: One, and a YAML file of twenty nodes. \xc3\xa9\xe2\x82\xac\t~{|}\n%\n")


def windows(T, count):
    """`count` windows of T byte ids, from different offsets into TEXT repeated."""
    text = TEXT * (T // len(TEXT) + 2)
    step = max(1, (len(text) - T) // max(1, count))
    return [list(text[k * step:k * step + T]) for k in range(count)]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runner")
    p.add_argument("graph")
    p.add_argument("work")
    p.add_argument("--small", action="store_true", help="T 16, E 32, 2 heads, 2 blocks")
    p.add_argument("--T", type=int, default=128)
    p.add_argument("--E", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--blocks", type=int, default=4)
    p.add_argument("--epochs", type=int, default=1, help="epochs to train before saving (0: initial weights)")
    p.add_argument("--optimizer", action="append", help="optimizer node names (default: opt)")
    p.add_argument("--windows", type=int, default=4)
    p.add_argument("--tol", type=float, default=1e-4)
    a = p.parse_args()
    if a.small:
        a.T, a.E, a.heads, a.blocks = 16, 32, 2, 2
    os.makedirs(a.work, exist_ok=True)
    checkpoint = os.path.join(a.work, "transformer.st")
    subprocess.run([a.runner, "train", a.graph, "--epochs", str(a.epochs), "--save", checkpoint], check=True,
                   stdout=subprocess.DEVNULL)
    ids = windows(a.T, a.windows)
    inputs = os.path.join(a.work, "windows.csv")
    with open(inputs, "w") as f:
        f.write("".join(",".join(str(v) for v in w) + "\n" for w in ids))
    out = subprocess.run([a.runner, "predict", a.graph, "--weights", checkpoint, "--input", inputs], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    ours = torch.tensor([[float(v) for v in line.split(",")] for line in out[1:]])
    if ours.shape != (len(ids), a.T * 256):
        sys.exit(f"FAIL: predict printed {tuple(ours.shape)} values, expected {len(ids)} rows of {a.T} x 256")

    model = ByteTransformer(T=a.T, E=a.E, heads=a.heads, blocks=a.blocks)
    model.load_state_dict(state_dict_of(checkpoint, set(a.optimizer or ["opt"])), strict=True)
    model.eval()
    with torch.no_grad():
        theirs = model(torch.tensor(ids, dtype=torch.int64)).reshape(len(ids), -1)
    worst = (ours - theirs).abs().max().item()
    scale = max(1.0, theirs.abs().max().item())
    print(f"{len(ids)} windows of {a.T} bytes: largest logit difference {worst:.3g} (largest |logit| {scale:.3g})")
    if worst > a.tol * scale:
        sys.exit(f"FAIL: logits differ by {worst}")
    print("PASS")


if __name__ == "__main__":
    main()
