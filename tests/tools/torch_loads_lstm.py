#!/usr/bin/python3
"""A gradflow LSTM language-model checkpoint loads into the equivalent torch module with
load_state_dict(strict=True) and gives the same logits.

    torch_loads_lstm.py GRAPH_RUNNER GRAPH WORK_DIR [--E 16 --H 32 --layers 2 --T 16] [--epochs 1] [--tol 1e-4]

GRAPH is a graph of graphs/fortunes_lstm.yaml's form (nodes embed, rnn, head, as
bench/twins/fortunes_lstm_torch.py's ByteLSTM names its modules), with a data section so that
`graph-runner train` runs. The test trains it for --epochs epochs, saves the checkpoint, builds
ByteLSTM(E, H, layers), loads the checkpoint's parameters with strict=True (the optimizer's state
and the training loop's left out, as docs/checkpoints.md says) and compares torch's logits in
eval mode for a few byte windows with `graph-runner predict --input`, as
torch_loads_transformer.py does. Exit status 1 when the largest difference exceeds --tol times
max(1, the largest |logit|).
"""
import argparse
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "twins"))
from torch_state_dict import state_dict_of  # noqa: E402  the checkpoint's parameters, by the independent reader
from torch_loads_transformer import windows  # noqa: E402  the same byte windows
from fortunes_lstm_torch import ByteLSTM  # noqa: E402  the twin (re-executes nothing on import)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runner")
    p.add_argument("graph")
    p.add_argument("work")
    p.add_argument("--E", type=int, default=16)
    p.add_argument("--H", type=int, default=32)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--T", type=int, default=16)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--windows", type=int, default=4)
    p.add_argument("--tol", type=float, default=1e-4)
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    checkpoint = os.path.join(a.work, "lstm.st")
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

    model = ByteLSTM(E=a.E, H=a.H, layers=a.layers)
    model.load_state_dict(state_dict_of(checkpoint, {"opt"}), strict=True)
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
