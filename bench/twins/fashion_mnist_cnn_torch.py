#!/usr/bin/env python3
"""PyTorch twin of graphs/fashion_mnist_cnn.yaml: the same data, scaling and normalisation, the
same network (conv 3x3 32 pad 1 -> BatchNorm2d -> ReLU -> MaxPool 2 -> conv 3x3 64 pad 1 ->
BatchNorm2d -> ReLU -> MaxPool 2 -> flatten -> Linear 128 -> ReLU -> Dropout 0.25 -> Linear 10),
cross-entropy, Adam lr 1e-3, batch 64 (shuffled, last batch kept), 10 epochs, the test set
evaluated after each epoch in eval mode. Prints one line per epoch and the wall time including
data loading.

Usage: /usr/bin/python3 bench/twins/fashion_mnist_cnn_torch.py [--threads N] [--seed S]

It runs as the benchmark's peer (bench/twins/fashion_mnist_data.py says how).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist_data as fashion  # noqa: E402  before torch: it sets the peer's environment up

import torch  # noqa: E402


def main():
    args, start, (x_train, y_train), (x_test, y_test) = fashion.start_run((1, 28, 28))
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.BatchNorm2d(32), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.BatchNorm2d(64), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(3136, 128), torch.nn.ReLU(), torch.nn.Dropout(0.25),
        torch.nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train, y_train), batch_size=64, shuffle=True)
    for epoch in range(1, args.epochs + 1):
        epoch_start = time.time()
        fashion.train_epoch(model, loader, optimizer, loss_fn)
        train_s = time.time() - epoch_start
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(x_test[i:i + 1000]) for i in range(0, len(x_test), 1000)])
            test_loss = loss_fn(logits, y_test).item()
            test_accuracy = (logits.argmax(1) == y_test).float().mean().item()
        print(f"epoch {epoch}/{args.epochs}  test_loss {test_loss:.6f}  test_accuracy {test_accuracy * 100:.2f}%  "
              f"train {train_s:.2f}s  ({time.time() - start:.2f}s)", flush=True)
    print(f"total wall time {time.time() - start:.2f}s")


if __name__ == "__main__":
    main()
