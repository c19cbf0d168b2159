#!/usr/bin/env python3
"""Writes tests/operators/torch_batch_norm_reference.hpp, the torch numbers that
tests/operators/test_batch_norm.cpp checks batch_norm against: torch.nn.BatchNorm1d/2d in
training and in evaluation, forward and backward of L = sum(output * R).

    /usr/bin/python3 tests/reference/torch_batch_norm_reference.py > tests/operators/torch_batch_norm_reference.hpp

Inputs are formulas the test builds the same way: x[i] = sin(0.7 i) * 2 + 0.1 i, R[i] = cos(1.3 i),
weight 0.5 + 0.25 c, bias -0.1 c.
"""
import math

import generated_header as gh  # before torch: it pins OpenBLAS's kernels

import torch

cpp = gh.floats


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
    training = (f'    // training, input {list(shape)}\n'
                f'    {{"{name}", {cpp(y)}, {cpp(x.grad)}, {cpp(module.weight.grad)}, {cpp(module.bias.grad)}, '
                f'{cpp(module.running_mean)}, {cpp(module.running_var)}}},')
    module.eval()
    evaluation = (f'    // evaluation with the running statistics of the training case\n'
                  f'    {{"{name} eval", {cpp(module(x))}}},')
    return training, evaluation


cases = [case("batch_norm_2d", torch.nn.BatchNorm2d(2, momentum=0.2), (3, 2, 2, 2)),
         case("batch_norm_1d", torch.nn.BatchNorm1d(3), (4, 3))]
print(gh.first_line(__file__))
print("""#pragma once

#include <string>
#include <vector>

namespace gradflow::test {

struct BatchNormTorchTraining {
  std::string name;
  std::vector<float> output, grad_x, grad_weight, grad_bias, running_mean, running_var;
};
struct BatchNormTorchEval {
  std::string name;
  std::vector<float> output;
};

inline const std::vector<BatchNormTorchTraining> kBatchNormTorchTraining{""")
print("\n".join(training for training, _ in cases))
print("};\n\ninline const std::vector<BatchNormTorchEval> kBatchNormTorchEval{")
print("\n".join(evaluation for _, evaluation in cases))
print("};\n\n}  // namespace gradflow::test")
