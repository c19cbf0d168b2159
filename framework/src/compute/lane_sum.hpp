// Sums of floats in 16 lanes (a GCC vector: one AVX-512 register, or several narrower ones)
// added in a fixed order at the end: vectorised, unlike a plain loop, whose additions the
// compiler may not reorder, and the same bits at any thread count. Static: each file that uses
// them gets its own multiversioned copy (a multiversioned function visible outside its file
// breaks the clang ASan build's loading of libgradflow).
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
GRADFLOW_CPU_DISPATCH [[maybe_unused]] static double lane_sum(const float* __restrict x, int64_t n, float shift = 0.0f,
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

// Σ g and Σ g·(x - shift) over n values, added onto sum_g and sum_gx.
GRADFLOW_CPU_DISPATCH [[maybe_unused]] static void lane_sums_of_products(const float* __restrict g, const float* __restrict x,
                                                        int64_t n, float shift, double& sum_g, double& sum_gx) {
  Lanes acc_g = {}, acc_gx = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    GRADFLOW_LOAD_LANES(gv, g + i);
    GRADFLOW_LOAD_LANES(xv, x + i);
    acc_g += gv;
    acc_gx += gv * (xv - shift);
  }
  sum_g += lanes_total(acc_g);
  sum_gx += lanes_total(acc_gx);
  for (; i < n; ++i) {
    sum_g += g[i];
    sum_gx += static_cast<double>(g[i]) * (static_cast<double>(x[i]) - shift);
  }
}

}  // namespace gradflow::kernels
