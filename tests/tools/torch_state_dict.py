"""A gradflow checkpoint as a torch state dict: its parameters and buffers, read by the
independent reader (tests/framework/read_safetensors.py). The optimizer's state (under the
optimizer nodes' names) and the training loop's (under gradflow.) are left out, as
docs/checkpoints.md says."""
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "framework"))
import read_safetensors  # noqa: E402

DTYPES = {"F32": torch.float32, "I64": torch.int64}


def state_dict_of(path, optimizers):
    with open(path, "rb") as f:
        tensors, _, buffer = read_safetensors.parse(f.read())
    state = {}
    for name, dtype, shape, (begin, end), count in tensors:
        if name.startswith("gradflow.") or name.split(".")[0] in optimizers:
            continue
        fmt, _ = read_safetensors.DTYPES[dtype]
        values = struct.unpack("<%d%s" % (count, fmt), buffer[begin:end])
        state[name] = torch.tensor(values, dtype=DTYPES[dtype]).reshape(shape)
    return state
