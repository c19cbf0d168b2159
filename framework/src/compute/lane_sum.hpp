// Sums of floats in 16 lanes (a GCC vector: one AVX-512 register, or several narrower ones)
// added in a fixed order at the end: vectorised, unlike a plain loop, whose additions the
// compiler may not reorder, and the same bits at any thread count. Always inlined: a file
// calls it from its own GRADFLOW_CPU_DISPATCH function with a name of its own, so that it is
// compiled per instruction set there. (A multiversioned function in a header does not work with
// clang 14: static, its resolver is emitted in a comdat under one name in every file, and the
// link fails; visible, libgradflow crashed while loading in the ASan tree.)
#pragma once

#include <cstdint>
#include <cstring>

#include "gradflow/kernels.hpp"

namespace gradflow::kernels {

inline constexpr int kLanes = 16;
using Lanes = float __attribute__((vector_size(kLanes * sizeof(float))));

// Loads into a variable, not a returned vector: returning one from a function that is not
// compiled per instruction set would change its ABI between the clones.
#define GRADFLOW_LOAD_LANES(var, p) \
  Lanes var;                        \
  std::memcpy(&var, (p), sizeof var)

inline double lanes_total(const Lanes& lanes) {
  double total = 0.0;
  for (int l = 0; l < kLanes; ++l) total += lanes[l];
  return total;
}

// Σ (x - shift) over n values, or Σ (x - shift)² when `square`.
[[gnu::always_inline]] inline double lane_sum(const float* __restrict x, int64_t n, float shift = 0.0f,
                                             bool square = false) {
  Lanes acc = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    GRADFLOW_LOAD_LANES(xv, x + i);
    const Lanes d = xv - shift;
    acc += square ? d * d : d;
  }
  double total = lanes_total(acc);
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - shift;
    total += square ? d * d : d;
  }
  return total;
}

}  // namespace gradflow::kernels
