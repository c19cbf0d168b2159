// A copy whose every output value is one input value, or a fill value: transpose, slice, pad,
// concat. The index math is done once, when shapes are known: the plan lists runs of
// consecutive output positions that read the input at a fixed stride, so a step only walks
// runs (a memcpy-like loop for contiguous ones) and allocates nothing.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gradflow/kernels.hpp"
#include "gradflow/tensor.hpp"

namespace gradflow::ops {

// What an output position reads: an input position, the fill value, or (a plan for one input
// of several) nothing, another input writes it.
inline constexpr int64_t kFill = -1;
inline constexpr int64_t kNotMine = -2;

// Row-major strides of a shape.
inline std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

// An axis of a sample of rank `rank`, negative counting from the end; -1 when out of range.
inline int resolve_axis(int64_t axis, size_t rank) {
  const auto r = static_cast<int64_t>(rank);
  const int64_t a = axis < 0 ? axis + r : axis;
  return a < 0 || a >= r ? -1 : static_cast<int>(a);
}

// body(b) for every sample b of a batch, in tiles of whole samples sized from the values per
// sample: boundaries fixed by the shapes, never by the thread count.
template <class Body>
void for_each_sample(int64_t batch, int64_t sample_size, const Body& body) {
  const int64_t grain = std::max<int64_t>(1, kernels::kElementwiseGrain / std::max<int64_t>(1, sample_size));
  kernels::for_tiles(batch, grain, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) body(b);
  });
}

class CopyPlan {
 public:
  struct Run {
    int64_t out, in, length, stride;  // in == kFill: `length` fill values
  };

  CopyPlan() = default;

  // source(index) gives, for each output position's multi-index over `out_shape`, the flat input
  // position it reads (or kFill, kNotMine); `in_size` values per input sample.
  template <class Source>
  CopyPlan(const Shape& out_shape, int64_t in_size, const Source& source)
      : in_size_(in_size), out_size_(numel(out_shape)) {
    std::vector<int64_t> index(out_shape.size(), 0);
    for (int64_t o = 0; o < out_size_; ++o) {
      add(o, source(index));
      for (size_t d = index.size(); d-- > 0;) {  // the next multi-index, last axis fastest
        if (++index[d] < out_shape[d]) break;
        index[d] = 0;
      }
    }
  }

  int64_t in_size() const { return in_size_; }
  int64_t out_size() const { return out_size_; }

  // out = the plan applied to x, sample by sample (tiles of whole samples: fixed boundaries).
  void forward(const Tensor& x, Tensor& out, float fill) const {
    const float* in = x.data();
    float* to = out.data();
    for_each_sample(x.dim(0), out_size_, [&](int64_t b) { gather(in + b * in_size_, to + b * out_size_, fill); });
  }

  // gx = the gradient of x from the output's gradient g: zero, then each run's values added in
  // run order (pad's replicate and reflect read an input value several times): a fixed order.
  void backward(const Tensor& g, Tensor& gx) const {
    const float* from = g.data();
    float* to = gx.data();
    for_each_sample(gx.dim(0), out_size_, [&](int64_t b) { scatter_add(from + b * out_size_, to + b * in_size_); });
  }

 private:
  void add(int64_t o, int64_t src) {
    if (src == kNotMine) return;
    if (!runs_.empty()) {
      Run& r = runs_.back();
      if (r.out + r.length == o) {
        const bool fill = src == kFill, run_fill = r.in == kFill;
        if (fill && run_fill) return void(++r.length);
        if (!fill && !run_fill && r.length == 1) {
          r.stride = src - r.in;
          return void(++r.length);
        }
        if (!fill && !run_fill && src == r.in + r.length * r.stride) return void(++r.length);
      }
    }
    runs_.push_back({o, src, 1, 1});
  }

  void gather(const float* in, float* out, float fill) const {
    for (const Run& r : runs_) {
      float* o = out + r.out;
      if (r.in == kFill) {
        std::fill(o, o + r.length, fill);
      } else if (r.stride == 1) {
        std::copy(in + r.in, in + r.in + r.length, o);
      } else {
        const float* i = in + r.in;
        for (int64_t k = 0; k < r.length; ++k) o[k] = i[k * r.stride];
      }
    }
  }

  void scatter_add(const float* g, float* gx) const {
    std::fill(gx, gx + in_size_, 0.0f);
    for (const Run& r : runs_) {
      if (r.in == kFill) continue;
      const float* from = g + r.out;
      float* to = gx + r.in;
      if (r.stride == 1)
        for (int64_t k = 0; k < r.length; ++k) to[k] += from[k];
      else
        for (int64_t k = 0; k < r.length; ++k) to[k * r.stride] += from[k];
    }
  }

  int64_t in_size_ = 0, out_size_ = 0;
  std::vector<Run> runs_;
};

}  // namespace gradflow::ops
