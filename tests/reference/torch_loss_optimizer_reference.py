#!/usr/bin/python3
"""Writes tests/operators/torch_loss_optimizer_reference.hpp, the torch numbers that
tests/operators/test_losses.cpp and tests/operators/test_optimizers.cpp check against: every
loss's value and gradient at both reductions, and every optimizer's parameter over 3 steps.

    /usr/bin/python3 tests/reference/torch_loss_optimizer_reference.py > tests/operators/torch_loss_optimizer_reference.hpp

The inputs below (PRED, TARGET, ..., PARAM, GRADS) must stay identical to those tests' kPred,
kTarget, ..., kParam, kGrads.
"""
import generated_header as gh  # before torch: it pins OpenBLAS's kernels

import torch

cpp = gh.floats


# ---- losses: batch of 2 samples of shape [3] ------------------------------------------
PRED = [[0.2, -1.3, 0.7], [1.5, 0.1, -0.4]]
TARGET = [[0.5, -1.0, 2.0], [1.0, 0.3, -0.4]]
PROB = [[0.1, 0.8, 0.45], [0.9, 0.3, 0.6]]
BINARY_TARGET = [[0.0, 1.0, 0.3], [1.0, 0.0, 1.0]]
CLASS_INDEX = [2, 0]
CLASS_PROBS = [[0.1, 0.6, 0.3], [0.7, 0.2, 0.1]]

LOSSES = {
    "mse": (lambda r: torch.nn.MSELoss(reduction=r), PRED, TARGET),
    "huber": (lambda r: torch.nn.HuberLoss(reduction=r), PRED, TARGET),
    "huber_delta_0.5": (lambda r: torch.nn.HuberLoss(reduction=r, delta=0.5), PRED, TARGET),
    "bce": (lambda r: torch.nn.BCELoss(reduction=r), PROB, BINARY_TARGET),
    "bce_with_logits": (lambda r: torch.nn.BCEWithLogitsLoss(reduction=r), PRED, BINARY_TARGET),
    "cross_entropy_index": (lambda r: torch.nn.CrossEntropyLoss(reduction=r), PRED, CLASS_INDEX),
    "cross_entropy_probs": (lambda r: torch.nn.CrossEntropyLoss(reduction=r), PRED, CLASS_PROBS),
}


def losses():
    """The rows of kTorchLosses, by "<loss> reduction=<mean|sum>"."""
    for name, (make, pred, target) in LOSSES.items():
        for reduction in ("mean", "sum"):
            p = torch.tensor(pred, dtype=torch.float32, requires_grad=True)
            dtype = torch.int64 if name == "cross_entropy_index" else torch.float32
            t = torch.tensor(target, dtype=dtype)
            loss = make(reduction)(p, t)
            loss.backward()
            yield f'    {{"{name} reduction={reduction}", {{{gh.float_literal(loss.item())}, {cpp(p.grad)}}}}},'


# ---- cross_entropy over sequences: 2 samples of logits [T=3, C=4], targets [3] ------------
SEQ_LOGITS = [[[0.2, -1.3, 0.7, 0.0], [1.5, 0.1, -0.4, 2.2], [-0.6, 0.9, 0.3, -1.1]],
              [[0.8, 0.8, -2.0, 0.5], [-0.3, 1.7, 0.2, 0.4], [1.1, -0.9, 0.6, 0.05]]]
SEQ_INDEX = [[3, 0, 1], [2, 1, 0]]


def sequence_losses():
    for reduction in ("mean", "sum"):
        p = torch.tensor(SEQ_LOGITS, dtype=torch.float32, requires_grad=True)
        t = torch.tensor(SEQ_INDEX, dtype=torch.int64)
        loss = torch.nn.CrossEntropyLoss(reduction=reduction)(p.reshape(-1, 4), t.reshape(-1))
        loss.backward()
        yield (f'    {{"cross_entropy_sequence reduction={reduction}", '
               f'{{{gh.float_literal(loss.item())}, {cpp(p.grad)}}}}},')


# ---- optimizers: 3 steps on a fixed parameter with fixed gradients ----------------------
PARAM = [0.5, -1.2, 0.3, 2.0]
GRADS = [[0.1, -0.4, 0.25, 1.0], [-0.3, 0.2, 0.05, 0.8], [0.6, -0.1, -0.2, 0.5]]

OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "sgd_momentum_wd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
    "sgd_wd": lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01),
    "adam": lambda p: torch.optim.Adam(p, lr=0.1),
    "adam_wd": lambda p: torch.optim.Adam(p, lr=0.1, weight_decay=0.1),
    "adam_betas": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), eps=1e-3),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.1),
    "adamw_wd": lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.1),
}


def optimizers():
    """The rows of kTorchOptimizerSteps, by optimizer case."""
    for name, make in OPTIMIZERS.items():
        param = torch.nn.Parameter(torch.tensor(PARAM, dtype=torch.float32))
        opt = make([param])
        steps = []
        for grad in GRADS:
            param.grad = torch.tensor(grad, dtype=torch.float32)
            opt.step()
            steps.append(cpp(param))
        yield f'    {{"{name}", {{{", ".join(steps)}}}}},'


if __name__ == "__main__":
    print(gh.first_line(__file__))
    print("""#pragma once

#include <map>
#include <string>
#include <vector>

namespace gradflow::test {

struct TorchLoss {
  float value;
  std::vector<float> grad;  // d loss / d prediction
};

// By "<case> reduction=<mean|sum>".
inline const std::map<std::string, TorchLoss> kTorchLosses{""")
    print("\n".join([*losses(), *sequence_losses()]))
    print("""};

// By optimizer case: the parameter after steps 1, 2 and 3.
inline const std::map<std::string, std::vector<std::vector<float>>> kTorchOptimizerSteps{""")
    print("\n".join(optimizers()))
    print("};\n\n}  // namespace gradflow::test")
