// 2-D pooling over batches of [C, H, W] samples, torch.nn.MaxPool2d / AvgPool2d numerics
// (padding, ceil_mode, count_include_pad) and the global average. Parallel over whole planes
// (one channel of one sample) in tiles fixed by the shape; every output is computed by one
// thread in a fixed order, so results are bit-identical for any thread count.
#pragma once

#include <array>
#include <cstdint>

namespace gradflow::kernels {

struct PoolShape {
  int64_t channels = 1, height = 1, width = 1;  // the input sample [C, H, W]
  std::array<int64_t, 2> kernel{1, 1}, stride{1, 1}, padding{0, 0};
  bool ceil_mode = false;
  bool count_include_pad = true;  // average only: divide by the window's size inside the padded input

  int64_t out_height() const;
  int64_t out_width() const;
};

// y [batch, C, OH, OW]: the largest value of each window (NaN wins, as in torch); argmax the
// index of that value within its [H, W] plane, for the backward pass.
void max_pool_forward(const PoolShape& s, const float* x, int64_t batch, float* y, int32_t* argmax);
// Assigns gx [batch, C, H, W]: each gy value goes to its window's argmax.
void max_pool_backward(const PoolShape& s, const float* gy, const int32_t* argmax, int64_t batch, float* gx);

void avg_pool_forward(const PoolShape& s, const float* x, int64_t batch, float* y);
void avg_pool_backward(const PoolShape& s, const float* gy, int64_t batch, float* gx);

// y [planes] = the mean of each plane of `area` values; the backward spreads gy evenly.
void global_avg_pool_forward(const float* x, int64_t planes, int64_t area, float* y);
void global_avg_pool_backward(const float* gy, int64_t planes, int64_t area, float* gx);

// Adaptive average pooling (torch.nn.AdaptiveAvgPool2d) of [C, H, W] samples to [C, OH, OW]:
// output i of an axis of `in` averages the inputs [floor(i·in/out), ceil((i+1)·in/out)),
// torch's start and end indices, so windows overlap when out does not divide in.
struct AdaptiveShape {
  int64_t channels = 1, height = 1, width = 1;
  int64_t out_height = 1, out_width = 1;
};

void adaptive_avg_pool_forward(const AdaptiveShape& s, const float* x, int64_t batch, float* y);
void adaptive_avg_pool_backward(const AdaptiveShape& s, const float* gy, int64_t batch, float* gx);

}  // namespace gradflow::kernels
