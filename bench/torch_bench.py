"""The PyTorch (eager) side of the benchmark: the workloads of bench/gradflow_bench.cpp with
the same shapes, initialisation (nn.Linear's default, which gradflow's torch_default matches),
optimizer, data formula and timing; prints one JSON object. Run by bench/run.py, which starts
it with the peer's environment (bench/peer_env.py: OpenBLAS's OpenMP build first on
LD_LIBRARY_PATH); run by hand, it re-executes itself with that environment before loading torch
(GRADFLOW_PEER_ENV=0 keeps the environment as given). Its JSON names the OpenBLAS files mapped
in this process and their kernel family ("blas")."""
import argparse
import json
import os
import sys
import time

import peer_env  # bench/peer_env.py, next to this script

peer_env.reexec_as_peer()

import torch  # noqa: E402  (after the re-exec: the loader reads LD_LIBRARY_PATH at exec only)
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "twins"))
from fortunes_transformer_torch import ByteTransformer, token_loss  # noqa: E402  the twin's module


def synthetic(n, features=784, classes=10):
    # Bit-identical to gradflow_bench.cpp's synthetic(): the same numbers in memory.
    # Built in blocks of rows so the int64/double temporaries do not inflate the peak memory.
    x = torch.empty(n, features)
    for r in range(0, n, 4096):
        rows = min(n, r + 4096) - r
        idx = torch.arange(r * features, (r + rows) * features, dtype=torch.int64)
        x[r:r + rows] = ((idx * 2654435761) % 4294967296).double().div_(4294967296.0).view(rows, features)
    y = torch.arange(n, dtype=torch.int64) % classes
    return x, y


def synthetic_pixels(n, features=784, classes=10):
    # The mnist and cnn workloads' data, as gradflow_bench.cpp's synthetic_pixels(): uint8 pixels
    # (the top byte of the same hash), kept as bytes the way torchvision keeps MNIST; each batch
    # is converted with to_unit(), which gives the floats gradflow's byte column gathers.
    x = torch.empty(n, features, dtype=torch.uint8)
    for r in range(0, n, 4096):
        rows = min(n, r + 4096) - r
        idx = torch.arange(r * features, (r + rows) * features, dtype=torch.int64)
        x[r:r + rows] = (((idx * 2654435761) % 4294967296) >> 24).to(torch.uint8).view(rows, features)
    y = torch.arange(n, dtype=torch.int64) % classes
    return x, y


def synthetic_images(n, targets=64):
    # The conv workload's fixed batch, as gradflow_bench.cpp's synthetic_images(): x [n, 1, 28, 28]
    # and targets [n, 64], each filled by synthetic()'s formula from element 0.
    x, _ = synthetic(n, 784)
    t, _ = synthetic(n, targets)
    return x.view(n, 1, 28, 28), t


def to_unit(pixels):
    # byte * (1/255) in float: the multiply, not a division by 255, rounds as gradflow's table.
    return pixels.float().mul_(1 / 255)


class Wide(nn.Module):
    """Four independent towers joined by concat (bench/graphs/wide.yaml)."""

    def __init__(self):
        super().__init__()
        self.towers = nn.ModuleList(
            nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU())
            for _ in range(4))
        self.logits = nn.Linear(512, 10)

    def forward(self, x):
        return self.logits(torch.cat([t(x) for t in self.towers], dim=1))


def mobilenet():
    """bench/graphs/mobilenet.yaml (graphs/fashion_mnist_mobilenet.yaml's network): the twin's
    module, torch's default initialisation."""
    from fashion_mnist_mobilenet_torch import MobileNet
    return MobileNet()


