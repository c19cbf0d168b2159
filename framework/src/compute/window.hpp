// Sliding-window geometry shared by convolution and pooling: how many windows fit along an
// axis, and which of them read inside the input.
#pragma once

#include <algorithm>
#include <cstdint>

namespace gradflow::kernels {

// Windows along one axis, as torch counts them (pooling_output_shape): an input of `in` with
// `pad` on each side, a window spanning dilation·(kernel − 1) + 1; ceil_mode rounds the last
// partial step up, but never starts a window inside the right padding. 0 or less when the
// window does not fit.
inline int64_t window_count(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                            bool ceil_mode) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (span + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// The outputs o in [0, count) whose input position o·stride − pad + offset lies in [0, in):
// [first, last), empty when none does. Kernels copy that run and fill the rest with zeros.
struct Run {
  int64_t first = 0, last = 0;
};

inline Run inside_run(int64_t count, int64_t stride, int64_t pad, int64_t offset, int64_t in) {
  const int64_t shift = pad - offset;  // o·stride >= shift and o·stride <= in − 1 + shift
  const int64_t first = shift <= 0 ? 0 : (shift + stride - 1) / stride;
  const int64_t top = in - 1 + shift;
  const int64_t last = top < 0 ? 0 : std::min(count, top / stride + 1);
  return {std::min(first, last), last};
}

}  // namespace gradflow::kernels
