// NumPy broadcasting of two operands onto a contiguous output, batch-first. A plan collapses the
// axes where both operands are laid out alike, so that the common cases become one flat loop
// (same shapes), a loop against a scalar, or runs against a stretched row ([C, H, W] * [C, 1, 1]
// is [B·C] runs of H·W against one value each). The innermost collapsed axis of an operand has
// stride 1 or 0, and each inner loop is compiled for both, so it vectorises.
//
// Work is split in tiles of output elements fixed by the output's size; a stretched operand's
// gradient is summed back (sum_to) per element in increasing output order: the same bits at any
// thread count. Nothing here allocates once a plan is built.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gradflow/kernels.hpp"
#include "gradflow/tensor.hpp"

namespace gradflow::kernels {

class BroadcastPlan {
 public:
  BroadcastPlan() = default;
  // Sample shapes: `out` the broadcast of `a` and `b` (which the caller has checked).
  BroadcastPlan(const Shape& out, const Shape& a, const Shape& b);

  // The batch size of the next pass; allocates nothing.
  void set_batch(int64_t batch);
  int64_t size() const { return size_; }

  // Calls body(o, oa, ob, n) for each run of n output elements o.. (flat index) within
  // [begin, end) whose operands start at offsets oa and ob and step by inner_stride_a/b().
  template <class Body>
  void walk(int64_t begin, int64_t end, const Body& body) const {
    const int last = static_cast<int>(extent_.size()) - 1;
    const int64_t inner = extent_[last];
    for (int64_t f = begin; f < end;) {
      int64_t outer = f / inner;
      const int64_t within = f % inner;
      int64_t oa = within * stride_a_[last], ob = within * stride_b_[last];
      for (int d = last - 1; d >= 0; --d) {
        const int64_t i = outer % extent_[d];
        outer /= extent_[d];
        oa += i * stride_a_[d];
        ob += i * stride_b_[d];
      }
      const int64_t n = std::min(inner - within, end - f);
      body(f, oa, ob, n);
      f += n;
    }
  }
  int64_t inner_stride_a() const { return stride_a_.back(); }
  int64_t inner_stride_b() const { return stride_b_.back(); }

  // reduced[j] = the sum of full[o] over every output element o that operand b's element j
  // stretches to, in increasing o; `full` has the output's size, `reduced` operand b's.
  void sum_to_b(const float* full, float* reduced) const;

 private:
  std::vector<int64_t> extent_, stride_a_, stride_b_;  // collapsed axes, batch first
  int64_t sample_extent0_ = 1;  // the sample part of axis 0 when the batch merged into it
  int64_t b_sample_size_ = 0;
  int64_t size_ = 0, b_size_ = 0;  // output and operand b elements, batch included
};

// Calls body.template operator()<SA, SB>() with the plan's inner strides as constants (0 or 1),
// so that every inner loop is compiled for its own case.
template <class Body>
void with_inner_strides(const BroadcastPlan& plan, const Body& body) {
  const bool a1 = plan.inner_stride_a() != 0, b1 = plan.inner_stride_b() != 0;
  if (a1 && b1) body.template operator()<1, 1>();
  else if (a1) body.template operator()<1, 0>();
  else if (b1) body.template operator()<0, 1>();
  else body.template operator()<0, 0>();
}

}  // namespace gradflow::kernels
