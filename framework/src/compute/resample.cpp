#include "compute/resample.hpp"

#include <algorithm>
#include <cmath>

#include "gradflow/kernels.hpp"

namespace gradflow::kernels {

namespace {

// torch's output size: floor(in · scale), the product in double.
int64_t scaled_size(int64_t in, double scale) {
  return static_cast<int64_t>(std::floor(static_cast<double>(in) * scale));
}

// torch's compute_scales_value: the source step per output step, in float.
float source_step(double scale, int64_t in, int64_t out) {
  return scale > 0.0 ? static_cast<float>(1.0 / scale) : static_cast<float>(in) / static_cast<float>(out);
}

// Runs body(plane) for every plane of the batch, in tiles fixed by the shape.
template <class Body>
void for_planes(int64_t planes, int64_t area, const Body& body) {
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, area));
  for_tiles(planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) body(p);
  });
}

}  // namespace

int64_t ResampleShape::out_height() const { return scaled_size(height, scale_height); }
int64_t ResampleShape::out_width() const { return scaled_size(width, scale_width); }

Resample::Resample(const ResampleShape& shape)
    : s_(shape),
      rows_(axis_taps(shape, shape.height, shape.out_height(), shape.scale_height)),
      cols_(axis_taps(shape, shape.width, shape.out_width(), shape.scale_width)) {}

std::vector<Resample::Tap> Resample::axis_taps(const ResampleShape& s, int64_t in, int64_t out, double scale) {
  std::vector<Tap> taps(static_cast<size_t>(std::max<int64_t>(0, out)));
  for (int64_t o = 0; o < out; ++o) {
    Tap& t = taps[static_cast<size_t>(o)];
    if (out == in) {  // torch copies
      t.i0 = t.i1 = o;
      continue;
    }
    if (s.mode == ResampleMode::Nearest) {  // torch's nearest_idx: floor(o · step), in float
      const int64_t src = out == 2 * in ? o >> 1
                                        : static_cast<int64_t>(std::floor(static_cast<float>(o) * source_step(scale, in, out)));
      t.i0 = t.i1 = std::min(src, in - 1);
      continue;
    }
    // torch's area_pixel_compute_source_index and compute_source_index_and_lambda.
    float real = 0.0f;
    if (s.align_corners) {
      const float step = out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f;
      real = step * static_cast<float>(o);
    } else {
      const float step = source_step(scale, in, out);
      real = static_cast<float>(static_cast<double>(step) * (static_cast<double>(o) + 0.5) - 0.5);
      real = real < 0.0f ? 0.0f : real;
    }
    t.i0 = static_cast<int64_t>(real);
    t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
    t.w1 = std::min(std::max(real - static_cast<float>(t.i0), 0.0f), 1.0f);
    t.w0 = 1.0f - t.w1;
  }
  return taps;
}

void Resample::forward(const float* x, int64_t batch, float* y) const {
  const int64_t in_area = s_.height * s_.width, oh_count = s_.out_height(), ow_count = s_.out_width();
  const bool nearest = s_.mode == ResampleMode::Nearest;
  for_planes(batch * s_.channels, oh_count * ow_count, [&](int64_t p) {
    const float* in = x + p * in_area;
    float* out = y + p * oh_count * ow_count;
    for (int64_t oh = 0; oh < oh_count; ++oh) {
      const Tap& r = rows_[static_cast<size_t>(oh)];
      const float* row0 = in + r.i0 * s_.width;
      const float* row1 = in + r.i1 * s_.width;
      float* o = out + oh * ow_count;
      if (nearest) {
        for (int64_t ow = 0; ow < ow_count; ++ow) o[ow] = row0[cols_[static_cast<size_t>(ow)].i0];
        continue;
      }
      // torch's order: each source row across, then the rows down.
      for (int64_t ow = 0; ow < ow_count; ++ow) {
        const Tap& c = cols_[static_cast<size_t>(ow)];
        o[ow] = (row0[c.i0] * c.w0 + row0[c.i1] * c.w1) * r.w0 + (row1[c.i0] * c.w0 + row1[c.i1] * c.w1) * r.w1;
      }
    }
  });
}

void Resample::backward(const float* gy, int64_t batch, float* gx) const {
  const int64_t in_area = s_.height * s_.width, oh_count = s_.out_height(), ow_count = s_.out_width();
  const bool nearest = s_.mode == ResampleMode::Nearest;
  for_planes(batch * s_.channels, oh_count * ow_count, [&](int64_t p) {
    float* g = gx + p * in_area;
    const float* go = gy + p * oh_count * ow_count;
    std::fill(g, g + in_area, 0.0f);
    for (int64_t oh = 0; oh < oh_count; ++oh) {
      const Tap& r = rows_[static_cast<size_t>(oh)];
      float* row0 = g + r.i0 * s_.width;
      float* row1 = g + r.i1 * s_.width;
      const float* o = go + oh * ow_count;
      for (int64_t ow = 0; ow < ow_count; ++ow) {
        const Tap& c = cols_[static_cast<size_t>(ow)];
        if (nearest) {
          row0[c.i0] += o[ow];
          continue;
        }
        row0[c.i0] += r.w0 * c.w0 * o[ow];
        row0[c.i1] += r.w0 * c.w1 * o[ow];
        row1[c.i0] += r.w1 * c.w0 * o[ow];
        row1[c.i1] += r.w1 * c.w1 * o[ow];
      }
    }
  });
}

}  // namespace gradflow::kernels
