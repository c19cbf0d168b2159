#!/usr/bin/python3
"""Writes tests/framework/train/torch_lr_schedule_reference.hpp, the learning rates that
tests/framework/train/test_training_schedule.cpp checks every schedule kind against: torch.optim.lr_scheduler's
lr in every epoch (epoch 1 first) as exact doubles (repr), for an optimizer with base lr 0.1 and
one with base lr 0.003 (two param groups, as two gradflow optimizers).

    /usr/bin/python3 tests/reference/torch_lr_schedule_reference.py > tests/framework/train/torch_lr_schedule_reference.hpp

Each case is a graph's train.lr_schedule; CASES, BASES and PLATEAU_LOSSES must stay identical to
the test's schedule_case(), kBaseLrs and kPlateauLosses.
"""
import warnings

import generated_header as gh  # before torch: it pins OpenBLAS's kernels

import torch
from torch.optim import lr_scheduler as S

warnings.filterwarnings("ignore")
EPOCHS = 12
BASES = [0.1, 0.003]
# Validation losses fed to the plateau scheduler, one per epoch.
PLATEAU_LOSSES = [1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.85, 0.85, 0.86, 0.87, 0.88, 0.80]

CASES = {
    "step": dict(kind="step", step_size=3, gamma=0.5),
    "multistep": dict(kind="multistep", milestones=[2, 5, 5, 9], gamma=0.3),
    "exponential": dict(kind="exponential", gamma=0.9),
    "cosine": dict(kind="cosine", t_max=5, eta_min=0.001),  # past t_max it rises again, as torch's does
    "cosine_rest": dict(kind="cosine", eta_min=0.0),
    "cosine_warmup": dict(kind="cosine", warmup_epochs=3, eta_min=0.0005),
    "step_warmup": dict(kind="step", warmup_epochs=2, warmup_start_factor=0.25, step_size=4, gamma=0.1),
    "plateau": dict(kind="plateau", factor=0.5, patience=1, threshold=1e-4),
}


def main_scheduler(opt, c, epochs_after_warmup):
    kind = c["kind"]
    if kind == "step":
        return S.StepLR(opt, step_size=c["step_size"], gamma=c.get("gamma", 0.1))
    if kind == "multistep":
        return S.MultiStepLR(opt, milestones=c["milestones"], gamma=c.get("gamma", 0.1))
    if kind == "exponential":
        return S.ExponentialLR(opt, gamma=c["gamma"])
    if kind == "cosine":
        return S.CosineAnnealingLR(opt, T_max=c.get("t_max", epochs_after_warmup), eta_min=c.get("eta_min", 0.0))
    raise ValueError(kind)


def lrs_of(c):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in BASES]
    opt = torch.optim.SGD([{"params": [p], "lr": b} for p, b in zip(params, BASES)], lr=BASES[0])
    warm = c.get("warmup_epochs", 0)
    if c["kind"] == "plateau":
        sched = S.ReduceLROnPlateau(opt, mode="min", factor=c["factor"], patience=c["patience"],
                                    threshold=c["threshold"])
    elif warm:
        linear = S.LinearLR(opt, start_factor=c.get("warmup_start_factor", 0.1), total_iters=warm)
        main = main_scheduler(opt, c, max(1, EPOCHS - warm))
        sched = S.SequentialLR(opt, [linear, main], milestones=[warm])
    else:
        sched = main_scheduler(opt, c, EPOCHS)
    out = []
    for epoch in range(EPOCHS):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        if c["kind"] == "plateau":
            sched.step(PLATEAU_LOSSES[epoch])
        else:
            sched.step()
    return out


print(gh.first_line(__file__))
print("""#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace gradflow::test {

struct TorchLrs {
  std::string schedule;
  size_t group;
  std::vector<double> per_epoch;
};

inline const std::vector<TorchLrs> kTorchLrs{""")
for name, c in CASES.items():
    print(f"    // {name}: {c}")
    for group in range(len(BASES)):
        print(f'    {{"{name}", {group}, {gh.doubles(row[group] for row in lrs_of(c))}}},')
print("};\n\n}  // namespace gradflow::test")
