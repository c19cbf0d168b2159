#!/usr/bin/env python3
"""Reference values for tests/operators/test_normalization.cpp: torch.nn.BatchNorm1d/2d in
training and in evaluation, forward and backward of L = sum(output * R).

Inputs are formulas the test builds the same way: x[i] = sin(0.7 i) * 2 + 0.1 i, R[i] = cos(1.3 i).
Usage: python3 tests/reference/torch_normalization_reference.py
"""
import math

import torch


def cpp(values):
    flat = torch.as_tensor(values).detach().reshape(-1).tolist()
    return "{" + ", ".join(f"{v:.9g}f" for v in flat) + "}"


def formula(shape, f):
    n = math.prod(shape)
    return torch.tensor([f(i) for i in range(n)], dtype=torch.float32).reshape(shape)


def case(name, module, shape):
    x = formula(shape, lambda i: math.sin(0.7 * i) * 2 + 0.1 * i).requires_grad_(True)
    r = formula(shape, lambda i: math.cos(1.3 * i))
    with torch.no_grad():
        module.weight.copy_(formula(module.weight.shape, lambda i: 0.5 + 0.25 * i))
        module.bias.copy_(formula(module.bias.shape, lambda i: -0.1 * i))
    module.train()
    y = module(x)
    (y * r).sum().backward()
    print(f'// {name}: training, input {list(shape)}')
    print(f'{{"{name}", {cpp(y)}, {cpp(x.grad)}, {cpp(module.weight.grad)}, {cpp(module.bias.grad)}, '
          f'{cpp(module.running_mean)}, {cpp(module.running_var)}}},')
    module.eval()
    print(f'// {name}: evaluation with the running statistics above')
    print(f'{{"{name} eval", {cpp(module(x))}}},')


case("batch_norm_2d", torch.nn.BatchNorm2d(2, momentum=0.2), (3, 2, 2, 2))
case("batch_norm_1d", torch.nn.BatchNorm1d(3), (4, 3))
