#!/usr/bin/env python3
"""PyTorch twin of graphs/fortunes_lstm.yaml (issue 25): a byte-level LSTM language model on
Debian's fortunes, with the graph's data, model, loss and optimizer.

Model: ids 0-255 -> nn.Embedding(256, 64) -> nn.LSTM(64, 256, num_layers=2, batch_first=True)
from zero states -> nn.Linear(256, 256). Cross-entropy over every position, Adam(lr 2e-3), batch
32 shuffled (last batch kept), 3 epochs = 1,701 steps, torch's default initialisation.

The module's state_dict keys are the graph's checkpoint names (its node names): embed.weight,
rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0, the same for l1, head.weight,
head.bias; so a gradflow checkpoint loads with load_state_dict(strict=True)
(tests/tools/torch_loads_lstm.py).

Data, validation loss and the training loop's reports are those of
bench/twins/fortunes_transformer_torch.py (its token_loss and evaluate; fortunes_data.py).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE nice -n 5 \\
      /usr/bin/python3 bench/twins/fortunes_lstm_torch.py --threads 2 --metrics torch.jsonl
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
from torch import nn  # noqa: E402

from fortunes_transformer_torch import evaluate, token_loss  # noqa: E402

VOCAB = 256


class ByteLSTM(nn.Module):
    """The graph's network, its node names as module names (so as state_dict keys)."""

    def __init__(self, E=64, H=256, layers=2, vocab=VOCAB):
        super().__init__()
        self.embed = nn.Embedding(vocab, E)
        self.rnn = nn.LSTM(E, H, num_layers=layers, batch_first=True)
        self.head = nn.Linear(H, vocab)

    def forward(self, ids):
        """ids [B, t] int64 -> logits [B, t, 256]."""
        return self.head(self.rnn(self.embed(ids))[0])


def main():
    import fortunes_data as fd
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--report-every", type=int, default=100, help="validation loss every N steps (0: never)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: all epochs)")
    p.add_argument("--metrics", help="write one JSON object per report and per epoch to this file")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    data = fd.corpus_bytes()
    x_train, y_train = fd.windows(fd.part(data, 0.0, 0.9), 128)
    x_val, y_val = fd.windows(fd.part(data, 0.9, 1.0), 128)
    print(f"corpus {len(data)} bytes; {len(x_train)} training windows ({math.ceil(len(x_train) / a.batch)} steps "
          f"per epoch), {len(x_val)} validation windows; threads {a.threads}", flush=True)
    model = ByteLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    metrics = open(a.metrics, "w") if a.metrics else None
    gen = torch.Generator().manual_seed(a.seed)
    train_s, step = 0.0, 0

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
            if a.report_every and step % a.report_every == 0:
                record({"step": step, "epoch": epoch, "val_loss": evaluate(model, x_val, y_val),
                        "train_s": round(train_s, 2)})
            if a.max_steps and step >= a.max_steps:
                break
        record({"epoch": epoch, "step": step, "loss": total / count, "val_loss": evaluate(model, x_val, y_val),
                "elapsed_s": round(train_s, 2), "ms_per_step": round(1e3 * train_s / step, 1)})
        if a.max_steps and step >= a.max_steps:
            break
    print(f"training time {train_s:.1f} s for {step} steps ({1e3 * train_s / step:.1f} ms per step)")


if __name__ == "__main__":
    main()
