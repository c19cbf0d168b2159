#!/usr/bin/env python3
"""Reference values for tests/framework/test_gradient_clipping.cpp: torch.nn.utils.clip_grad_norm_
and clip_grad_value_, on gradients alone and in one training step.

Usage: python3 tests/reference/torch_clipping.py (prints C++ initializer lists; keep the inputs identical
to the test's).
"""
import torch


def cpp(values):
    flat = torch.as_tensor(values).detach().reshape(-1).tolist()
    return "{" + ", ".join(f"{v:.9g}f" for v in flat) + "}"


def large(n):
    """A large gradient the test builds the same way: ((i * 7919) % 1000 - 500) / 1000."""
    return torch.tensor([((i * 7919) % 1000 - 500) / 1000.0 for i in range(n)], dtype=torch.float32)


# ---- on gradients alone ---------------------------------------------------------------
for max_norm in (1.0, 100.0, 1000.0):
    a = torch.nn.Parameter(torch.zeros(4))
    b = torch.nn.Parameter(torch.zeros(40000))
    a.grad = torch.tensor([0.1, -0.4, 0.25, 1.0])
    b.grad = large(40000)
    total = torch.nn.utils.clip_grad_norm_([a, b], max_norm)
    print(f"// clip_grad_norm_ max_norm {max_norm}: total norm, a, b[0], b[12345], b[39999]")
    print(f"{{{max_norm}, {float(total):.9g}f, {cpp(a.grad)}, "
          f"{{{float(b.grad[0]):.9g}f, {float(b.grad[12345]):.9g}f, {float(b.grad[39999]):.9g}f}}}},")

a = torch.nn.Parameter(torch.zeros(4))
a.grad = torch.tensor([0.1, -0.4, 0.25, 1.0])
torch.nn.utils.clip_grad_value_([a], 0.3)
print("// clip_grad_value_ 0.3:", cpp(a.grad))

# ---- one training step: linear 3 -> 2 from zeros, mse, batch of 4 ------------------------
X = [[0.5, -1.0, 2.0], [1.5, 0.2, -0.3], [-0.7, 0.8, 0.1], [0.0, 1.0, -1.0]]
Y = [[1.0, -2.0], [0.5, 3.0], [-1.0, 0.0], [2.0, 1.0]]


def one_step(make_opt, clip):
    fc = torch.nn.Linear(3, 2)
    torch.nn.init.zeros_(fc.weight)
    torch.nn.init.zeros_(fc.bias)
    opt = make_opt(fc.parameters())
    loss = torch.nn.functional.mse_loss(fc(torch.tensor(X)), torch.tensor(Y))
    loss.backward()
    clip(list(fc.parameters()))
    opt.step()
    return fc.weight, fc.bias


STEPS = {
    "sgd clip_grad_norm 0.5": (lambda p: torch.optim.SGD(p, lr=0.5),
                               lambda ps: torch.nn.utils.clip_grad_norm_(ps, 0.5)),
    "sgd clip_grad_value 0.4": (lambda p: torch.optim.SGD(p, lr=0.5),
                                lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.4)),
}
for name, (make_opt, clip) in STEPS.items():
    w, b = one_step(make_opt, clip)
    print(f'{{"{name}", {cpp(w)}, {cpp(b)}}},')
