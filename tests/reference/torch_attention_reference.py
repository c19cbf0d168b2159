"""Prints the multihead_attention reference numbers of tests/operators/test_attention.cpp:
torch 1.13's nn.MultiheadAttention(batch_first=True, need_weights=False) on fixed weights and
input, its output, every gradient of L = sum(out * R) and one SGD step (lr 0.1).
Run with Debian's torch: /usr/bin/python3 tests/reference/torch_attention_reference.py"""
import math

import torch

B, T, E, H = 2, 5, 8, 2


def formula(n, f):
    return torch.tensor([f(i) for i in range(n)], dtype=torch.float32)


def fmt(t):
    return "{" + ", ".join(f"{v:.9g}f" for v in t.detach().flatten().tolist()) + "}"


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
