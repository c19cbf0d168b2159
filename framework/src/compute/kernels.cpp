#include "gradflow/kernels.hpp"

#include "compute/blas.hpp"

#include <tbb/task_scheduler_observer.h>
#include <xmmintrin.h>

#include <algorithm>

namespace gradflow::kernels {

namespace {
// Below this much work (multiply-adds) one sgemm call beats splitting it.
constexpr int64_t kGemmSerialWork = 1 << 18;
// How many tiles a product is split into grows with its work (one tile per ~32M multiply-adds,
// at least 2, at most 4): each sgemm call repacks the shared operand, so small products lose
// more to extra tiles than they win from extra cores. The count depends only on the shape,
// never on the thread count, so results are bit-identical for any --threads.
constexpr int64_t kGemmWorkPerTile = int64_t{1} << 25;
constexpr int64_t kGemmMaxTiles = 4;
constexpr int64_t kGemmMinTile = 32;

int64_t gemm_tile(int64_t extent, int64_t work) {
  const int64_t tiles = std::clamp<int64_t>(work / kGemmWorkPerTile, 2, kGemmMaxTiles);
  const int64_t even = (extent + tiles - 1) / tiles;
  return std::max(kGemmMinTile, (even + 15) / 16 * 16);  // multiples of 16 suit the micro-kernels
}

// Sets flush-to-zero and denormals-are-zero on every thread TBB runs work on. Denormal
// arithmetic is ~100x slower on x86, and Adam's second moments of tiny gradients sink into
// that range after a few thousand steps (TensorFlow sets the same mode for the same reason).
class FlushDenormals final : public tbb::task_scheduler_observer {
 public:
  FlushDenormals() { observe(true); }
  // Deregisters before this object's vptr is torn down: a worker leaving the arena at process
  // exit may still be notifying it (oneTBB's rule for derived observers; TSan caught it).
  ~FlushDenormals() override { observe(false); }
  void on_scheduler_entry(bool /*is_worker*/) override { set_current_thread(); }
  static void set_current_thread() { _mm_setcsr(_mm_getcsr() | 0x8040); }  // FTZ | DAZ
};
}  // namespace

std::string blas_core() { return blas::core_name(); }

void initialize() {
  // This thread first: the observer below starts oneTBB's arena, whose default task context
  // captures the creating thread's floating-point mode and imposes it on every task run in
  // it, on every thread (the observer alone left tasks without flush-to-zero).
  FlushDenormals::set_current_thread();
  static FlushDenormals observer;  // lives for the process: every worker, now and later
  blas::sgemm();  // chooses the kernels while this is the only thread that could read the environment
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, const float* B, float beta, float* C) {
  if (M <= 0 || N <= 0) return;
  const blas::SgemmFn sgemm = blas::sgemm();
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
  const int lda = static_cast<int>(trans_a ? M : K);
  const int ldb = static_cast<int>(trans_b ? K : N);
  const int ldc = static_cast<int>(N);
  // C[m0:m1, n0:n1] from rows m0..m1 of op(A) and columns n0..n1 of op(B).
  auto block = [&](int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    const float* a = trans_a ? A + m0 : A + m0 * K;
    const float* b = trans_b ? B + n0 * K : B + n0;
    sgemm(CblasRowMajor, ta, tb, static_cast<int>(m1 - m0), static_cast<int>(n1 - n0),
                static_cast<int>(K), alpha, a, lda, b, ldb, beta, C + m0 * N + n0, ldc);
  };
  if (M * N * K <= kGemmSerialWork) {
    block(0, M, 0, N);
  } else if (M >= N) {  // split the longer side of C, so each tile packs the smaller operand
    for_tiles(M, gemm_tile(M, M * N * K), [&](int64_t m0, int64_t m1) { block(m0, m1, 0, N); });
  } else {
    for_tiles(N, gemm_tile(N, M * N * K), [&](int64_t n0, int64_t n1) { block(0, M, n0, n1); });
  }
}

}  // namespace gradflow::kernels
