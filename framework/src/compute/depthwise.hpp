// Depthwise convolution (groups = channels = out_channels: MobileNet's and EfficientNet's 3x3
// layers) computed tap by tap on each channel's plane. Through im2col it costs a copy of every
// input value per tap and one sgemm of a single output row per channel, most of a MobileNet
// step; here each tap is one pass of multiply-adds over the rows it reaches. Serial per sample,
// so Conv2d's fixed sample tiles keep every result bit-identical at any thread count.
#pragma once

#include "compute/conv.hpp"

namespace gradflow::kernels {

// groups = channels = out_channels: one filter per channel.
bool is_depthwise(const ConvShape& s);

// y [C, OH, OW] of one sample x [C, H, W], weight [C, 1, kh, kw]; plus bias [C] when not null.
void depthwise_forward(const ConvShape& s, const float* x, const float* weight, const float* bias, float* y);
// gx [C, H, W] of one sample (assigned) from its gy [C, OH, OW].
void depthwise_input_gradient(const ConvShape& s, const float* weight, const float* gy, float* gx);
// gw [C, 1, kh, kw] from one sample: assigned, or added to when `accumulate`.
void depthwise_weight_gradient(const ConvShape& s, const float* x, const float* gy, float* gw, bool accumulate);

}  // namespace gradflow::kernels
