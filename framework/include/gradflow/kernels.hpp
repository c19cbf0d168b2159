// Numeric kernels shared by operators. Work is split into tiles whose boundaries depend only
// on the problem size, never on the thread count, so every result is bit-identical whatever
// --threads says. Matrix products call single-threaded OpenBLAS inside TBB tiles: TBB owns
// the cores.
#pragma once

#include <cstdint>
#include <string>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

// Marks an elementwise loop to be compiled for AVX-512, AVX2 and baseline x86-64, the variant
// chosen once at load time (Debian builds for baseline x86-64, where an activation's backward
// loop ran 3.5x slower than its AVX-512 variant). -ffp-contract=off keeps FMA out, so every
// variant rounds alike. ThreadSanitizer builds get the baseline only: target_clones' ifunc
// resolver runs during relocation, before TSan's runtime is up, and crashes the binary.
#if defined(__SANITIZE_THREAD__)
#define GRADFLOW_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GRADFLOW_TSAN 1
#endif
#endif
#ifdef GRADFLOW_TSAN
#define GRADFLOW_CPU_DISPATCH
#else
#define GRADFLOW_CPU_DISPATCH [[gnu::target_clones("avx512f", "avx2", "default")]]
#endif
// The same for a function template. Clang 14 cannot multiversion templates: its builds (the
// sanitizer trees) get the baseline version.
#if defined(__clang__)
#define GRADFLOW_CPU_DISPATCH_TEMPLATE
#else
#define GRADFLOW_CPU_DISPATCH_TEMPLATE GRADFLOW_CPU_DISPATCH
#endif

namespace gradflow::kernels {

// Runs body(begin, end) over [0, n) in tiles of `grain` elements (the last may be shorter).
// Tiles run in parallel only when there are several; tile boundaries are fixed.
template <class Body>
void for_tiles(int64_t n, int64_t grain, const Body& body) {
  if (n <= 0) return;
  if (grain <= 0 || n <= grain) {
    body(int64_t{0}, n);
    return;
  }
  const int64_t tiles = (n + grain - 1) / grain;
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, tiles, 1),
      [&](const tbb::blocked_range<int64_t>& r) {
        for (int64_t t = r.begin(); t != r.end(); ++t) body(t * grain, std::min(n, (t + 1) * grain));
      },
      tbb::simple_partitioner());
}

// Elements per tile for elementwise work: large enough to amortise a task.
inline constexpr int64_t kElementwiseGrain = 1 << 15;

// Puts every thread that runs gradflow work (this one and TBB's workers) into
// flush-to-zero / denormals-are-zero mode and loads OpenBLAS. Called when a model is built,
// before any worker runs; safe to call again.
void initialize();

// The OpenBLAS kernel family in use, e.g. "SkylakeX" (framework/src/compute/blas.cpp says how it is chosen).
std::string blas_core();

// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major; op(X) is X or its transpose.
// A is [M,K] (or [K,M] when trans_a), B is [K,N] (or [N,K] when trans_b).
// Split over the longer side of C in tiles fixed by the shape; each tile is one serial sgemm.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, const float* B, float beta, float* C);

}  // namespace gradflow::kernels
