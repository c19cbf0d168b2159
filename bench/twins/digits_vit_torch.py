#!/usr/bin/env python3
"""PyTorch twin of graphs/digits_vit.yaml: sklearn's 8x8 digits as [1, 8, 8] images (pixels / 16),
a small vision transformer with the graph's network, loss, optimizer and schedule:

    patch: Conv2d(1, 32, 2, stride 2) -> [B, 32, 4, 4] -> flatten(2) -> transpose -> [B, 16, 32]
    cat(cls token [1, 32], tokens) on the token axis -> + pos [17, 32]
    2 pre-norm blocks: x + attn(layer_norm(x)); x + fc2(gelu(fc1(layer_norm(x)))), fc1 32 -> 64
    ln_f -> row 0 (the class token) -> head Linear(32, 10)

cross-entropy, Adam lr 3e-3, CosineAnnealingLR over the epochs (stepped per epoch), batch 16
shuffled (last batch kept), 40 epochs. The class token and the position table start as the
graph's `init: normal, std: 0.02`.

The module's state_dict keys are the graph's checkpoint names (its node names): patch.weight/bias,
cls.weight, pos.weight, block{i}_ln1/ln2 (LayerNorm), block{i}_attn (MultiheadAttention,
batch_first: in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias), block{i}_fc1/fc2,
ln_f, head; so a gradflow checkpoint loads with load_state_dict(strict=True) (--check-load).

Split: a seeded 70/30 train/test split (sklearn's train_test_split, stratified, random_state =
seed) and 10% of the training images held out for validation; gradflow draws its split from its
own seeded stream, so the two sides test on different (equally sized) random test sets, which the
mean over seeds compares.

Usage: /usr/bin/python3 bench/twins/digits_vit_torch.py [--seed S] [--threads N] [--epochs E]
       /usr/bin/python3 bench/twins/digits_vit_torch.py --check-load CHECKPOINT.safetensors
"""
import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
E, HEADS, HIDDEN, BLOCKS, TOKENS = 32, 4, 64, 2, 16


class Tensor(nn.Module):
    """A gradflow `parameter` node: one trainable tensor, named `weight`."""

    def __init__(self, *shape):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(*shape).normal_(0.0, 0.02))


class DigitsViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(1, E, 2, stride=2)
        self.cls = Tensor(1, E)
        self.pos = Tensor(TOKENS + 1, E)
        for i in range(BLOCKS):
            self.add_module(f"block{i}_ln1", nn.LayerNorm(E))
            self.add_module(f"block{i}_attn", nn.MultiheadAttention(E, HEADS, batch_first=True))
            self.add_module(f"block{i}_ln2", nn.LayerNorm(E))
            self.add_module(f"block{i}_fc1", nn.Linear(E, HIDDEN))
            self.add_module(f"block{i}_fc2", nn.Linear(HIDDEN, E))
        self.ln_f = nn.LayerNorm(E)
        self.head = nn.Linear(E, 10)

    def forward(self, x):
        tokens = self.patch(x).flatten(2).transpose(1, 2)                      # [B, 16, E]
        cls = self.cls.weight.unsqueeze(0).expand(x.shape[0], -1, -1)          # [B, 1, E]
        h = torch.cat([cls, tokens], 1) + self.pos.weight
        for i in range(BLOCKS):
            a = getattr(self, f"block{i}_ln1")(h)
            h = h + getattr(self, f"block{i}_attn")(a, a, a, need_weights=False)[0]
            m = getattr(self, f"block{i}_ln2")(h)
            h = h + getattr(self, f"block{i}_fc2")(F.gelu(getattr(self, f"block{i}_fc1")(m)))
        return self.head(self.ln_f(h)[:, 0])


def load_digits():
    data = np.loadtxt(DIGITS, delimiter=",", dtype=np.float32)
    return torch.from_numpy(data[:, :64] / 16.0).reshape(-1, 1, 8, 8), torch.from_numpy(data[:, 64]).long()


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        logits = model(x)
    model.train()
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def check_load(path):
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "tools"))
    from torch_state_dict import state_dict_of  # the checkpoint's tensors, by the tests' independent reader
    model = DigitsViT()
    model.load_state_dict(state_dict_of(path, optimizers={"opt"}), strict=True)
    print(f"{path}: loads into DigitsViT with load_state_dict(strict=True)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--check-load", metavar="CHECKPOINT")
    a = p.parse_args()
    if a.check_load:
        return check_load(a.check_load)
    from sklearn.model_selection import train_test_split
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x, y = load_digits()
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.3, random_state=a.seed, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.1, random_state=a.seed)
    model = DigitsViT()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train, y_train), batch_size=16,
                                         shuffle=True, generator=torch.Generator().manual_seed(a.seed))
    start = time.time()
    for epoch in range(1, a.epochs + 1):
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        schedule.step()
        if epoch % 10 == 0 or epoch == a.epochs:
            val_loss, val_acc = accuracy(model, x_val, y_val)
            test_loss, test_acc = accuracy(model, x_test, y_test)
            print(f"epoch {epoch}/{a.epochs}  val_accuracy {val_acc * 100:.2f}%  test_loss {test_loss:.6f}  "
                  f"test_accuracy {test_acc * 100:.2f}%  ({time.time() - start:.2f}s)", flush=True)


if __name__ == "__main__":
    main()
