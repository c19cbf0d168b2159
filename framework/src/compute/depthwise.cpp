#include "compute/depthwise.hpp"

#include <algorithm>

#include "compute/window.hpp"
#include "gradflow/kernels.hpp"

namespace gradflow::kernels {

namespace {

// One tap (i, j) of a channel: the output rows and columns that read inside the input, and the
// input offsets of output (0, 0) (ih = oh·stride + dh, iw = ow·stride + dw). Always inlined, as
// the loops are written out in each kernel: a helper or lambda they called would be compiled
// once for the baseline instruction set, not per GRADFLOW_CPU_DISPATCH clone.
struct Tap {
  Run rows, cols;
  int64_t dh, dw;
};

[[gnu::always_inline]] inline Tap tap_of(const ConvShape& s, int64_t oh_count, int64_t ow_count, int64_t i,
                                         int64_t j) {
  return {inside_run(oh_count, s.stride[0], s.padding[0], i * s.dilation[0], s.height),
          inside_run(ow_count, s.stride[1], s.padding[1], j * s.dilation[1], s.width),
          i * s.dilation[0] - s.padding[0], j * s.dilation[1] - s.padding[1]};
}

// Columns per block of the weight gradient's per-column sums: a stack buffer, no allocation.
constexpr int64_t kColumnBlock = 256;

}  // namespace

bool is_depthwise(const ConvShape& s) { return s.groups > 1 && s.groups == s.channels && s.out_channels == s.channels; }

GRADFLOW_CPU_DISPATCH void depthwise_forward(const ConvShape& s, const float* __restrict x,
                                             const float* __restrict weight, const float* __restrict bias,
                                             float* __restrict y) {
  const int64_t oh_count = s.out_height(), ow_count = s.out_width(), positions = oh_count * ow_count;
  const int64_t plane = s.height * s.width, sh = s.stride[0], sw = s.stride[1], kh = s.kernel[0], kw = s.kernel[1];
  for (int64_t c = 0; c < s.channels; ++c) {
    float* yc = y + c * positions;
    const float* xc = x + c * plane;
    std::fill(yc, yc + positions, bias ? bias[c] : 0.0f);
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j) {
        const Tap t = tap_of(s, oh_count, ow_count, i, j);
        const float w = weight[(c * kh + i) * kw + j];
        for (int64_t oh = t.rows.first; oh < t.rows.last; ++oh) {
          float* d = yc + oh * ow_count;
          const float* src = xc + (oh * sh + t.dh) * s.width + t.dw;  // src[ow·sw] for ow in cols
          for (int64_t ow = t.cols.first; ow < t.cols.last; ++ow) d[ow] += w * src[ow * sw];
        }
      }
  }
}

GRADFLOW_CPU_DISPATCH void depthwise_input_gradient(const ConvShape& s, const float* __restrict weight,
                                                    const float* __restrict gy, float* __restrict gx) {
  const int64_t oh_count = s.out_height(), ow_count = s.out_width(), positions = oh_count * ow_count;
  const int64_t plane = s.height * s.width, sh = s.stride[0], sw = s.stride[1], kh = s.kernel[0], kw = s.kernel[1];
  std::fill(gx, gx + s.channels * plane, 0.0f);
  for (int64_t c = 0; c < s.channels; ++c)
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j) {
        const Tap t = tap_of(s, oh_count, ow_count, i, j);
        const float w = weight[(c * kh + i) * kw + j];
        for (int64_t oh = t.rows.first; oh < t.rows.last; ++oh) {
          const float* g = gy + c * positions + oh * ow_count;
          float* dst = gx + c * plane + (oh * sh + t.dh) * s.width + t.dw;
          for (int64_t ow = t.cols.first; ow < t.cols.last; ++ow) dst[ow * sw] += w * g[ow];
        }
      }
}

// Each tap sums gy·x per column over the rows first (independent sums: they vectorise), then
// the columns in order.
GRADFLOW_CPU_DISPATCH void depthwise_weight_gradient(const ConvShape& s, const float* __restrict x,
                                                     const float* __restrict gy, float* __restrict gw,
                                                     bool accumulate) {
  const int64_t oh_count = s.out_height(), ow_count = s.out_width(), positions = oh_count * ow_count;
  const int64_t plane = s.height * s.width, sh = s.stride[0], sw = s.stride[1], kh = s.kernel[0], kw = s.kernel[1];
  float columns[kColumnBlock];
  for (int64_t c = 0; c < s.channels; ++c)
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j) {
        const Tap t = tap_of(s, oh_count, ow_count, i, j);
        float total = 0.0f;
        for (int64_t first = t.cols.first; first < t.cols.last; first += kColumnBlock) {
          const int64_t width = std::min(t.cols.last, first + kColumnBlock) - first;
          std::fill(columns, columns + width, 0.0f);
          for (int64_t oh = t.rows.first; oh < t.rows.last; ++oh) {
            const float* g = gy + c * positions + oh * ow_count + first;
            const float* src = x + c * plane + (oh * sh + t.dh) * s.width + t.dw + first * sw;
            for (int64_t k = 0; k < width; ++k) columns[k] += g[k] * src[k * sw];
          }
          for (int64_t k = 0; k < width; ++k) total += columns[k];
        }
        float& tap = gw[(c * kh + i) * kw + j];
        tap = accumulate ? tap + total : total;
      }
}

}  // namespace gradflow::kernels