def fashion_cnn():
    """bench/graphs/fashion_cnn.yaml (graphs/fashion_mnist_cnn.yaml's network), torch's default
    initialisation."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))


def synthetic_bytes(n, T):
    # The transformer workloads' corpus, as gradflow_bench.cpp's synthetic_bytes(): n * T + 1 bytes
    # (the top byte of the hash), kept as uint8; window k is bytes [kT, kT + T) and its targets
    # the same shifted by one byte, as the text source's windows with offset 1.
    idx = torch.arange(n * T + 1, dtype=torch.int64)
    return (((idx * 2654435761) % 4294967296) >> 24).to(torch.uint8)


def byte_windows(corpus, rows, T):
    # x and y [len(rows), T] as int64 ids, gathered per batch from the bytes.
    starts = rows * T
    offs = starts[:, None] + torch.arange(T + 1)
    w = corpus[offs].long()
    return w[:, :T], w[:, 1:]


def transformer_step_flops(batch, T=128, E=128, blocks=4, vocab=256):
    # Multiply-adds of the products, times two, forward + both gradients (3x; the embedding and
    # its gather are not products): per block the projections 3E^2 + E^2, the MLP 8E^2 per
    # position, the causal scores and weighted sum T*E per position each (half of T^2 E
    # counted as a full square, as the kernels compute it), then the head E * vocab.
    per_pos = blocks * (12 * E * E + 2 * T * E) + E * vocab
    return 3 * 2.0 * batch * T * per_pos


def attention_inputs(batch, T, E=128):
    # The attention workloads' fixed batch, as gradflow_bench.cpp: x and the mse target
    # [batch, T, E], both filled by synthetic()'s formula from element 0.
    x, _ = synthetic(batch, T * E)
    return x.view(batch, T, E), x.view(batch, T, E).clone()


class PositionAttention(nn.Module):
    """bench/graphs/attention_t*.yaml: x + a learned [T, E] table (N(0, 1)), then causal
    nn.MultiheadAttention(E, heads, batch_first=True) with need_weights=False."""

    def __init__(self, T, E=128, heads=4):
        super().__init__()
        self.pos = nn.Embedding(T, E)
        self.attn = nn.MultiheadAttention(E, heads, batch_first=True)
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1))

    def forward(self, x):
        h = x + self.pos.weight
        return self.attn(h, h, h, attn_mask=self.mask, need_weights=False)[0]


def generate_rate(model, prompt, length, T, temperature=1.0, seed=0):
    # Bytes per second of sampling `length` bytes one at a time, each from the logits of the
    # last position of a forward pass over the last T bytes (no key/value cache: the whole
    # window again for every byte), as `graph-runner generate` samples.
    gen = torch.Generator().manual_seed(seed)
    ctx = list(prompt)
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(length):
            window = torch.tensor(ctx[-T:], dtype=torch.int64)[None]
            probs = torch.softmax(model(window)[0, -1] / temperature, dim=0)
            ctx.append(int(torch.multinomial(probs, 1, generator=gen)))
    return length / (time.perf_counter() - start)


def conv_pair():
    """bench/graphs/conv.yaml: the CNN's two convolutions, its first max-pool between them, a
    global average pool for the mse."""
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())


def conv_step_flops(batch):
    # As gradflow_bench.cpp: forward and weight gradient of both convolutions, input gradient of
    # conv2 only.
    conv1, conv2 = 28 * 28 * 32 * 9, 14 * 14 * 64 * 32 * 9
    return 2.0 * batch * (2 * conv1 + 3 * conv2)


def step(model, opt, loss_fn, x, y):
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    return loss


def time_steps(model, opt, loss_fn, x, y, steps, reps):
    for _ in range(max(3, steps // 10)):
        step(model, opt, loss_fn, x, y)
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(steps):
            step(model, opt, loss_fn, x, y)
        out.append((time.perf_counter() - start) / steps)
    return out


def mlp_step_flops(batch, widths):
    # As gradflow_bench.cpp: forward and weight gradient everywhere, input gradient after layer 1.
    return sum((2 if l == 0 else 3) * 2.0 * batch * widths[l] * widths[l + 1]
               for l in range(len(widths) - 1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workload", choices=["xor", "mnist", "cnn", "mobilenet", "conv", "large", "wide", "sgemm", "first_step",
                                              "transformer", "attention", "generate", "lstm"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--samples", type=int, default=60000)
    p.add_argument("--seq", type=int, default=128, help="attention: the sequence length T")
    p.add_argument("--prompt", type=int, default=1, help="generate: prompt length in bytes")
    p.add_argument("--length", type=int, default=64, help="generate: bytes to sample")
    p.add_argument("--init", help="xor: JSON of initial weights from gradflow-bench --trace")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {"side": "torch", "workload": a.workload, "threads": a.threads}

    if a.workload in ("xor", "first_step"):
        model = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        x = torch.tensor([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
        y = torch.tensor([[0.], [1.], [1.], [0.]])
        if a.workload == "first_step":
            step(model, opt, F.mse_loss, x, y)
            out["samples"] = []
        else:
            if a.init:
                init = json.load(open(a.init))["init"]
                with torch.no_grad():
                    for layer, name in ((model[0], "fc1"), (model[2], "fc2")):
                        layer.weight.copy_(torch.tensor(init[name + ".weight"]).view_as(layer.weight))
                        layer.bias.copy_(torch.tensor(init[name + ".bias"]).view_as(layer.bias))
                out["losses"] = [step(model, opt, F.mse_loss, x, y).item() for _ in range(5)]
            out.update(batch=4, metric="s_per_step",
                       samples=time_steps(model, opt, F.mse_loss, x, y, a.steps or 20000, a.reps))
    elif a.workload == "mnist":
        batch = a.batch or 64
        x, y = synthetic_pixels(a.samples)
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(1)
        times = []
        for _ in range(a.reps):
            start = time.perf_counter()
            total = 0.0
            perm = torch.randperm(a.samples, generator=gen)
            for i in range(0, a.samples, batch):
                idx = perm[i:i + batch]
                total += step(model, opt, F.cross_entropy, to_unit(x[idx]), y[idx]).item() * len(idx)
            times.append(time.perf_counter() - start)
        out.update(batch=batch, metric="s_per_epoch", samples=times, final_loss=total / a.samples)
    elif a.workload in ("cnn", "mobilenet"):
        # As gradflow_bench.cpp's cnn and mobilenet: `steps` shuffled batches (default an epoch) per repetition,
        # after 3 warm-up steps; train() mode (batch statistics, dropout); seconds per step.
        batch = a.batch or 64
        x, y = synthetic_pixels(a.samples)
        x = x.view(a.samples, 1, 28, 28)
        model = (fashion_cnn() if a.workload == "cnn" else mobilenet()).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3 if a.workload == "cnn" else 2e-3)
        gen = torch.Generator().manual_seed(1)
        per_epoch = (a.samples + batch - 1) // batch
        n = min(a.steps, per_epoch) if a.steps else per_epoch
        loss = 0.0

        def run(count):
            nonlocal loss
            perm = torch.randperm(a.samples, generator=gen)
            for i in range(0, count * batch, batch):
                idx = perm[i:i + batch]
                loss = step(model, opt, F.cross_entropy, to_unit(x[idx]), y[idx]).item()

        run(min(3, n))
        times = []
        for _ in range(a.reps):
            start = time.perf_counter()
            run(n)
            times.append((time.perf_counter() - start) / n)
        out.update(batch=batch, metric="s_per_step", steps=n, samples=times, final_loss=loss)
    elif a.workload in ("transformer", "lstm"):
        # As gradflow_bench.cpp's transformer: `steps` shuffled batch-32 steps a repetition (the
        # calls of an epoch: gather the windows, forward, loss read, backward, AdamW) after 3
        # warm-up steps, over `samples` windows of synthetic bytes (default the 18,117 windows
        # of the fortunes training part); seconds per step. lstm: the same steps of
        # bench/twins/fortunes_lstm_torch.py's ByteLSTM (torch's own CPU LSTM kernel) with Adam 2e-3.
        batch, T = a.batch or 32, 128
        n = a.samples if a.samples != 60000 else 18117
        corpus = synthetic_bytes(n, T)
        if a.workload == "lstm":
            from fortunes_lstm_torch import ByteLSTM
            model = ByteLSTM().train()
            opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        else:
            model = ByteTransformer().train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
        gen = torch.Generator().manual_seed(1)
        steps = a.steps or 20
        loss = 0.0

        def run(count):
            nonlocal loss
            perm = torch.randperm(n, generator=gen)
            for i in range(0, count * batch, batch):
                xb, yb = byte_windows(corpus, perm[i:i + batch], T)
                opt.zero_grad(set_to_none=True)
                out = token_loss(model(xb), yb)
                out.backward()
                opt.step()
                loss = out.item()

        run(3)
        times = []
        for _ in range(a.reps):
            start = time.perf_counter()
            run(steps)
            times.append((time.perf_counter() - start) / steps)
        out.update(batch=batch, metric="s_per_step", steps=steps, samples=times, final_loss=loss,
                   flops_per_step=transformer_step_flops(batch) if a.workload == "transformer" else None)
    elif a.workload == "attention":
        # One causal attention layer, forward and backward (projections, input gradient), mse and
        # SGD (bench/graphs/attention_t*.yaml); fixed batch; seconds per step.
        T = a.seq
        batch = a.batch or (32 if T <= 128 else 8)
        x, t = attention_inputs(batch, T)
        model = PositionAttention(T).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        out.update(batch=batch, seq=T, metric="s_per_step",
                   samples=time_steps(model, opt, F.mse_loss, x, t, a.steps or 20, a.reps))
    elif a.workload == "generate":
        # Sampling speed of the transformer, random initial weights, eval mode: bytes per second
        # after a synthetic prompt of `prompt` bytes.
        T = 128
        model = ByteTransformer().eval()
        prompt = synthetic_bytes(1, T)[:a.prompt].tolist()
        generate_rate(model, prompt, 2, T)  # warm-up
        out.update(prompt=a.prompt, length=a.length, metric="bytes_per_s", kv_cache=False,
                   samples=[generate_rate(model, prompt, a.length, T, seed=r) for r in range(a.reps)])
    elif a.workload == "conv":
        batch = a.batch or 64
        x, t = synthetic_images(batch)
        model = conv_pair()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        flops = conv_step_flops(batch)
        s = time_steps(model, opt, F.mse_loss, x, t, a.steps or 20, a.reps)
        out.update(batch=batch, metric="gflops", flops_per_step=flops, samples=[flops / v / 1e9 for v in s])
    elif a.workload in ("large", "wide"):
        large = a.workload == "large"
        batch = a.batch or (1024 if large else 256)
        x, y = synthetic(batch)
        if large:
            model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                                  nn.Linear(1024, 10))
        else:
            model = Wide()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        t = time_steps(model, opt, F.cross_entropy, x, y, a.steps or (10 if large else 50), a.reps)
        out["batch"] = batch
        if large:
            flops = mlp_step_flops(batch, [784, 1024, 1024, 10])
            out.update(metric="gflops", flops_per_step=flops, samples=[flops / s / 1e9 for s in t])
        else:
            out.update(metric="s_per_step", samples=t)
    elif a.workload == "sgemm":
        # torch.mm, and numpy's matmul (libblas.so.3, from the OpenMP build's directory on the peer's
        # LD_LIBRARY_PATH; OMP_NUM_THREADS from run.py).
        n, calls = a.batch or 1024, a.steps or 20
        out.update(batch=n, metric="gflops")
        mats = {"torch": (torch.full((n, n), 0.5), torch.full((n, n), 0.25), torch.mm)}
        try:
            import numpy as np
            mats["numpy"] = (np.full((n, n), 0.5, np.float32), np.full((n, n), 0.25, np.float32), np.matmul)
        except ImportError:
            pass
        for name, (A, B, mm) in mats.items():
            mm(A, B)
            rates = []
            for _ in range(a.reps):
                start = time.perf_counter()
                for _ in range(calls):
                    mm(A, B)
                rates.append(2.0 * n ** 3 * calls / (time.perf_counter() - start) / 1e9)
            out["samples_" + name] = rates
        out["samples"] = max((out["samples_" + k] for k in mats), key=lambda s: sorted(s)[len(s) // 2])
    if a.workload != "first_step":  # first_step times the whole process: nothing extra there
        out["blas"] = peer_env.blas_report()
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
