"""Writes tests/operators/torch_sequence_reference.hpp, the torch numbers that
tests/operators/test_embedding.cpp, tests/operators/test_layer_norm.cpp and
tests/operators/test_gelu.cpp check against (through tests/operators/sequence_cases.hpp):
torch 1.13 in float32, forward, gradients of L = sum(out * R) and one SGD step (lr 0.1), from
inputs given by closed formulas that the tests rebuild.

    /usr/bin/python3 tests/reference/torch_sequence_reference.py > tests/operators/torch_sequence_reference.hpp
"""
import math

import generated_header as gh  # before torch: it pins OpenBLAS's kernels

import torch

print(gh.first_line(__file__))
print("#pragma once\n#include <map>\n#include <string>\n#include <vector>\nnamespace gradflow::test {")


def formula(n, f):
    return torch.tensor([f(i) for i in range(n)], dtype=torch.float32)


def inp(i):
    return math.sin(0.7 * i) * 2.0 + 0.1 * i


def r_at(i):
    return math.cos(1.3 * i)


def show(name, t):
    vals = ", ".join(gh.float_literal(v) for v in t.detach().flatten().tolist())
    print(f"    {{\"{name}\", {{{vals}}}}},")


def one_step(module, x, name, x_grad=True):
    out = module(x)
    r = formula(out.numel(), r_at).reshape(out.shape)
    (out * r).sum().backward()
    print(f"const std::map<std::string, std::vector<float>> k{name} = {{")
    show("output", out)
    if x_grad:
        show("grad_x", x.grad)
    params = list(module.named_parameters())
    for pname, p in params:
        show(f"grad_{pname}", p.grad)
    if params:
        torch.optim.SGD(module.parameters(), lr=0.1).step()
    for pname, p in params:
        show(f"{pname}_after_step", p)
    print("};")


# embedding: num 5, dim 3, weight[k] = 0.1*k - 0.5 + sin(k); ids [2, 4] with repeats.
emb = torch.nn.Embedding(5, 3)
with torch.no_grad():
    emb.weight.copy_(formula(15, lambda k: 0.1 * k - 0.5 + math.sin(k)).reshape(5, 3))
ids = torch.tensor([[1, 3, 1, 0], [4, 1, 3, 3]])
one_step(emb, ids, "Embedding", x_grad=False)

# positional_embedding: max_length 5, E 3, x [2, 4, 3]: x + weight[:4].
pos = torch.nn.Embedding(5, 3)
with torch.no_grad():
    pos.weight.copy_(formula(15, lambda k: 0.2 * math.cos(k)).reshape(5, 3))
x = formula(24, inp).reshape(2, 4, 3).requires_grad_()


class Pos(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        self.weight = p.weight

    def forward(self, x):
        return x + self.weight[: x.shape[1]]


one_step(Pos(pos), x, "Positional")

# layer_norm over D 5 of x [2, 3, 5], weight 0.5+0.25k, bias -0.1k; and without affine.
ln = torch.nn.LayerNorm(5)
with torch.no_grad():
    ln.weight.copy_(formula(5, lambda k: 0.5 + 0.25 * k))
    ln.bias.copy_(formula(5, lambda k: -0.1 * k))
x = formula(30, inp).reshape(2, 3, 5).requires_grad_()
one_step(ln, x, "LayerNorm")
x = formula(30, inp).reshape(2, 3, 5).requires_grad_()
one_step(torch.nn.LayerNorm(5, elementwise_affine=False), x, "LayerNormPlain")

# gelu: x [2, 7] = (i - 7) * 0.61, both forms.
for approximate in ("none", "tanh"):
    x = formula(14, lambda i: (i - 7) * 0.61).reshape(2, 7).requires_grad_()
    one_step(torch.nn.GELU(approximate=approximate), x, "Gelu" + approximate.capitalize())
print("}  // namespace gradflow::test")
