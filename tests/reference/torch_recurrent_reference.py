"""Writes tests/operators/torch_recurrent_reference.hpp, the torch numbers that
tests/operators/test_recurrent.cpp checks lstm and gru against: torch 1.13's nn.LSTM / nn.GRU
(batch_first=True, zero initial states) on parameters and input given by formulas (the test
rebuilds them), 1 and 2 layers, one direction or two, the whole sequence or each direction's
final hidden state (h_n[-D:]), with and without bias: the output and every gradient of
L = sum(out * R).

    /usr/bin/python3 tests/reference/torch_recurrent_reference.py > tests/operators/torch_recurrent_reference.hpp
"""
import math

import generated_header as gh  # before torch: it pins OpenBLAS's kernels

import torch

B, T, I, H = 2, 4, 3, 5
CASES = [  # op, num_layers, bidirectional, bias, last
    ("lstm", 1, False, True, False),
    ("lstm", 2, True, True, False),
    ("lstm", 2, False, False, True),
    ("lstm", 1, True, True, True),
    ("gru", 1, False, True, False),
    ("gru", 2, True, True, False),
    ("gru", 2, False, False, True),
    ("gru", 1, True, True, True),
]


def formula(n, f):
    return torch.tensor([f(i) for i in range(n)], dtype=torch.float32)


fmt = gh.floats

print(gh.first_line(__file__))
print("""// For each case the output and the gradients of L = sum(out * R) with respect to x, then every
// parameter in torch's order. Parameter k, element i: 0.3 sin(0.37 i + 0.5 k + 0.1); x element i:
// sin(0.7 i) + 0.1 cos(0.3 i); R element i: cos(1.3 i). B = 2, T = 4, I = 3, H = 5.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gradflow::test {

struct RecurrentTorchCase {
  std::string op;
  int64_t num_layers;
  bool bidirectional, bias, last;
  std::vector<float> output;
  std::vector<std::vector<float>> grads;
};

inline const std::vector<RecurrentTorchCase> kRecurrentTorchCases{""")
for op, layers, bidirectional, bias, last in CASES:
    module = (torch.nn.LSTM if op == "lstm" else torch.nn.GRU)(
        I, H, num_layers=layers, bias=bias, batch_first=True, bidirectional=bidirectional)
    with torch.no_grad():
        for k, p in enumerate(module.parameters()):
            p.copy_(formula(p.numel(), lambda i: 0.3 * math.sin(0.37 * i + 0.5 * k + 0.1)).view_as(p))
    x = formula(B * T * I, lambda i: math.sin(0.7 * i) + 0.1 * math.cos(0.3 * i)).view(B, T, I).requires_grad_()
    seq, state = module(x)
    h_n = state[0] if op == "lstm" else state
    d = 2 if bidirectional else 1
    out = torch.cat(list(h_n[-d:]), dim=1) if last else seq
    r = formula(out.numel(), lambda i: math.cos(1.3 * i)).view_as(out)
    (out * r).sum().backward()
    grads = [x.grad] + [p.grad for p in module.parameters()]
    flags = ", ".join(str(v).lower() for v in (bidirectional, bias, last))
    print(f"    {{\"{op}\", {layers}, {flags}, {fmt(out)},")
    print("     {" + ", ".join(fmt(g) for g in grads) + "}},")
print("};\n\n}  // namespace gradflow::test")
