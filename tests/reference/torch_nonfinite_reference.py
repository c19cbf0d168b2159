"""Writes tests/operators/torch_nonfinite_reference.hpp, the torch numbers that
tests/operators/test_nonfinite_activations.cpp checks every activation against for NaN and
infinite inputs: torch 1.13 in float32, the forward and the gradient of L = sum(out * R) for
x = kInputs (3 rows of 3: NaN, infinities, finite values) and R = kWeights.

    /usr/bin/python3 tests/reference/torch_nonfinite_reference.py > tests/operators/torch_nonfinite_reference.hpp
"""
import math

import generated_header as gh  # before torch: it pins OpenBLAS's kernels

import torch

NAN, INF = float("nan"), float("inf")
INPUTS = [[NAN, 1.5, -2.0], [INF, -INF, 0.0], [-INF, 0.0, 1.0]]
WEIGHTS = [[0.5, -1.0, 2.0], [0.25, 1.0, -0.75], [1.5, -0.5, 0.125]]


def literal(v):
    if math.isnan(v):
        return "kNaN"
    if math.isinf(v):
        return "kInf" if v > 0 else "-kInf"
    return gh.float_literal(v)


def floats(t):
    return "{" + ", ".join(literal(v) for v in torch.as_tensor(t).reshape(-1).tolist()) + "}"


ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda x: torch.nn.functional.leaky_relu(x, 0.01),
    "gelu": lambda x: torch.nn.functional.gelu(x),
    "gelu_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
    "softmax": lambda x: torch.softmax(x, dim=-1),
    # step is 1 where x >= 0, else 0, as torch.heaviside(x, 1) (NaN stays NaN); its backward is
    # the identity (straight-through), so its gradient is R itself.
    "step": lambda x: torch.heaviside(x.detach(), torch.tensor(1.0)),
    # Issue 24's activations and unary math.
    "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
    "clamp": lambda x: torch.clamp(x, -1.0, 1.0),
    "relu6": torch.nn.functional.relu6,
    "hardsigmoid": torch.nn.functional.hardsigmoid,
    "hardswish": torch.nn.functional.hardswish,
    "silu": torch.nn.functional.silu,
    "mish": torch.nn.functional.mish,
    "selu": torch.nn.functional.selu,
    "elu": torch.nn.functional.elu,
    "celu": torch.nn.functional.celu,
    "softplus": torch.nn.functional.softplus,
    "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "abs": torch.abs, "neg": torch.neg,
    "reciprocal": torch.reciprocal, "erf": torch.erf, "sin": torch.sin, "cos": torch.cos,
    "pow": lambda x: x ** 3.0,
}

print(gh.first_line(__file__))
print("#pragma once\n#include <limits>\n#include <map>\n#include <string>\n#include <vector>\n"
      "namespace gradflow::test {")
print("constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();")
print("constexpr float kInf = std::numeric_limits<float>::infinity();")
print(f"const std::vector<float> kNonfiniteInputs = {floats(INPUTS)};")
print(f"const std::vector<float> kNonfiniteWeights = {floats(WEIGHTS)};")
print("struct NonfiniteCase {\n  std::vector<float> output, grad;\n};")
print("const std::map<std::string, NonfiniteCase> kNonfiniteCases = {")
for name, f in ACTIVATIONS.items():
    x = torch.tensor(INPUTS, requires_grad=True)
    out = f(x)
    if out.requires_grad:
        (out * torch.tensor(WEIGHTS)).sum().backward()
    grad = torch.tensor(WEIGHTS) if name == "step" else x.grad
    print(f"    {{\"{name}\", {{{floats(out.detach())}, {floats(grad)}}}}},")
print("};")
print("}  // namespace gradflow::test")
