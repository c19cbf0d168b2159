"""Writes tests/operators/torch_shape_reference.hpp, the torch numbers that
tests/operators/test_shape_ops.cpp checks against: torch 1.13 in float32, the output and the
gradient of every input (and of a parameter's weight) for L = sum(out * R), of the shape and
structure operators (transpose, reshape, flatten, squeeze, unsqueeze, concat, slice, pad,
reduce_sum/mean/max, matmul, parameter). Inputs are closed formulas that the test rebuilds:
input k of a case holds value(j + 100 k) at flat position j (batch first), R holds cos(1.3 j).

    /usr/bin/python3 tests/reference/torch_shape_reference.py > tests/operators/torch_shape_reference.hpp
"""
import math

import generated_header as gh  # before torch: it pins OpenBLAS's kernels

import torch
import torch.nn.functional as F


def value(j):
    return math.sin(0.7 * j) * 2.0 + 0.1 * (j % 7)


def tied(j):
    """Values with many ties (reduce_max's gradient is split among them)."""
    return float(math.floor(2.0 * math.sin(1.1 * j)))


def formula(shape, f, offset=0):
    n = math.prod(shape)
    return torch.tensor([f(j + offset) for j in range(n)], dtype=torch.float32).reshape(shape)


def per_sample(f):
    """f applied to each sample, stacked: the semantics of an op over sample shapes."""
    return lambda *xs: torch.stack([f(*(x[i] for x in xs)) for i in range(xs[0].shape[0])])


# name: (input shapes, batch first; the function over batched tensors; the values' formula)
CASES = {
    "transpose": ([[2, 3, 4, 5]], lambda x: x.permute(0, 3, 1, 2), value),
    "transpose_2d": ([[2, 4, 3]], lambda x: x.permute(0, 2, 1), value),
    "reshape_zero": ([[2, 3, 4]], lambda x: x.reshape(2, 3, 2, 2), value),
    "flatten_middle": ([[2, 2, 3, 4]], lambda x: torch.flatten(x, 2, 3), value),
    "squeeze_axis": ([[2, 1, 3, 1]], lambda x: x.squeeze(3), value),
    "squeeze_all": ([[2, 1, 3, 1]], lambda x: x.reshape(2, 3), value),
    "unsqueeze": ([[2, 3]], lambda x: x.reshape(2, 1, 3, 1), value),
    "concat_first": ([[2, 1, 4], [2, 3, 4]], lambda a, b: torch.cat([a, b], 1), value),
    "concat_middle": ([[2, 3, 2, 4], [2, 3, 1, 4], [2, 3, 3, 4]], lambda a, b, c: torch.cat([a, b, c], 2), value),
    "slice_step": ([[2, 7, 3]], lambda x: x[:, 1:-1:2], value),
    "slice_negative_start": ([[2, 5]], lambda x: x[:, -3:], value),
    "slice_past_end": ([[2, 6, 2]], lambda x: x[:, 2:100:3], value),
    "pad_constant": ([[2, 3, 4]], lambda x: F.pad(x, [1, 2, 0, 1], value=0.5), value),
    "pad_negative": ([[2, 3, 5]], lambda x: F.pad(x, [-1, 2]), value),
    "pad_reflect": ([[2, 2, 4, 5]], lambda x: F.pad(x, [2, 1, 1, 3], mode="reflect"), value),
    "pad_replicate": ([[2, 2, 4, 5]], lambda x: F.pad(x, [1, 2, 2, 0], mode="replicate"), value),
    "reduce_sum": ([[2, 3, 4, 5]], lambda x: x.sum(dim=(1, 3)), value),
    "reduce_mean_keepdims": ([[2, 3, 4]], lambda x: x.mean(dim=-1, keepdim=True), value),
    "reduce_mean_all": ([[2, 3, 4]], lambda x: x.mean(dim=(1, 2)), value),
    "reduce_max": ([[2, 3, 4]], lambda x: torch.amax(x, dim=1), tied),
    "reduce_max_all_keepdims": ([[2, 3, 4]], lambda x: torch.amax(x, dim=(1, 2), keepdim=True), tied),
    "matmul": ([[2, 3, 4], [2, 4, 5]], per_sample(torch.matmul), value),
    "matmul_broadcast": ([[2, 2, 1, 3, 4], [2, 3, 4, 2]], per_sample(torch.matmul), value),
    "matmul_vector_left": ([[2, 4], [2, 3, 4, 5]], per_sample(torch.matmul), value),
    "matmul_vector_right": ([[2, 3, 4], [2, 4]], per_sample(torch.matmul), value),
    "matmul_dot": ([[2, 4], [2, 4]], per_sample(torch.matmul), value),
    # a parameter [3, 4] holding value(j), repeated over a batch of 2: its input is the weight.
    "parameter": ([[3, 4]], lambda w: w.unsqueeze(0).expand(2, 3, 4), value),
}

print(gh.first_line(__file__))
print("#pragma once\n#include <map>\n#include <string>\n#include <vector>\nnamespace gradflow::test {")
print("// Per case: the output, then the gradient of each input in order.")
print("const std::map<std::string, std::vector<std::vector<float>>> kShapeReference = {")
for name, (shapes, f, values) in CASES.items():
    inputs = [formula(s, values, 100 * k).requires_grad_() for k, s in enumerate(shapes)]
    out = f(*inputs)
    r = formula(list(out.shape), lambda j: math.cos(1.3 * j))
    (out * r).sum().backward()
    parts = [gh.floats(out)] + [gh.floats(x.grad) for x in inputs]
    print(f"    {{\"{name}\", {{{', '.join(parts)}}}}},")
print("};\n}  // namespace gradflow::test")
