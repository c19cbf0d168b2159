#include "compute/pool.hpp"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <limits>

#include "compute/window.hpp"
#include "gradflow/kernels.hpp"

namespace gradflow::kernels {

namespace {

// One pooling window: its part inside the input, [h0, h1) x [w0, w1) (possibly empty under
// ceil_mode), and torch's count_include_pad divisor: its size clipped to the padded input.
struct Window {
  int64_t h0, h1, w0, w1;
  int64_t padded_size;
  bool empty() const { return h0 >= h1 || w0 >= w1; }
  int64_t size() const { return (h1 - h0) * (w1 - w0); }
};

// Calls fn(output index within the plane, window) for every window of one plane, row-major:
// the one place that knows how windows are laid out, shared by max and average pooling.
template <class Fn>
void for_each_window(const PoolShape& s, const Fn& fn) {
  const int64_t oh_count = s.out_height(), ow_count = s.out_width();
  for (int64_t oh = 0; oh < oh_count; ++oh) {
    const int64_t hs = oh * s.stride[0] - s.padding[0];
    const int64_t he = std::min(hs + s.kernel[0], s.height + s.padding[0]);
    for (int64_t ow = 0; ow < ow_count; ++ow) {
      const int64_t ws = ow * s.stride[1] - s.padding[1];
      const int64_t we = std::min(ws + s.kernel[1], s.width + s.padding[1]);
      const Window w{std::max<int64_t>(hs, 0), std::min(he, s.height), std::max<int64_t>(ws, 0),
                     std::min(we, s.width), (he - hs) * (we - ws)};
      fn(oh * ow_count + ow, w);
    }
  }
}

// Runs body(plane) for every plane (one channel of one sample) of the batch, in tiles fixed
// by the shape.
template <class Body>
void for_planes(int64_t planes, int64_t area, const Body& body) {
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, area));
  for_tiles(planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) body(p);
  });
}

template <class Body>
void for_planes(const PoolShape& s, int64_t batch, const Body& body) {
  for_planes(batch * s.channels, s.height * s.width, body);
}

// torch's adaptive window of output i along an axis: [floor(i·in/out), ceil((i+1)·in/out)).
int64_t adaptive_start(int64_t i, int64_t out, int64_t in) { return (i * in) / out; }
int64_t adaptive_end(int64_t i, int64_t out, int64_t in) { return ((i + 1) * in + out - 1) / out; }

// Calls fn(output index within the plane, h0, h1, w0, w1) for every adaptive window, row-major.
template <class Fn>
void for_each_adaptive_window(const AdaptiveShape& s, const Fn& fn) {
  for (int64_t oh = 0; oh < s.out_height; ++oh) {
    const int64_t h0 = adaptive_start(oh, s.out_height, s.height), h1 = adaptive_end(oh, s.out_height, s.height);
    for (int64_t ow = 0; ow < s.out_width; ++ow)
      fn(oh * s.out_width + ow, h0, h1, adaptive_start(ow, s.out_width, s.width),
         adaptive_end(ow, s.out_width, s.width));
  }
}

float avg_divisor(const PoolShape& s, const Window& w) {
  return static_cast<float>(s.count_include_pad ? w.padded_size : w.size());
}

}  // namespace

int64_t PoolShape::out_height() const {
  return std::max<int64_t>(0, window_count(height, kernel[0], stride[0], padding[0], 1, ceil_mode));
}

int64_t PoolShape::out_width() const {
  return std::max<int64_t>(0, window_count(width, kernel[1], stride[1], padding[1], 1, ceil_mode));
}

// Max pooling of one plane whose windows all lie inside it (no padding, floor mode): tap by
// tap over a whole output row, so the outputs of a row are independent lanes (vectorised,
// no chain of dependent compares per window). Taps run in window order, as the general loop.
GRADFLOW_CPU_DISPATCH static void max_pool_full_windows(const PoolShape& s, const float* __restrict in,
                                                 float* __restrict out, int32_t* __restrict arg) {
  const int64_t oh_count = s.out_height(), ow_count = s.out_width(), sw = s.stride[1];
  for (int64_t oh = 0; oh < oh_count; ++oh) {
    float* value = out + oh * ow_count;
    int32_t* best = arg + oh * ow_count;
    for (int64_t ow = 0; ow < ow_count; ++ow) {
      value[ow] = -std::numeric_limits<float>::infinity();
      best[ow] = static_cast<int32_t>(oh * s.stride[0] * s.width + ow * sw);
    }
    for (int64_t i = 0; i < s.kernel[0]; ++i)
      for (int64_t j = 0; j < s.kernel[1]; ++j) {
        const int64_t row = (oh * s.stride[0] + i) * s.width + j;
        const float* tap = in + row;
        for (int64_t ow = 0; ow < ow_count; ++ow) {
          const float v = tap[ow * sw];
          const bool take = v > value[ow] || v != v;
          value[ow] = take ? v : value[ow];
          best[ow] = take ? static_cast<int32_t>(row + ow * sw) : best[ow];
        }
      }
  }
}

