// kernels::gemm against a plain double-precision product, for every transpose combination and
// for shapes that take each path (one call, row tiles, column tiles, ragged last tiles). This
// also checks whatever OpenBLAS kernel family blas.cpp selected on this CPU.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>

#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <xmmintrin.h>

#include <atomic>

#include "gradflow/kernels.hpp"
#include "gradflow/rng.hpp"
#include "gradflow/tensor.hpp"

using namespace gradflow;

namespace {
std::vector<float> random_values(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(rng.uniform(-1, 1));
  return v;
}
}  // namespace

TEST_CASE("gemm matches a double-precision reference", "[kernels]") {
  INFO("OpenBLAS core: " << kernels::blas_core());
  const std::vector<std::array<int64_t, 3>> shapes = {{3, 5, 7}, {64, 256, 784}, {300, 40, 65}, {33, 517, 129}, {1000, 17, 64}};
  for (auto [M, N, K] : shapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        INFO("M=" << M << " N=" << N << " K=" << K << " ta=" << ta << " tb=" << tb);
        const auto A = random_values(M * K, 1), B = random_values(K * N, 2);
        std::vector<float> C = random_values(M * N, 3);
        const std::vector<float> C0 = C;
        kernels::gemm(ta, tb, M, N, K, 0.5f, A.data(), B.data(), 2.0f, C.data());
        double worst = 0.0;
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) {
            double sum = 0.0;
            for (int64_t k = 0; k < K; ++k) {
              const double a = ta ? A[static_cast<size_t>(k * M + m)] : A[static_cast<size_t>(m * K + k)];
              const double b = tb ? B[static_cast<size_t>(n * K + k)] : B[static_cast<size_t>(k * N + n)];
              sum += a * b;
            }
            const double expected = 0.5 * sum + 2.0 * C0[static_cast<size_t>(m * N + n)];
            worst = std::max(worst, std::abs(expected - C[static_cast<size_t>(m * N + n)]));
          }
        // float32 sums of K products of magnitude <= 1: round-off well under 1e-6 * K.
        CHECK(worst < 1e-6 * static_cast<double>(K) + 1e-6);
      }
}

TEST_CASE("the BLAS kernel family is reported", "[kernels]") { CHECK_FALSE(kernels::blas_core().empty()); }

TEST_CASE("gemm tiles running at once on two threads give the one-thread bits, every time", "[kernels][determinism]") {
  // Catches a BLAS that is not safe for concurrent callers: Debian's serial OpenBLAS shares
  // its packing buffers between threads and returned slightly different numbers run to run.
  const int64_t M = 512, N = 256, K = 784;
  const auto A = random_values(M * K, 4), B = random_values(N * K, 5);
  auto product = [&](int threads) {
    tbb::global_control control(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    std::vector<float> C(static_cast<size_t>(M * N));
    kernels::gemm(false, true, M, N, K, 1.0f, A.data(), B.data(), 0.0f, C.data());
    return C;
  };
  const auto reference = product(1);
  for (int run = 0; run < 20; ++run) REQUIRE(product(2) == reference);
}

// Each ctest entry is a fresh process, so initialize() here is the process's first TBB use, as
// in graph-runner. oneTBB imposes its arena's captured floating-point mode on every task: the
// mode must be flush-to-zero there too, on both threads (it was not: Adam slowed by half once
// its second moments went denormal).
TEST_CASE("flush-to-zero and denormals-are-zero hold inside TBB tasks", "[kernels]") {
  kernels::initialize();
  const tbb::global_control two(tbb::global_control::max_allowed_parallelism, 2);
  constexpr unsigned kFtzDaz = 0x8040;
  std::atomic<int> tasks{0}, without{0};
  tbb::parallel_for(0, 256, [&](int) {
    ++tasks;
    if ((_mm_getcsr() & kFtzDaz) != kFtzDaz) ++without;
  });
  CHECK(tasks == 256);
  CHECK(without == 0);
  volatile float denormal = 1e-39f;  // DAZ reads it as zero
  CHECK(denormal * 1.0f == 0.0f);
}
