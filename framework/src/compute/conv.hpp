// 2-D convolution over batches of [C, H, W] samples, torch.nn.Conv2d's numerics and layouts:
// weight [out, C/groups, kh, kw], output [N, out, OH, OW]. im2col per sample into a reused
// per-thread buffer and one serial sgemm per group, over tiles of samples fixed by the shape,
// so every result is bit-identical for any thread count.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "compute/thread_scratch.hpp"

namespace gradflow::kernels {

struct ConvShape {
  int64_t channels = 1, height = 1, width = 1;  // the input sample [C, H, W]
  int64_t out_channels = 1;
  std::array<int64_t, 2> kernel{1, 1}, stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;

  int64_t out_height() const;
  int64_t out_width() const;
  int64_t positions() const { return out_height() * out_width(); }  // OH·OW
  int64_t group_rows() const { return channels / groups * kernel[0] * kernel[1]; }  // K of one group's product
  int64_t group_out() const { return out_channels / groups; }
  // Multiply-adds of one sample's forward pass.
  double macs_per_sample() const;
};

class Conv2d {
 public:
  explicit Conv2d(const ConvShape& shape);

  // y [batch, out, OH, OW] = conv(x [batch, C, H, W], weight) + bias (bias may be null).
  void forward(const float* x, int64_t batch, const float* weight, const float* bias, float* y);
  // Assigns gw [out, C/g, kh, kw], gb [out] (when not null) and gx [batch, C, H, W] (when not
  // null) from gy [batch, out, OH, OW]. Sums over the batch run in a fixed order. When y is not
  // null it also assigns y = conv(x) without bias from the same im2col columns, as forward
  // would (conv_transpose2d's backward: its input gradient beside its weight gradient).
  void backward(const float* x, int64_t batch, const float* weight, const float* gy, float* gx, float* gw,
                float* gb, float* y = nullptr);

  // Assigns gx [batch, C, H, W] from gy [batch, out, OH, OW] alone (the data path of
  // backward, without the weight gradient): conv_transpose2d's forward pass.
  void input_gradient(const float* weight, const float* gy, int64_t batch, float* gx);

  // Samples per parallel tile of the forward pass: fixed by the shape alone, never the thread
  // count. The backward pass's tiles (one weight-gradient partial sum each) are at least this
  // large and at most 32 per batch, fixed by the shape and the batch size.
  int64_t samples_per_tile() const { return tile_; }

 private:
  // Sizes the im2col buffer of every thread slot before the tiles start (`direct`: a 1x1
  // kernel that reads the input as it is needs none).
  void reserve_buffers();
  void forward_sample(const float* x, const float* weight, const float* bias, float* y);
  // y of one sample from its im2col columns (or its input, when direct).
  void product(const float* col, const float* weight, const float* bias, float* y) const;
  void backward_tile(const float* x, int64_t begin, int64_t end, const float* weight, const float* gy, float* gx,
                     float* gw_partial, float* y);
  // gx of one sample from its gy, through `buffer` (the thread's im2col buffer; null when direct).
  void input_gradient_sample(const float* weight, const float* gy, float* gx, float* buffer);
  void reduce_partials(int64_t tiles, float* gw) const;
  // im2col buffers: neither a direct conv nor a depthwise one (compute/depthwise.hpp) needs one.
  bool uses_columns() const { return !direct_ && !depthwise_; }

  ConvShape s_;
  bool direct_;      // 1x1 kernel, stride 1, no padding: the input already is its im2col
  bool depthwise_;   // one filter per channel: computed tap by tap, without im2col
  int64_t col_size_;  // C·kh·kw rows of OH·OW positions
  int64_t tile_;
  ThreadScratch columns_{"conv2d"};  // im2col columns, one buffer per thread slot
  std::vector<float> partials_;              // weight gradients of tiles 1.. (tile 0 writes gw itself)
};

// gb[o] = Σ over the batch and the plane of y [batch, channels, positions] of channel o: a bias
// gradient, each channel summed by one thread in a fixed order.
void channel_sums(const float* gy, int64_t batch, int64_t channels, int64_t positions, float* gb);

// torch.nn.ConvTranspose2d as the adjoint of a convolution: `adjoint` is the Conv2d that maps
// the transpose's output [out, OH, OW] back to its input [C, H, W] (its channels are the
// transpose's out_channels, its out_channels the transpose's C), and the weight
// [C, out/groups, kh, kw] is that conv's weight as it stands. The forward pass is that conv's
// input gradient (gemm, then col2im), the input gradient its forward pass, the weight gradient
// its weight gradient with input and output exchanged: the same fixed tiles, bit-identical for
// any thread count.
class ConvTranspose2d {
 public:
  explicit ConvTranspose2d(const ConvShape& adjoint) : conv_(adjoint), s_(adjoint) {}

  // y [batch, out, OH, OW] from x [batch, C, H, W], plus bias [out] when not null.
  void forward(const float* x, int64_t batch, const float* weight, const float* bias, float* y);
  // Assigns gw, gb (when not null) and gx (when not null) from gy [batch, out, OH, OW].
  void backward(const float* x, int64_t batch, const float* weight, const float* gy, float* gx, float* gw,
                float* gb);

 private:
  Conv2d conv_;
  ConvShape s_;
};

}  // namespace gradflow::kernels