void max_pool_forward(const PoolShape& s, const float* x, int64_t batch, float* y, int32_t* argmax) {
  const int64_t area = s.height * s.width, out_area = s.out_height() * s.out_width();
  if (s.padding[0] == 0 && s.padding[1] == 0 && !s.ceil_mode) {
    for_planes(s, batch, [&](int64_t p) { max_pool_full_windows(s, x + p * area, y + p * out_area, argmax + p * out_area); });
    return;
  }
  for_planes(s, batch, [&](int64_t p) {
    const float* in = x + p * area;
    float* out = y + p * out_area;
    int32_t* arg = argmax + p * out_area;
    for_each_window(s, [&](int64_t o, const Window& w) {
      int64_t best = w.h0 * s.width + w.w0;
      float value = -std::numeric_limits<float>::infinity();
      for (int64_t h = w.h0; h < w.h1; ++h)
        for (int64_t c = w.w0; c < w.w1; ++c) {
          // torch's rule: a NaN propagates; the first of equal values wins.
          const float v = in[h * s.width + c];
          const bool take = v > value || v != v;
          value = take ? v : value;
          best = take ? h * s.width + c : best;
        }
      out[o] = value;
      arg[o] = static_cast<int32_t>(best);
    });
  });
}

void max_pool_backward(const PoolShape& s, const float* gy, const int32_t* argmax, int64_t batch, float* gx) {
  const int64_t area = s.height * s.width, out_area = s.out_height() * s.out_width();
  for_planes(s, batch, [&](int64_t p) {
    float* g = gx + p * area;
    std::fill(g, g + area, 0.0f);
    for (int64_t o = 0; o < out_area; ++o) g[argmax[p * out_area + o]] += gy[p * out_area + o];
  });
}

void avg_pool_forward(const PoolShape& s, const float* x, int64_t batch, float* y) {
  const int64_t area = s.height * s.width, out_area = s.out_height() * s.out_width();
  for_planes(s, batch, [&](int64_t p) {
    const float* in = x + p * area;
    float* out = y + p * out_area;
    for_each_window(s, [&](int64_t o, const Window& w) {
      if (w.empty()) {  // a ceil_mode window wholly in the padding: torch writes 0
        out[o] = 0.0f;
        return;
      }
      float sum = 0.0f;
      for (int64_t h = w.h0; h < w.h1; ++h)
        for (int64_t c = w.w0; c < w.w1; ++c) sum += in[h * s.width + c];
      out[o] = sum / avg_divisor(s, w);
    });
  });
}

void avg_pool_backward(const PoolShape& s, const float* gy, int64_t batch, float* gx) {
  const int64_t area = s.height * s.width, out_area = s.out_height() * s.out_width();
  for_planes(s, batch, [&](int64_t p) {
    float* g = gx + p * area;
    const float* go = gy + p * out_area;
    std::fill(g, g + area, 0.0f);
    for_each_window(s, [&](int64_t o, const Window& w) {
      if (w.empty()) return;
      const float share = go[o] / avg_divisor(s, w);
      for (int64_t h = w.h0; h < w.h1; ++h)
        for (int64_t c = w.w0; c < w.w1; ++c) g[h * s.width + c] += share;
    });
  });
}

void global_avg_pool_forward(const float* x, int64_t planes, int64_t area, float* y) {
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, area));
  for_tiles(planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* in = x + p * area;
      float sum = 0.0f;
      for (int64_t i = 0; i < area; ++i) sum += in[i];
      y[p] = sum / static_cast<float>(area);
    }
  });
}

void global_avg_pool_backward(const float* gy, int64_t planes, int64_t area, float* gx) {
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, area));
  for_tiles(planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) std::fill(gx + p * area, gx + (p + 1) * area, gy[p] / static_cast<float>(area));
  });
}

void adaptive_avg_pool_forward(const AdaptiveShape& s, const float* x, int64_t batch, float* y) {
  const int64_t area = s.height * s.width, out_area = s.out_height * s.out_width;
  for_planes(batch * s.channels, area, [&](int64_t p) {
    const float* in = x + p * area;
    float* out = y + p * out_area;
    for_each_adaptive_window(s, [&](int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
      float sum = 0.0f;
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t c = w0; c < w1; ++c) sum += in[h * s.width + c];
      // torch divides by the window's height, then by its width.
      out[o] = sum / static_cast<float>(h1 - h0) / static_cast<float>(w1 - w0);
    });
  });
}

void adaptive_avg_pool_backward(const AdaptiveShape& s, const float* gy, int64_t batch, float* gx) {
  const int64_t area = s.height * s.width, out_area = s.out_height * s.out_width;
  for_planes(batch * s.channels, area, [&](int64_t p) {
    float* g = gx + p * area;
    const float* go = gy + p * out_area;
    std::fill(g, g + area, 0.0f);
    for_each_adaptive_window(s, [&](int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
      const float share = go[o] / static_cast<float>(h1 - h0) / static_cast<float>(w1 - w0);
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t c = w0; c < w1; ++c) g[h * s.width + c] += share;
    });
  });
}

}  // namespace gradflow::kernels
