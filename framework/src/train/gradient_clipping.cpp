#include "gradflow/gradient_clipping.hpp"

#include <tbb/parallel_for.h>

#include <cmath>
#include <vector>

#include "gradflow/kernels.hpp"

namespace gradflow {

namespace {

// Values per tile of one gradient's sum of squares: fixed, so the partial sums and the order
// they are added in never depend on the thread count.
constexpr int64_t kTile = 1 << 14;

// The 2-norm of one tensor as torch returns it (a float32), from double partial sums per tile.
float norm_of(const Tensor& t) {
  const int64_t n = t.size();
  const int64_t tiles = (n + kTile - 1) / kTile;
  std::vector<double> partial(static_cast<size_t>(tiles), 0.0);
  const float* x = t.data();
  tbb::parallel_for(int64_t{0}, tiles, [&](int64_t tile) {
    double sum = 0.0;
    for (int64_t k = tile * kTile, end = std::min(n, (tile + 1) * kTile); k < end; ++k)
      sum += static_cast<double>(x[k]) * static_cast<double>(x[k]);
    partial[static_cast<size_t>(tile)] = sum;
  });
  double sum = 0.0;
  for (double s : partial) sum += s;
  return static_cast<float>(std::sqrt(sum));
}

void for_each_value(std::span<Tensor* const> gradients, float (*change)(float, float), float argument) {
  for (Tensor* g : gradients) {
    float* x = g->data();
    kernels::for_tiles(g->size(), kTile, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) x[k] = change(x[k], argument);
    });
  }
}

}  // namespace

float clip_grad_norm(std::span<Tensor* const> gradients, double max_norm) {
  double sum = 0.0;
  for (const Tensor* g : gradients) {
    const double norm = norm_of(*g);
    sum += norm * norm;
  }
  const auto total = static_cast<float>(std::sqrt(sum));
  // torch: max_norm / (total + 1e-6) is reciprocal(total + 1e-6) * max_norm, all in float32.
  const float coefficient = (1.0f / (total + 1e-6f)) * static_cast<float>(max_norm);
  if (coefficient < 1.0f)  // torch multiplies by the clamped 1.0 too, which changes nothing
    for_each_value(gradients, [](float x, float c) { return x * c; }, coefficient);
  return total;
}

void clip_grad_value(std::span<Tensor* const> gradients, double clip_value) {
  for_each_value(
      gradients, [](float x, float v) { return x < -v ? -v : (x > v ? v : x); }, static_cast<float>(clip_value));
}

}  // namespace gradflow
