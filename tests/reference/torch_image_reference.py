#!/usr/bin/python3
"""Writes tests/operators/torch_image_reference.hpp, the torch numbers that
tests/operators/test_conv.cpp and tests/operators/test_pooling.cpp check the image operators
against (conv2d, max_pool2d, avg_pool2d, global_avg_pool).

    /usr/bin/python3 tests/reference/torch_image_reference.py > tests/operators/torch_image_reference.hpp

Each case names its attributes, the input shape and torch's output, input gradient and
(conv2d) weight and bias gradients. The inputs are not stored: x, the weights and the output
gradient follow fixed formulas (pattern() below), which tests/operators/image_cases.hpp
computes the same way.
"""
import math

import generated_header as gh  # before torch: it pins OpenBLAS's kernels

import torch


def pattern(shape, phase, scale):
    """Value i (row-major) is scale·sin(0.37·i + phase), rounded to float32 as C++ does."""
    n = math.prod(shape)
    return torch.tensor([scale * math.sin(0.37 * i + phase) for i in range(n)], dtype=torch.float32).reshape(shape)


cpp = gh.floats


def shape_text(shape):
    return "{" + ", ".join(str(d) for d in shape) + "}"


# name, input shape [N, C, H, W], attributes (the C++ test sets them as given; a pair is [h, w])
CONV = [
    ("conv_stride_pad_dilation", [2, 3, 6, 7],
     dict(out_channels=4, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=1, bias=True)),
    ("conv_groups", [2, 4, 5, 5],
     dict(out_channels=6, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=2, bias=True)),
    ("conv_1x1_no_bias", [3, 3, 4, 4],
     dict(out_channels=2, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=False)),
    # depthwise (groups = channels = out_channels): gradflow's tap-by-tap kernel, not im2col
    ("conv_depthwise_stride2", [2, 4, 7, 6],
     dict(out_channels=4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=4, bias=True)),
    ("conv_depthwise_dilation_no_bias", [2, 3, 6, 7],
     dict(out_channels=3, kernel_size=(3, 2), stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=3, bias=False)),
]

POOL = [
    ("max_k2", [2, 2, 5, 6], "max", dict(kernel_size=(2, 2), stride=None, padding=(0, 0), ceil_mode=False)),
    ("max_k3_s2_p1_ceil", [2, 2, 6, 7], "max", dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True)),
    ("max_k3x2_s2x1_p1x0", [1, 3, 5, 5], "max", dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=False)),
    ("avg_k3_s2_p1_ceil_incl", [2, 2, 6, 7], "avg",
     dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True, count_include_pad=True)),
    ("avg_k3_s2_p1_ceil_excl", [2, 2, 6, 7], "avg",
     dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True, count_include_pad=False)),
    ("avg_k2_s3_ceil", [1, 2, 5, 5], "avg",
     dict(kernel_size=(2, 2), stride=(3, 3), padding=(0, 0), ceil_mode=True, count_include_pad=True)),
    ("avg_k3x2_s2x1_p1x0_excl", [1, 3, 5, 5], "avg",
     dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=False, count_include_pad=False)),
]


def attr_value(value):
    """An attribute as the C++ test's Overrides hold it (an IntPair is a list of 2, a number a double)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"int64_t{{{value}}}"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return f'std::string("{value}")'
    if isinstance(value[0], float):
        return f"std::vector<double>{{{value[0]!r}, {value[1]!r}}}"
    return f"std::vector<int64_t>{{{value[0]}, {value[1]}}}"


def overrides(attrs):
    items = [f'{{"{k}", {attr_value(v)}}}' for k, v in attrs.items() if v is not None]
    return "{" + ", ".join(items) + "}"


def print_case(name, op, attrs, shape, y, grads):
    print(f"// {name}")
    print("{" + f'"{name}", "{op}", {overrides(attrs)},')
    print(f"  {shape_text(shape)}, {cpp(y)},")
    print("  {" + ",\n   ".join(cpp(g) if g is not None else "{}" for g in grads) + "}},")


def conv_cases():
    for name, shape, a in CONV:
        conv = torch.nn.Conv2d(shape[1], a["out_channels"], a["kernel_size"], a["stride"], a["padding"],
                               a["dilation"], a["groups"], a["bias"])
        with torch.no_grad():
            conv.weight.copy_(pattern(conv.weight.shape, 1.0, 0.5))
            if a["bias"]:
                conv.bias.copy_(pattern(conv.bias.shape, 2.0, 0.5))
        x = pattern(shape, 0.1, 1.0).requires_grad_()
        y = conv(x)
        y.backward(pattern(y.shape, 0.5, 1.0))
        print_case(name, "conv2d", a, shape, y, [x.grad, conv.weight.grad, conv.bias.grad if a["bias"] else None])


def pool_cases():
    for name, shape, kind, a in POOL:
        if kind == "max":
            pool = torch.nn.MaxPool2d(a["kernel_size"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"])
        else:
            pool = torch.nn.AvgPool2d(a["kernel_size"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"],
                                      count_include_pad=a["count_include_pad"])
        x = pattern(shape, 0.1, 1.0).requires_grad_()
        y = pool(x)
        y.backward(pattern(y.shape, 0.5, 1.0))
        print_case(name, f"{kind}_pool2d", a, shape, y, [x.grad])
    x = pattern([2, 3, 4, 5], 0.1, 1.0).requires_grad_()
    y = x.mean(dim=(2, 3))
    y.backward(pattern(y.shape, 0.5, 1.0))
    print_case("global_avg", "global_avg_pool", {}, [2, 3, 4, 5], y, [x.grad])


if __name__ == "__main__":
    print(gh.first_line(__file__))
    print("// Each case: name, op, attributes, input shape [N, C, H, W], torch's output, then its gradients")
    print("// (input; conv2d: input, weight, bias) for the output gradient pattern(y, 0.5, 1.0).")
    print("#pragma once\n")
    print('#include "image_cases.hpp"\n')
    print("namespace gradflow::test {\n")
    print("inline const std::vector<TorchCase> kTorchConvCases{")
    conv_cases()
    print("};\n")
    print("inline const std::vector<TorchCase> kTorchPoolCases{")
    pool_cases()
    print("};\n")
    print("}  // namespace gradflow::test")
