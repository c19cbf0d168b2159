// Gradient clipping (train.clip_grad_norm, train.clip_grad_value) with the semantics of
// torch.nn.utils.clip_grad_norm_ and clip_grad_value_, over the gradients of one optimizer.
// Deterministic: the norm's sum runs over fixed tiles in a fixed order, so the result is the
// same bit for bit at any thread count.
#pragma once

#include <span>

#include "gradflow/tensor.hpp"

namespace gradflow {

// Scales every gradient by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the
// 2-norm of the per-tensor 2-norms (float32, as torch computes them). Returns total_norm.
float clip_grad_norm(std::span<Tensor* const> gradients, double max_norm);

// Clamps every gradient value to [-clip_value, clip_value] (NaN stays NaN, as torch.clamp_).
void clip_grad_value(std::span<Tensor* const> gradients, double clip_value);

}  // namespace gradflow
