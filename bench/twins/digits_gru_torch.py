#!/usr/bin/env python3
"""PyTorch twin of graphs/digits_gru.yaml (issue 25): sklearn's 8x8 digits read as 8 rows of 8
pixels by a bidirectional GRU, its two final hidden states into a linear layer of 10 classes.

Model: x [64] / 16 -> view [8, 8] -> nn.GRU(8, 64, batch_first=True, bidirectional=True) from zero
states -> h_n of both directions concatenated [128] -> nn.Linear(128, 10). Cross-entropy, Adam(lr
3e-3), batch 32 shuffled, 30 epochs, torch's default initialisation (torch.manual_seed(seed)).
State dict keys are the graph's checkpoint names (rnn.weight_ih_l0, ..., logits.weight).

The 70/30 split is gradflow's for the same seed (`data.split`, framework/src/spec/data_section.cpp):
a Fisher-Yates shuffle of the sample indices by std::mt19937_64 seeded with
Rng::stream_key(seed, "data.split") (framework/src/core/rng.cpp), the first round(0.3 N) indices
held out as the test set; so both sides test on the same 539 images.

    /usr/bin/python3 bench/twins/digits_gru_torch.py --seed 42
"""
import argparse
import gzip

import torch
from torch import nn

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
M64 = (1 << 64) - 1


class MT19937_64:
    """std::mt19937_64."""

    def __init__(self, seed):
        self.mt = [seed & M64]
        for i in range(1, 312):
            self.mt.append((6364136223846793005 * (self.mt[-1] ^ (self.mt[-1] >> 62)) + i) & M64)
        self.index = 312

    def __call__(self):
        if self.index >= 312:
            for i in range(312):
                x = (self.mt[i] & 0xFFFFFFFF80000000) | (self.mt[(i + 1) % 312] & 0x7FFFFFFF)
                y = x >> 1
                if x & 1:
                    y ^= 0xB5026F5AA96619E9
                self.mt[i] = self.mt[(i + 156) % 312] ^ y
            self.index = 0
        y = self.mt[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & M64


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def stream_key(seed, stream, index=0):
    h = 0xCBF29CE484222325
    for c in stream.encode():
        h = ((h ^ c) * 0x100000001B3) & M64
    return splitmix64(splitmix64(seed) ^ h ^ splitmix64(index + 0x51ED27))


def gradflow_split(n, fraction, seed):
    """(train indices, held-out indices) as gradflow's `split: fraction` gives them."""
    rng, order = MT19937_64(stream_key(seed, "data.split")), list(range(n))
    for i in range(n, 1, -1):
        limit = (-i) % i
        x = rng()
        while x < limit:
            x = rng()
        j = x % i
        order[i - 1], order[j] = order[j], order[i - 1]
    held = min(max(round(fraction * n), 1), n - 1)
    return order[held:], order[:held]


class DigitsGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 64, batch_first=True, bidirectional=True)
        self.logits = nn.Linear(128, 10)

    def forward(self, x):
        _, h_n = self.rnn(x.view(-1, 8, 8))
        return self.logits(torch.cat([h_n[-2], h_n[-1]], dim=1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with gzip.open(DIGITS, "rt") as f:
        rows = [[float(v) for v in line.split(",")] for line in f if line.strip()]
    data = torch.tensor(rows)
    x, y = data[:, :64] * 0.0625, data[:, 64].long()
    train, test = gradflow_split(len(rows), 0.3, a.seed)
    # The held-out set's class counts, to check against `graph-runner eval`'s support column.
    print("test set class counts " + " ".join(str(int((y[test] == c).sum())) for c in range(10)), flush=True)
    model = DigitsGRU()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = x[train], y[train]
    for epoch in range(1, a.epochs + 1):
        model.train()
        perm = torch.randperm(len(train))
        for i in range(0, len(train), 32):
            idx = perm[i:i + 32]
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x[test]).argmax(1) == y[test]).float().mean().item()
        print(f"epoch {epoch}/{a.epochs}  test_accuracy {100 * accuracy:.2f}%", flush=True)


if __name__ == "__main__":
    main()
