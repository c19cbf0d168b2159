#!/usr/bin/env python3
"""PyTorch twin of graphs/fashion_mnist_mobilenet.yaml: the same data, scaling and normalisation,
the same network (a 3x3 stride-2 stem, three inverted residual blocks with depthwise convolution
and hardsigmoid-gated squeeze-and-excitation, a 1x1 head with hardswish, global average pool,
dropout 0.2, Linear 10), cross-entropy, Adam lr 2e-3, batch 64 (shuffled, last batch kept), 10
epochs, the test set evaluated after each epoch in eval mode. Every module is named after its
node in the graph, so the graph's checkpoints load with load_state_dict(strict=True)
(--load CHECKPOINT.safetensors evaluates one and exits). Prints one line per epoch and the wall
time including data loading.

Usage: /usr/bin/python3 bench/twins/fashion_mnist_mobilenet_torch.py [--threads N] [--seed S] [--epochs E]

It runs as the benchmark's peer (bench/twins/fashion_mnist_data.py says how).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if __name__ == "__main__":  # only when run: importing the module for its class re-executes nothing
    import fashion_mnist_data as fashion  # noqa: E402  before torch: it sets the peer's environment up

import torch  # noqa: E402
from torch import nn  # noqa: E402

# (name, input channels, expanded, output channels, stride, squeeze channels), as in the graph.
BLOCKS = [("b1", 16, 48, 16, 1, 12), ("b2", 16, 64, 24, 2, 16), ("b3", 24, 96, 24, 1, 24)]


class MobileNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)
        for p, cin, exp, cout, stride, se in BLOCKS:
            setattr(self, f"{p}_expand", nn.Conv2d(cin, exp, 1, bias=False))
            setattr(self, f"{p}_expand_bn", nn.BatchNorm2d(exp))
            setattr(self, f"{p}_dw", nn.Conv2d(exp, exp, 3, stride=stride, padding=1, groups=exp, bias=False))
            setattr(self, f"{p}_dw_bn", nn.BatchNorm2d(exp))
            setattr(self, f"{p}_se_fc1", nn.Conv2d(exp, se, 1))
            setattr(self, f"{p}_se_fc2", nn.Conv2d(se, exp, 1))
            setattr(self, f"{p}_project", nn.Conv2d(exp, cout, 1, bias=False))
            setattr(self, f"{p}_project_bn", nn.BatchNorm2d(cout))
        self.head = nn.Conv2d(24, 128, 1, bias=False)
        self.head_bn = nn.BatchNorm2d(128)
        self.drop = nn.Dropout(0.2)
        self.logits = nn.Linear(128, 10)

    def block(self, p, cin, cout, stride, h):
        m = lambda name: getattr(self, f"{p}_{name}")  # noqa: E731
        e = nn.functional.hardswish(m("expand_bn")(m("expand")(h)))
        d = nn.functional.hardswish(m("dw_bn")(m("dw")(e)))
        pooled = d.mean(dim=(2, 3)).reshape(d.shape[0], -1, 1, 1)  # global_avg_pool, reshape [C, 1, 1]
        gate = nn.functional.hardsigmoid(m("se_fc2")(torch.relu(m("se_fc1")(pooled))))
        out = m("project_bn")(m("project")(d * gate))
        return h + out if stride == 1 and cin == cout else out

    def forward(self, x):
        h = nn.functional.hardswish(self.stem_bn(self.stem(x)))
        for p, cin, _, cout, stride, _ in BLOCKS:
            h = self.block(p, cin, cout, stride, h)
        h = nn.functional.hardswish(self.head_bn(self.head(h)))
        return self.logits(self.drop(h.mean(dim=(2, 3))))


def evaluate(model, loss_fn, x_test, y_test):
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x_test[i:i + 1000]) for i in range(0, len(x_test), 1000)])
        return loss_fn(logits, y_test).item(), (logits.argmax(1) == y_test).float().mean().item()


def main():
    load = None
    if "--load" in sys.argv:  # a gradflow checkpoint to evaluate instead of training
        i = sys.argv.index("--load")
        load = sys.argv[i + 1]
        del sys.argv[i:i + 2]
    args, start, (x_train, y_train), (x_test, y_test) = fashion.start_run((1, 28, 28))
    model = MobileNet()
    loss_fn = torch.nn.CrossEntropyLoss()
    if load:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "tools"))
        from torch_state_dict import state_dict_of  # the checkpoint's parameters and buffers, the optimizer's left out
        model.load_state_dict(state_dict_of(load, {"opt"}), strict=True)
        test_loss, test_accuracy = evaluate(model, loss_fn, x_test, y_test)
        print(f"loaded {load}  test_loss {test_loss:.6f}  test_accuracy {test_accuracy * 100:.2f}%")
        return
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train, y_train), batch_size=64, shuffle=True)
    for epoch in range(1, args.epochs + 1):
        epoch_start = time.time()
        fashion.train_epoch(model, loader, optimizer, loss_fn)
        train_s = time.time() - epoch_start
        test_loss, test_accuracy = evaluate(model, loss_fn, x_test, y_test)
        print(f"epoch {epoch}/{args.epochs}  test_loss {test_loss:.6f}  test_accuracy {test_accuracy * 100:.2f}%  "
              f"train {train_s:.2f}s  ({time.time() - start:.2f}s)", flush=True)
    print(f"total wall time {time.time() - start:.2f}s")


if __name__ == "__main__":
    main()
