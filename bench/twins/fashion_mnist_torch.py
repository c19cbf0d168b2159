#!/usr/bin/env python3
"""PyTorch twin of graphs/fashion_mnist_mlp.yaml: the same data, scaling, normalisation,
784-256-10 ReLU MLP, cross-entropy, Adam lr 1e-3 with CosineAnnealingLR over the 10 epochs,
batch 64 (shuffled, last batch kept), 10% of the training data held out as the validation
set (a seeded random split: torch's draw, not gradflow's). Prints one line per epoch and the
wall time including data loading.

Usage: /usr/bin/python3 bench/twins/fashion_mnist_torch.py [--threads N] [--seed S]

It runs as the benchmark's peer (bench/twins/fashion_mnist_data.py says how).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist_data as fashion  # noqa: E402  before torch: it sets the peer's environment up

import torch  # noqa: E402


def main():
    args, start, (x_train, y_train), (x_test, y_test) = fashion.start_run((784,))
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    order = torch.randperm(len(x_train))
    held = round(0.1 * len(x_train))
    x_val, y_val = x_train[order[:held]], y_train[order[:held]]
    x_fit, y_fit = x_train[order[held:]], y_train[order[held:]]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_fit, y_fit), batch_size=64, shuffle=True)

    def evaluate(x, y):
        with torch.no_grad():
            logits = model(x)
            return loss_fn(logits, y).item(), (logits.argmax(1) == y).float().mean().item()

    for epoch in range(1, args.epochs + 1):
        fashion.train_epoch(model, loader, optimizer, loss_fn)
        schedule.step()
        val_loss, val_accuracy = evaluate(x_val, y_val)
        test_loss, test_accuracy = evaluate(x_test, y_test)
        print(f"epoch {epoch}/{args.epochs}  val_loss {val_loss:.6f}  val_accuracy {val_accuracy * 100:.2f}%  "
              f"test_loss {test_loss:.6f}  test_accuracy {test_accuracy * 100:.2f}%  "
              f"({time.time() - start:.2f}s)", flush=True)
    print(f"total wall time {time.time() - start:.2f}s")


if __name__ == "__main__":
    main()
