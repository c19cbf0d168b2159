#include "gradflow/kernels.hpp"

#include <cblas.h>

namespace gradflow::kernels {

namespace {
// Rows of C per tile: big enough that each sgemm call runs near peak, small enough that a
// batch of a few hundred rows still splits across two cores.
constexpr int64_t kGemmRowTile = 64;
// Below this much work (multiply-adds) one call beats splitting.
constexpr int64_t kGemmSerialWork = 1 << 16;
}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, const float* B, float beta, float* C) {
  if (M <= 0 || N <= 0) return;
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
  const int lda = static_cast<int>(trans_a ? M : K);
  const int ldb = static_cast<int>(trans_b ? K : N);
  auto rows = [&](int64_t begin, int64_t end) {
    const float* a = trans_a ? A + begin : A + begin * K;
    cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(end - begin), static_cast<int>(N),
                static_cast<int>(K), alpha, a, lda, B, ldb, beta, C + begin * N,
                static_cast<int>(N));
  };
  if (M * N * K <= kGemmSerialWork)
    rows(0, M);
  else
    for_tiles(M, kGemmRowTile, rows);
}

}  // namespace gradflow::kernels
