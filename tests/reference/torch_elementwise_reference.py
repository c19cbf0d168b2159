"""Writes tests/operators/torch_elementwise_reference.hpp, the torch numbers that
tests/operators/test_elementwise.cpp checks the elementwise operators of issue 24 against: torch
1.13 in float32, the forward and the gradient of L = sum(out * R) for every input, for the
broadcasting binary ops (every operand stretching, maximum's ties), the unary math ops and
activations at their edge points (relu6 at 0 and 6, hardswish at -3, abs at 0, clamp at its
bounds, log and sqrt at 0 and below), and softmax/log_softmax on every axis.

    /usr/bin/python3 tests/reference/torch_elementwise_reference.py > tests/operators/torch_elementwise_reference.hpp

Shapes are batch first (batch 2). hardswish's gradient at +3 is left out: torch's scalar and
vectorised paths give 1.5 and 1.0, so torch's own number depends on where 3 falls in a vector.
"""
import math

import generated_header as gh  # before torch: it pins OpenBLAS's kernels

import torch
import torch.nn.functional as F

torch.manual_seed(24)
NAN = float("nan")
F32 = torch.float32

# Edge points of every unary op, and values around them (no +3, see above).
EDGES = [-25.0, -6.5, -6.0, -4.0, -3.0, -2.5, -1.0, -0.5, -1e-3, 0.0,
         1e-3, 0.3, 0.5, 1.0, 2.5, 2.9, 4.0, 6.0, 6.5, 25.0]

UNARY = {
    "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "abs": torch.abs, "neg": torch.neg,
    "reciprocal": torch.reciprocal, "erf": torch.erf, "sin": torch.sin, "cos": torch.cos,
    "pow_3": lambda x: x ** 3.0, "pow_2": lambda x: x ** 2.0, "pow_half": lambda x: x ** 0.5,
    "pow_neg1_5": lambda x: x ** -1.5, "pow_0": lambda x: x ** 0.0,
    "clamp": lambda x: torch.clamp(x, -0.5, 2.5), "clamp_min": lambda x: torch.clamp(x, min=-0.5),
    "clamp_max": lambda x: torch.clamp(x, max=2.5),
    "relu6": F.relu6, "hardsigmoid": F.hardsigmoid, "hardswish": F.hardswish, "silu": F.silu,
    "mish": F.mish, "selu": F.selu, "elu": F.elu, "elu_half": lambda x: F.elu(x, 0.5),
    "celu": F.celu, "celu_2": lambda x: F.celu(x, 2.0), "softplus": F.softplus,
    "softplus_beta": lambda x: F.softplus(x, beta=2.0, threshold=3.0),
}

# (name, function, sample shapes of the inputs): every operand stretches somewhere.
BINARY = [
    ("add", torch.add, [[3, 1, 4], [2, 1]]),
    ("add3", lambda a, b, c: a + b + c, [[3, 1, 4], [2, 1], [4]]),
    ("sub", torch.sub, [[3, 1, 4], [2, 1]]),
    ("mul", torch.mul, [[2, 1, 3], [4, 1]]),
    ("mul_gate", torch.mul, [[3, 4, 5], [3, 1, 1]]),
    ("mul_scalar", torch.mul, [[1], [2, 3]]),
    ("div", torch.div, [[3, 1], [1, 4]]),
    ("maximum", torch.maximum, [[3, 1], [4]]),
    ("minimum", torch.minimum, [[4], [3, 4]]),
]

SOFTMAX = [(f"{name}_axis{axis}", f, axis) for name, f in (("softmax", F.softmax), ("log_softmax", F.log_softmax))
           for axis in (0, 1, -1)]


def case(name, inputs, f):
    inputs = [t.clone().requires_grad_(True) for t in inputs]
    # Sample shapes broadcast, not batched ones: lower-rank samples get their 1s after the batch.
    rank = max(t.dim() for t in inputs)
    out = f(*[t.reshape([t.shape[0]] + [1] * (rank - t.dim()) + list(t.shape[1:])) for t in inputs])
    weights = torch.rand(out.shape, dtype=F32) * 2 - 1
    (out * weights).sum().backward()
    grads = ", ".join(floats(t.grad) for t in inputs)
    shapes = ", ".join("{" + ", ".join(str(d) for d in t.shape) + "}" for t in inputs)
    values = ", ".join(floats(t.detach()) for t in inputs)
    print(f"    {{\"{name}\", {{{{{shapes}}}, {{{values}}}, {floats(weights)}, {floats(out.detach())}, {{{grads}}}}}}},")


def literal(v):
    if math.isnan(v):
        return "kNaN"
    if math.isinf(v):
        return "kInf" if v > 0 else "-kInf"
    return gh.float_literal(v)


def floats(t):
    return "{" + ", ".join(literal(v) for v in torch.as_tensor(t).reshape(-1).tolist()) + "}"


print(gh.first_line(__file__))
print("#pragma once\n#include <limits>\n#include <map>\n#include <string>\n#include <vector>\n"
      "#include \"gradflow/tensor.hpp\"\nnamespace gradflow::test {")
print("struct ElementwiseCase {\n  std::vector<Shape> shapes;  // batch first\n"
      "  std::vector<std::vector<float>> inputs;\n  std::vector<float> weights, output;  // L = sum(output * weights)\n"
      "  std::vector<std::vector<float>> grads;  // dL/d(input)\n};")
print("inline const std::map<std::string, ElementwiseCase>& elementwise_cases() {")
print("  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();")
print("  constexpr float kInf = std::numeric_limits<float>::infinity();")
print("  static const std::map<std::string, ElementwiseCase> cases = {")
edges = torch.tensor(EDGES, dtype=F32).reshape(2, 10)
for name, f in UNARY.items():
    case(name, [edges], f)
for name, f, shapes in BINARY:
    inputs = [torch.rand([2] + s, dtype=F32) * 3 - 1.5 for s in shapes]
    if name == "div":
        inputs[1] = inputs[1].abs() + 0.5  # a divisor away from 0
    case(name, inputs, f)
# Ties split the gradient in half; NaN wins the value and lets the gradient pass to both.
ties_a = torch.tensor([[1.0, 2.0, -1.0], [NAN, 0.5, 3.0]], dtype=F32)
ties_b = torch.tensor([[1.0, 3.0, -1.0], [2.0, 0.5, NAN]], dtype=F32)
case("maximum_ties", [ties_a, ties_b], torch.maximum)
case("minimum_ties", [ties_a, ties_b], torch.minimum)
x = torch.rand([2, 3, 4, 5], dtype=F32) * 6 - 3
for name, f, axis in SOFTMAX:
    case(name, [x], lambda t, f=f, axis=axis: f(t, dim=axis + 1 if axis >= 0 else axis))
print("  };\n  return cases;\n}")
print("}  // namespace gradflow::test")
