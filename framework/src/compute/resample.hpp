// Upsampling of batches of [C, H, W] samples by a scale factor, torch.nn.Upsample's numerics
// (torch 1.13, upsample_nearest2d and upsample_bilinear2d on the CPU): the source rows and
// columns and their weights are computed once per shape, as torch computes them in float;
// planes run in parallel in tiles fixed by the shape, each output written by one thread in a
// fixed order, so results are bit-identical for any thread count.
#pragma once

#include <cstdint>
#include <vector>

namespace gradflow::kernels {

enum class ResampleMode { Nearest, Bilinear };

struct ResampleShape {
  int64_t channels = 1, height = 1, width = 1;
  ResampleMode mode = ResampleMode::Nearest;
  bool align_corners = false;                  // bilinear only
  double scale_height = 1.0, scale_width = 1.0;  // the user's factors (output = floor(in·scale))

  int64_t out_height() const;
  int64_t out_width() const;
};

class Resample {
 public:
  explicit Resample(const ResampleShape& shape);

  void forward(const float* x, int64_t batch, float* y) const;
  // Assigns gx [batch, C, H, W] from gy [batch, C, OH, OW].
  void backward(const float* gy, int64_t batch, float* gx) const;

 private:
  // One output row or column: its two source positions and their weights (nearest: the first,
  // weight 1).
  struct Tap {
    int64_t i0 = 0, i1 = 0;
    float w0 = 1.0f, w1 = 0.0f;
  };
  static std::vector<Tap> axis_taps(const ResampleShape& s, int64_t in, int64_t out, double scale);

  ResampleShape s_;
  std::vector<Tap> rows_, cols_;
};

}  // namespace gradflow::kernels
