// Shared by the image operators (conv.cpp, pooling.cpp): reading a [C, H, W] sample shape and
// building the batched output shape without allocating in the steady state.
#pragma once

#include <array>
#include <string>

#include "gradflow/operator.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

// "[3, 3]" for a pair, as shapes are written in messages.
inline std::string pair_text(const std::array<int64_t, 2>& p) {
  return "[" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + "]";
}

// The single input's sample shape, which must be an image [C, H, W] with no empty axis.
inline const Shape& image_input(std::span<const Shape> shapes, const char* op) {
  const Shape& in = single_input(shapes, op);
  if (in.size() != 3 || in[0] < 1 || in[1] < 1 || in[2] < 1)
    throw ShapeError(std::string(op) + " expects a sample image [C, H, W], got " + to_string(in) +
                     (in.size() == 1 ? "; a flat input needs a reshape node to [C, H, W] first" : ""));
  return in;
}

// The output's batched shape [batch, ...sample], kept in a member and updated in place: the
// batch dimension is the only part that changes from step to step.
class BatchedShape {
 public:
  void set_sample(const Shape& sample) { shape_ = batched(0, sample); }
  const Shape& with_batch(int64_t batch) {
    shape_[0] = batch;
    return shape_;
  }

 private:
  Shape shape_;
};

}  // namespace gradflow::ops
