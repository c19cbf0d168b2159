"""Writes tests/operators/torch_attention_reference.hpp, the torch numbers that
tests/operators/test_attention.cpp checks multihead_attention against: torch 1.13's
nn.MultiheadAttention(batch_first=True, need_weights=False) on fixed weights and input given by
formulas (the test rebuilds them), its output, every gradient of L = sum(out * R) and one SGD
step (lr 0.1), causal or not, with and without bias.

    /usr/bin/python3 tests/reference/torch_attention_reference.py > tests/operators/torch_attention_reference.hpp
"""
import math

import generated_header as gh  # before torch: it pins OpenBLAS's kernels

import torch

B, T, E, H = 2, 5, 8, 2


def formula(n, f):
    return torch.tensor([f(i) for i in range(n)], dtype=torch.float32)


fmt = gh.floats

print(gh.first_line(__file__))
print("""// For each case the output, the gradients of L = sum(out * R) with respect to x, in_proj_weight,
// in_proj_bias, out_proj.weight, out_proj.bias (those that exist), and in_proj_weight and
// out_proj.weight after one SGD step with lr 0.1.
#pragma once

#include <string>
#include <vector>

namespace gradflow::test {

struct AttentionTorchCase {
  std::string name;
  bool causal, bias;
  std::vector<float> output;
  std::vector<std::vector<float>> grads;
  std::vector<std::vector<float>> after_step;
};

inline const std::vector<AttentionTorchCase> kAttentionTorchCases{""")
for causal, bias in [(False, True), (True, True), (True, False)]:
    m = torch.nn.MultiheadAttention(E, H, bias=bias, batch_first=True)
    with torch.no_grad():
        m.in_proj_weight.copy_(formula(3 * E * E, lambda i: 0.3 * math.sin(0.37 * i + 0.1)).view(3 * E, E))
        m.out_proj.weight.copy_(formula(E * E, lambda i: 0.3 * math.cos(0.53 * i)).view(E, E))
        if bias:
            m.in_proj_bias.copy_(formula(3 * E, lambda i: 0.05 * math.cos(0.9 * i)))
            m.out_proj.bias.copy_(formula(E, lambda i: 0.1 * math.sin(1.1 * i)))
    x = formula(B * T * E, lambda i: math.sin(0.7 * i) + 0.1 * math.cos(0.3 * i)).view(B, T, E).requires_grad_()
    r = formula(B * T * E, lambda i: math.cos(1.3 * i)).view(B, T, E)
    mask = torch.triu(torch.full((T, T), float("-inf")), diagonal=1) if causal else None
    out, _ = m(x, x, x, attn_mask=mask, need_weights=False)
    (out * r).sum().backward()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    opt.step()
    grads = [x.grad] + [p.grad for p in m.parameters()]
    after = [m.in_proj_weight, m.out_proj.weight]
    name = f"causal {causal}, bias {bias}"
    print(f"    {{\"{name}\", {str(causal).lower()}, {str(bias).lower()}, {fmt(out)},")
    print("     {" + ", ".join(fmt(g) for g in grads) + "},")
    print("     {" + ", ".join(fmt(a) for a in after) + "}},")
print("};\n\n}  // namespace gradflow::test")
