"""Fashion-MNIST for the PyTorch twins of graphs/fashion_mnist_*.yaml: the IDX files Debian's
dataset-fashion-mnist installs, pixels / 255 then (x - 0.2860) / 0.3530, as the graphs read them.

Import it before torch: as the benchmark's peer, a twin runs on OpenBLAS's OpenMP build
(issue 17; bench/setup_peer.sh installs it), so importing this module re-executes the process
with the peer's environment from bench/peer_env.py, the same bench/run.py gives torch, i.e. as if
started as
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OPENBLAS_CORETYPE=<this CPU's family> \\
      /usr/bin/python3 bench/twins/fashion_mnist_torch.py --threads 1
(OPENBLAS_CORETYPE: SkylakeX, Haswell or Sandybridge by the CPU's flags, unless already set).
GRADFLOW_PEER_ENV=0 keeps the environment as given. `describe_blas()` names the OpenBLAS file
mapped in this process and its kernel family, so a run shows what it ran on.
"""
import argparse
import gzip
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import peer_env  # noqa: E402  bench/peer_env.py

peer_env.reexec_as_peer()

import torch  # noqa: E402  (after the re-exec: the loader reads LD_LIBRARY_PATH at exec only)

DATA = "/usr/share/datasets/fashion-mnist/"


def describe_blas():
    return "OpenBLAS mapped: " + peer_env.describe(peer_env.blas_report())


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    _, _, _, dims = struct.unpack(">BBBB", raw[:4])
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    data = torch.frombuffer(bytearray(raw[4 + 4 * dims:]), dtype=torch.uint8)
    return data.reshape(shape)


def load(prefix, sample_shape):
    """The images of `prefix` ("train" or "t10k") as floats shaped [N, *sample_shape], and labels."""
    x = read_idx(DATA + prefix + "-images-idx3-ubyte.gz").reshape(-1, *sample_shape).float()
    y = read_idx(DATA + prefix + "-labels-idx1-ubyte.gz").long()
    return ((x / 255.0) - 0.2860) / 0.3530, y


def start_run(sample_shape):
    """What both twins start with: their command line (--threads, --seed, --epochs), the OpenBLAS
    they run on, torch's threads and seed, and the training and test sets shaped [N,
    *sample_shape]. Returns (args, start time, (x_train, y_train), (x_test, y_test))."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    print(describe_blas(), flush=True)
    start = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    return args, start, load("train", sample_shape), load("t10k", sample_shape)


def train_epoch(model, loader, optimizer, loss_fn):
    """One epoch of both twins: train mode, then a step per batch of `loader`."""
    model.train()
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
