#!/usr/bin/python3
"""Writes tests/operators/torch_spatial_reference.hpp, the torch numbers that
tests/operators/test_spatial.cpp checks the spatial tensor operators against (conv1d,
max_pool1d, avg_pool1d, adaptive_avg_pool2d, global_avg_pool with keepdims, conv_transpose2d,
upsample).

    /usr/bin/python3 tests/reference/torch_spatial_reference.py > tests/operators/torch_spatial_reference.hpp

Each case is written as torch_image_reference.py writes its own (the same TorchCase, the same
pattern() inputs, weights and output gradient, tests/operators/image_cases.hpp): attributes,
input shape, torch's output, input gradient and (convolutions) weight and bias gradients.
"""
import generated_header as gh  # before torch: it pins OpenBLAS's kernels

import torch

import torch_image_reference as image
from torch_image_reference import pattern


CONV1D = [
    ("conv1d_stride_pad_dilation", [2, 3, 9],
     dict(out_channels=4, kernel_size=3, stride=2, padding=1, dilation=2, groups=1, bias=True)),
    ("conv1d_groups_no_bias", [2, 4, 7],
     dict(out_channels=6, kernel_size=2, stride=1, padding=0, dilation=1, groups=2, bias=False)),
]

POOL1D = [
    ("max1d_k3_s2_p1_ceil", [2, 2, 10], "max", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max1d_k2", [1, 3, 7], "max", dict(kernel_size=2, stride=None, padding=0, ceil_mode=False)),
    ("avg1d_k3_s2_p1_ceil_excl", [2, 2, 9], "avg",
     dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("avg1d_k4_s1_p2_incl", [1, 2, 6], "avg",
     dict(kernel_size=4, stride=1, padding=2, ceil_mode=False, count_include_pad=True)),
]

ADAPTIVE = [
    ("adaptive_3x3_of_7x5", [2, 2, 7, 5], (3, 3)),
    ("adaptive_2x3_of_4x6", [1, 3, 4, 6], (2, 3)),
    ("adaptive_1_of_5x4", [2, 3, 5, 4], 1),
]

CONV_TRANSPOSE = [
    ("convt_stride_pad_outpad_dilation", [2, 2, 4, 3],
     dict(out_channels=4, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), output_padding=(1, 0), groups=1,
          dilation=(1, 2), bias=True)),
    ("convt_groups_no_bias", [2, 4, 3, 3],
     dict(out_channels=6, kernel_size=(3, 3), stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=2,
          dilation=(1, 1), bias=False)),
    ("convt_1x1", [2, 3, 3, 4],
     dict(out_channels=2, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=1,
          dilation=(1, 1), bias=True)),
    ("convt_stride3_pad2", [1, 2, 3, 3],
     dict(out_channels=3, kernel_size=(4, 4), stride=(3, 3), padding=(2, 2), output_padding=(2, 1), groups=1,
          dilation=(1, 1), bias=True)),
]

UPSAMPLE = [
    ("nearest_2", [2, 2, 3, 4], dict(scale_factor=2.0, mode="nearest")),
    ("nearest_1_5", [1, 2, 3, 4], dict(scale_factor=1.5, mode="nearest")),
    ("nearest_3", [1, 2, 3, 2], dict(scale_factor=3.0, mode="nearest")),
    ("bilinear_2", [2, 2, 3, 4], dict(scale_factor=2.0, mode="bilinear", align_corners=False)),
    ("bilinear_1_5", [1, 2, 3, 4], dict(scale_factor=1.5, mode="bilinear", align_corners=False)),
    ("bilinear_2_5_align", [1, 2, 3, 4], dict(scale_factor=2.5, mode="bilinear", align_corners=True)),
    ("bilinear_0_5", [1, 2, 6, 5], dict(scale_factor=0.5, mode="bilinear", align_corners=False)),
    ("nearest_2x1_5", [1, 2, 3, 4], dict(scale_factor=(2.0, 1.5), mode="nearest")),
    ("bilinear_1_5x3_align", [1, 2, 3, 4], dict(scale_factor=(1.5, 3.0), mode="bilinear", align_corners=True)),
]


def run(name, op, attrs, shape, module):
    """Forward pattern(shape) through `module` (weights already set) and backward pattern(y)."""
    x = pattern(shape, 0.1, 1.0).requires_grad_()
    y = module(x)
    y.backward(pattern(y.shape, 0.5, 1.0))
    grads = [x.grad] + [p.grad for p in module.parameters()]
    image.print_case(name, op, attrs, shape, y, grads)


def with_pattern_weights(module):
    """The weight pattern(·, 1.0, 0.5) and the bias pattern(·, 2.0, 0.5), as the C++ test sets them."""
    with torch.no_grad():
        for p, phase in zip(module.parameters(), (1.0, 2.0)):
            p.copy_(pattern(p.shape, phase, 0.5))
    return module


class Function(torch.nn.Module):
    """A parameterless function as a module, so that run() treats it as the others."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def cases():
    for name, shape, a in CONV1D:
        conv = torch.nn.Conv1d(shape[1], a["out_channels"], a["kernel_size"], a["stride"], a["padding"], a["dilation"],
                               a["groups"], a["bias"])
        run(name, "conv1d", a, shape, with_pattern_weights(conv))
    for name, shape, kind, a in POOL1D:
        if kind == "max":
            pool = torch.nn.MaxPool1d(a["kernel_size"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"])
        else:
            pool = torch.nn.AvgPool1d(a["kernel_size"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"],
                                      count_include_pad=a["count_include_pad"])
        run(name, f"{kind}_pool1d", a, shape, pool)
    for name, shape, size in ADAPTIVE:
        run(name, "adaptive_avg_pool2d", dict(output_size=size), shape, torch.nn.AdaptiveAvgPool2d(size))
    run("global_keepdims", "global_avg_pool", dict(keepdims=True), [2, 3, 4, 5],
        Function(lambda x: x.mean(dim=(2, 3), keepdim=True)))
    for name, shape, a in CONV_TRANSPOSE:
        conv = torch.nn.ConvTranspose2d(shape[1], a["out_channels"], a["kernel_size"], a["stride"], a["padding"],
                                        a["output_padding"], a["groups"], a["bias"], a["dilation"])
        run(name, "conv_transpose2d", a, shape, with_pattern_weights(conv))
    for name, shape, a in UPSAMPLE:
        run(name, "upsample", a, shape, torch.nn.Upsample(**a))


if __name__ == "__main__":
    print(gh.first_line(__file__))
    print("// Each case: name, op, attributes, input shape, torch's output, then its gradients")
    print("// (input; convolutions: input, weight, bias) for the output gradient pattern(y, 0.5, 1.0).")
    print("#pragma once\n")
    print('#include "image_cases.hpp"\n')
    print("namespace gradflow::test {\n")
    print("inline const std::vector<TorchCase> kTorchSpatialCases{")
    cases()
    print("};\n")
    print("}  // namespace gradflow::test")
