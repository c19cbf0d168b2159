#!/usr/bin/env python3
"""PyTorch twin of graphs/fortunes_transformer.yaml (issue 16): a byte-level GPT-style model on
Debian's fortunes, with the graph's data, model, loss, optimizer and schedule.

Model: ids 0-255 -> embedding(256, E) + learned positional embedding (nn.Embedding(T, E),
N(0, 1)) -> `blocks` pre-norm blocks
    x = x + attn(layer_norm(x))              causal nn.MultiheadAttention(E, heads, batch_first)
    x = x + fc2(gelu(fc1(layer_norm(x))))    fc1: E -> 4E, exact GELU, fc2: 4E -> E
-> final layer_norm -> linear 256. Cross-entropy over every position (logits [B*T, 256] against
the [B*T] next bytes), AdamW(lr 1e-3, weight_decay 0.01), no schedule, batch 32 shuffled (last
batch kept), 3 epochs = 1,701 steps. T 128, E 128, 4 heads, 4 blocks.

The module's state_dict keys are the gradflow graph's checkpoint names (the graph's node names):
    embed.weight, pos.weight,
    block{i}_ln1.weight/bias, block{i}_attn.in_proj_weight, block{i}_attn.in_proj_bias,
    block{i}_attn.out_proj.weight, block{i}_attn.out_proj.bias, block{i}_ln2.weight/bias,
    block{i}_fc1.weight/bias, block{i}_fc2.weight/bias, ln_f.weight/bias, head.weight/bias
so a gradflow checkpoint loads with load_state_dict(strict=True) (tests/tools/torch_loads_transformer.py).

Data (bench/twins/fortunes_data.py): the corpus bytes, part [0, 0.9] to train, [0.9, 1] to validate,
windows of T with stride T, targets offset by one byte. The validation loss is the mean
cross-entropy in nats per byte over every position of every validation window, in eval mode
without gradients; it is taken after the steps listed by --steps-report and after each epoch,
and its time is not counted in the training time.

Usage (the run of docs/results.md; it re-executes itself as the benchmark's peer, on
OpenBLAS's OpenMP build, as bench/peer_env.py says):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE nice -n 5 \\
      /usr/bin/python3 bench/twins/fortunes_transformer_torch.py --threads 2 --metrics torch.jsonl
"""
import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))

if __name__ == "__main__":  # only when run: importing the module for its class re-executes nothing
    import peer_env  # noqa: E402  bench/peer_env.py
    peer_env.reexec_as_peer()

import torch  # noqa: E402  (after the re-exec: the loader reads LD_LIBRARY_PATH at exec only)
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

VOCAB = 256


class ByteTransformer(nn.Module):
    """The graph's network, its node names as module names (so as state_dict keys)."""

    def __init__(self, T=128, E=128, heads=4, blocks=4, vocab=VOCAB):
        super().__init__()
        self.T, self.blocks = T, blocks
        self.embed = nn.Embedding(vocab, E)
        self.pos = nn.Embedding(T, E)  # only its weight is used: x + pos.weight[:t]
        for i in range(blocks):
            self.add_module(f"block{i}_ln1", nn.LayerNorm(E))
            self.add_module(f"block{i}_attn", nn.MultiheadAttention(E, heads, batch_first=True))
            self.add_module(f"block{i}_ln2", nn.LayerNorm(E))
            self.add_module(f"block{i}_fc1", nn.Linear(E, 4 * E))
            self.add_module(f"block{i}_fc2", nn.Linear(4 * E, E))
        self.ln_f = nn.LayerNorm(E)
        self.head = nn.Linear(E, vocab)
        self.masks = {}

    def causal_mask(self, t, device):
        # True above the diagonal: position i may not attend to j > i (torch's bool attn_mask).
        if t not in self.masks:
            self.masks[t] = torch.triu(torch.ones(t, t, dtype=torch.bool, device=device), diagonal=1)
        return self.masks[t]

    def forward(self, ids):
        """ids [B, t] (t <= T) int64 -> logits [B, t, 256]."""
        t = ids.shape[1]
        x = self.embed(ids) + self.pos.weight[:t]
        mask = self.causal_mask(t, ids.device)
        for i in range(self.blocks):
            h = getattr(self, f"block{i}_ln1")(x)
            x = x + getattr(self, f"block{i}_attn")(h, h, h, attn_mask=mask, need_weights=False)[0]
            h = getattr(self, f"block{i}_ln2")(x)
            x = x + getattr(self, f"block{i}_fc2")(F.gelu(getattr(self, f"block{i}_fc1")(h)))
        return self.head(self.ln_f(x))


def state_dict_names(blocks=4):
    """The state_dict keys, in the module's order: the names the gradflow graph's nodes give."""
    return list(ByteTransformer(T=4, E=8, heads=2, blocks=blocks).state_dict().keys())


def token_loss(logits, targets, reduction="mean"):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction=reduction)


@torch.no_grad()
def evaluate(model, x, y, batch=64):
    """Mean nats per byte over every position of every window."""
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, len(x), batch):
        total += token_loss(model(x[i:i + batch]), y[i:i + batch], reduction="sum").item()
    model.train(was_training)
    return total / y.numel()


def main():
    import fortunes_data as fd
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps-report", default="100,900,1600", help="steps after which to report the validation loss")
    p.add_argument("--report-every", type=int, default=0,
                   help="also report the validation loss every N steps (the graph's validate_every_steps)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: all epochs)")
    p.add_argument("--metrics", help="write one JSON object per report and per epoch to this file")
    a = p.parse_args()
    import peer_env
    print("OpenBLAS mapped: " + peer_env.describe(peer_env.blas_report()), flush=True)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    data = fd.corpus_bytes()
    x_train, y_train = fd.windows(fd.part(data, 0.0, 0.9), 128)
    x_val, y_val = fd.windows(fd.part(data, 0.9, 1.0), 128)
    per_epoch = math.ceil(len(x_train) / a.batch)
    print(f"corpus {len(data)} bytes; {len(x_train)} training windows ({per_epoch} steps per epoch, "
          f"{per_epoch * a.epochs} in all), {len(x_val)} validation windows; threads {a.threads}", flush=True)
    model = ByteTransformer()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    reports = {int(s) for s in a.steps_report.split(",") if s}
    metrics = open(a.metrics, "w") if a.metrics else None
    gen = torch.Generator().manual_seed(a.seed)
    train_s, step, stop = 0.0, 0, False

    def record(obj):
        print("  ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in obj.items()), flush=True)
        if metrics:
            metrics.write(json.dumps(obj) + "\n")
            metrics.flush()

    for epoch in range(1, a.epochs + 1):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        total, count = 0.0, 0
        for i in range(0, len(x_train), a.batch):
            start = time.perf_counter()
            idx = perm[i:i + a.batch]
            opt.zero_grad(set_to_none=True)
            loss = token_loss(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
            train_s += time.perf_counter() - start
            step += 1
            if step in reports or (a.report_every and step % a.report_every == 0):
                record({"step": step, "epoch": epoch, "val_loss": evaluate(model, x_val, y_val),
                        "train_s": round(train_s, 2)})
            if a.max_steps and step >= a.max_steps:
                stop = True
                break
        record({"epoch": epoch, "step": step, "loss": total / count, "val_loss": evaluate(model, x_val, y_val),
                "elapsed_s": round(train_s, 2), "ms_per_step": round(1e3 * train_s / step, 1)})
        if stop:
            break
    print(f"training time {train_s:.1f} s for {step} steps ({1e3 * train_s / step:.1f} ms per step)")


if __name__ == "__main__":
    main()
