#include "compute/broadcast.hpp"

namespace gradflow::kernels {

namespace {

// Operand strides over the output's axes (rank of `out`, aligned on the right): 0 where the
// operand stretches (size 1, or an axis it lacks), else its contiguous stride.
std::vector<int64_t> aligned_strides(const Shape& out, const Shape& operand) {
  const size_t rank = out.size(), offset = rank - operand.size();
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (size_t d = rank; d-- > offset;) {
    const int64_t size = operand[d - offset];
    strides[d] = size == 1 ? 0 : stride;
    stride *= size;
  }
  return strides;
}

}  // namespace

BroadcastPlan::BroadcastPlan(const Shape& out, const Shape& a, const Shape& b) {
  const std::vector<int64_t> sa = aligned_strides(out, a), sb = aligned_strides(out, b);
  // Axis 0 is the batch: every operand has it, with the operand's sample size as stride.
  extent_ = {1};
  stride_a_ = {numel(a)};
  stride_b_ = {numel(b)};
  b_sample_size_ = numel(b);
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) continue;  // an axis of size 1 moves no operand
    // An axis laid out, in both operands, as a continuation of the one before merges with it.
    const size_t p = extent_.size() - 1;
    if (stride_a_[p] == sa[d] * out[d] && stride_b_[p] == sb[d] * out[d]) {
      extent_[p] *= out[d];
      stride_a_[p] = sa[d];
      stride_b_[p] = sb[d];
      if (p == 0) sample_extent0_ *= out[d];
      continue;
    }
    extent_.push_back(out[d]);
    stride_a_.push_back(sa[d]);
    stride_b_.push_back(sb[d]);
  }
  set_batch(1);
}

void BroadcastPlan::set_batch(int64_t batch) {
  extent_[0] = batch * sample_extent0_;
  b_size_ = batch * b_sample_size_;
  size_ = 1;
  for (int64_t e : extent_) size_ *= e;
}

namespace {

GRADFLOW_CPU_DISPATCH void add_run(const float* __restrict full, float* __restrict reduced, int64_t n) {
  for (int64_t i = 0; i < n; ++i) reduced[i] += full[i];
}

}  // namespace

// Axes are split into a leading run where b does not stretch (tiles over it write disjoint parts
// of `reduced`) and the rest, visited in row-major order, which adds each contribution to its
// element in increasing output order.
void BroadcastPlan::sum_to_b(const float* full, float* reduced) const {
  if (size_ == 0) {  // an empty output: an operand stretched to it gets no gradient
    std::fill(reduced, reduced + b_size_, 0.0f);
    return;
  }
  const int axes = static_cast<int>(extent_.size());
  int kept = 0;
  while (kept < axes && stride_b_[kept] != 0) ++kept;
  if (kept == axes) {  // b is not stretched at all
    std::copy(full, full + size_, reduced);
    return;
  }
  int64_t rest = 1, block = 1;  // output and `reduced` elements under one leading index
  for (int d = kept; d < axes; ++d) {
    rest *= extent_[d];
    if (stride_b_[d] != 0) block *= extent_[d];
  }
  const int64_t inner = extent_.back();
  const bool inner_kept = stride_b_.back() != 0;
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / rest);
  for_tiles(size_ / rest, grain, [&](int64_t first, int64_t last) {
    for (int64_t p = first; p < last; ++p) {
      int64_t index = p, base = 0;
      for (int d = kept - 1; d >= 0; --d) {
        base += (index % extent_[d]) * stride_b_[d];
        index /= extent_[d];
      }
      std::fill(reduced + base, reduced + base + block, 0.0f);
      for (int64_t run = 0; run < rest / inner; ++run) {
        int64_t q = run, offset = base;
        for (int d = axes - 2; d >= kept; --d) {
          offset += (q % extent_[d]) * stride_b_[d];
          q /= extent_[d];
        }
        const float* src = full + p * rest + run * inner;
        if (inner_kept) {
          add_run(src, reduced + offset, inner);
        } else {
          float sum = reduced[offset];
          for (int64_t i = 0; i < inner; ++i) sum += src[i];
          reduced[offset] = sum;
        }
      }
    }
  });
}

}  // namespace gradflow::kernels
