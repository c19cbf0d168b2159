#!/usr/bin/python3
"""Writes tests/framework/train/torch_clipping_reference.hpp, the torch numbers that
tests/framework/train/test_training_schedule.cpp checks gradient clipping against:
torch.nn.utils.clip_grad_norm_ and clip_grad_value_, on gradients alone and in one training step.

    /usr/bin/python3 tests/reference/torch_clipping_reference.py > tests/framework/train/torch_clipping_reference.hpp

The inputs (the small gradient, large(), X, Y) must stay identical to the test's.
"""
import generated_header as gh  # before torch: it pins OpenBLAS's kernels

import torch

cpp = gh.floats
lit = gh.float_literal


def large(n):
    """A large gradient the test builds the same way: ((i * 7919) % 1000 - 500) / 1000."""
    return torch.tensor([((i * 7919) % 1000 - 500) / 1000.0 for i in range(n)], dtype=torch.float32)


# ---- on gradients alone ---------------------------------------------------------------
def clip_grad_norm_rows():
    for max_norm in (1.0, 100.0):
        a = torch.nn.Parameter(torch.zeros(4))
        b = torch.nn.Parameter(torch.zeros(40000))
        a.grad = torch.tensor([0.1, -0.4, 0.25, 1.0])
        b.grad = large(40000)
        total = torch.nn.utils.clip_grad_norm_([a, b], max_norm)
        yield (f"    {{{max_norm}, {lit(float(total))}, {cpp(a.grad)}, "
               f"{{{lit(float(b.grad[0]))}, {lit(float(b.grad[12345]))}, {lit(float(b.grad[39999]))}}}}},")


def clip_grad_value():
    a = torch.nn.Parameter(torch.zeros(4))
    a.grad = torch.tensor([0.1, -0.4, 0.25, 1.0])
    torch.nn.utils.clip_grad_value_([a], 0.3)
    return cpp(a.grad)


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


# By the graph's train: keys that ask for the same clipping.
STEPS = {
    "clip_grad_norm: 0.5": (lambda p: torch.optim.SGD(p, lr=0.5),
                            lambda ps: torch.nn.utils.clip_grad_norm_(ps, 0.5)),
    "clip_grad_value: 0.4": (lambda p: torch.optim.SGD(p, lr=0.5),
                             lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.4)),
}


def step_rows():
    for name, (make_opt, clip) in STEPS.items():
        w, b = one_step(make_opt, clip)
        yield f'    {{"{name}", {cpp(w)}, {cpp(b)}}},'


print(gh.first_line(__file__))
print("""#pragma once

#include <string>
#include <vector>

namespace gradflow::test {

// clip_grad_norm_ of a (4 values) and b (40,000): the total norm, a after clipping, and b[0],
// b[12345], b[39999] after clipping.
struct TorchClipGradNorm {
  double max_norm;
  float total;
  std::vector<float> a, b;
};
inline const std::vector<TorchClipGradNorm> kTorchClipGradNorm{""")
print("\n".join(clip_grad_norm_rows()))
print(f"""}};

// a after clip_grad_value_(0.3).
inline const std::vector<float> kTorchClipGradValue{clip_grad_value()};

// nn.Linear(3, 2) from zeros, MSE, SGD lr 0.5, one step on X, Y with clipped gradients: weight
// and bias after the step, by the graph's train: keys.
struct TorchClippedStep {{
  std::string train;
  std::vector<float> weight, bias;
}};
inline const std::vector<TorchClippedStep> kTorchClippedSteps{{""")
print("\n".join(step_rows()))
print("};\n\n}  // namespace gradflow::test")
