#!/usr/bin/python3
"""PyTorch twin of graphs/digits_conv1d.yaml: sklearn's 8x8 digits as sequences [C=8, L=8] (an
image row per channel), pixels / 16; the same network with the graph's node names as attribute
names, so a gradflow checkpoint loads with load_state_dict(strict=True) (conv1d 3 (32) ->
BatchNorm1d -> ReLU -> MaxPool1d 2 -> conv1d 3 (64) -> BatchNorm1d -> ReLU -> AvgPool1d 4 ->
flatten -> Dropout 0.2 -> Linear 10); cross-entropy, Adam 3e-3 with CosineAnnealingLR over the
40 epochs (stepped after each), batch 16 (shuffled, last batch kept); a seeded 70/30 train/test
split and 10% of the training part held out for validation, as the graph's `split: 0.3` and
`validation_split: 0.1` (the same sizes; the draws are torch's, not gradflow's). Prints the test
accuracy after each epoch.

Usage: /usr/bin/python3 bench/twins/digits_conv1d_torch.py [--seed S] [--epochs E] [--threads N]
"""
import argparse
import gzip

import torch

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


class DigitsConv1d(torch.nn.Module):
    """graphs/digits_conv1d.yaml, with its node names as attribute names."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(8, 32, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm1d(32)
        self.conv2 = torch.nn.Conv1d(32, 64, 3, padding=1)
        self.bn2 = torch.nn.BatchNorm1d(64)
        self.drop = torch.nn.Dropout(0.2)
        self.logits = torch.nn.Linear(64, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool1d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = torch.nn.functional.avg_pool1d(torch.relu(self.bn2(self.conv2(x))), 4)
        return self.logits(self.drop(torch.flatten(x, 1)))


def load_digits():
    """Every image as [8, 8] (rows as channels) scaled to [0, 1], and its label."""
    with gzip.open(DIGITS, "rt") as f:
        rows = torch.tensor([[float(v) for v in line.split(",")] for line in f.read().splitlines()])
    return (rows[:, :64] * 0.0625).reshape(-1, 8, 8), rows[:, 64].long()


def split(x, y, seed):
    """(train, validation, test) of the graph's sizes: round(0.3·N) test, round(0.1·rest) validation."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = round(0.3 * len(x))
    rest = order[n_test:]
    n_val = round(0.1 * len(rest))
    parts = (rest[n_val:], rest[:n_val], order[:n_test])
    return [(x[p], y[p]) for p in parts]


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    (x_train, y_train), _, (x_test, y_test) = split(*load_digits(), args.seed)
    model = DigitsConv1d()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train, y_train), batch_size=16, shuffle=True)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimizer.step()
        schedule.step()
        print(f"epoch {epoch}/{args.epochs}  test_accuracy {accuracy(model, x_test, y_test) * 100:.2f}%", flush=True)


if __name__ == "__main__":
    main()
