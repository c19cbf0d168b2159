#include "compute/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "compute/blas.hpp"
#include "compute/fast_math.hpp"
#include "gradflow/kernels.hpp"
#include "gradflow/rng.hpp"

namespace gradflow::kernels {

namespace {

// Columns per bias-gradient tile: each column's sum runs over all rows, in order, in one tile.
constexpr int64_t kBiasColumnTile = 64;

// One serial row-major sgemm with explicit leading dimensions (q, k and v are strided views).
void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  blas::sgemm()(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
                beta, c, static_cast<int>(ldc));
}

// Lanes of the row reductions: 16 partial results combined in a fixed order at the end, so
// the loops vectorise (a plain float reduction may not be reordered) and the bits never
// depend on the thread count.
constexpr int kLanes = 16;

// exp(x[j] - max) in place for j < n, returning their sum (torch's softmax keeps the
// exponentials and multiplies by 1/sum afterwards, as scale_row does). fast::exp (within
// 3 ulp) vectorises where std::exp is one call per value.
GRADFLOW_CPU_DISPATCH float exp_shifted(float* __restrict x, int64_t n, float max) {
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      x[j + l] = fast::exp(x[j + l] - max);
      acc[l] += x[j + l];
    }
  for (int l = 0; j < n; ++j, ++l) {
    x[j] = fast::exp(x[j] - max);
    acc[l] += x[j];
  }
  float sum = 0.0f;
  for (const float a : acc) sum += a;
  return sum;
}

GRADFLOW_CPU_DISPATCH float row_max(const float* __restrict x, int64_t n) {
  float acc[kLanes];
  for (float& a : acc) a = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] = acc[l] > x[j + l] ? acc[l] : x[j + l];
  for (int l = 0; j < n; ++j, ++l) acc[l] = acc[l] > x[j] ? acc[l] : x[j];
  float m = acc[0];
  for (const float a : acc) m = m > a ? m : a;
  return m;
}

GRADFLOW_CPU_DISPATCH void scale_row(float* __restrict x, int64_t n, float s) {
  for (int64_t j = 0; j < n; ++j) x[j] *= s;
}

// p[j] = exp(s[j] - lse): the forward's probabilities again, from its log-sum-exp.
GRADFLOW_CPU_DISPATCH void exp_minus(float* __restrict x, int64_t n, float lse) {
  for (int64_t j = 0; j < n; ++j) x[j] = fast::exp(x[j] - lse);
}

// ds[j] = p[j]·(dp[j]·m[j] - dot) (m: the dropout multipliers, or none).
GRADFLOW_CPU_DISPATCH void softmax_grad(const float* __restrict p, const float* __restrict m, float* __restrict dp,
                                        int64_t n, float dot) {
  if (m)
    for (int64_t j = 0; j < n; ++j) dp[j] = p[j] * (dp[j] * m[j] - dot);
  else
    for (int64_t j = 0; j < n; ++j) dp[j] = p[j] * (dp[j] - dot);
}

GRADFLOW_CPU_DISPATCH void multiply(const float* __restrict a, const float* __restrict b, float* __restrict out,
                                    int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = a[j] * b[j];
}

float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
  for (int64_t j = 0; j < n; ++j) s += a[j] * b[j];
  return s;
}

// The dropout multipliers (0 or 1/(1-p)) of rows [i0, i0 + rows) and keys [0, keys) of one head.
void dropout_mask(const AttentionDropout& drop, uint64_t head_base, int64_t t, int64_t i0, int64_t rows,
                  int64_t keys, float* m) {
  const float scale = 1.0f / static_cast<float>(1.0 - drop.p);
  for (int64_t r = 0; r < rows; ++r) {
    const uint64_t row_base = head_base + static_cast<uint64_t>((i0 + r) * t);
    for (int64_t j = 0; j < keys; ++j)
      m[r * keys + j] = Rng::uniform_at(drop.key, row_base + static_cast<uint64_t>(j)) >= drop.p ? scale : 0.0f;
  }
}

// Where one (sample, head) tile reads and writes.
struct Head {
  const float* q;   // [T, d] with leading dimension 3E; k = q + E, v = q + 2E
  int64_t t, d, e;  // sequence length, head size, embedding size
  uint64_t mask_base;  // the tile's first probability in the global batch, for the dropout draws
  int64_t ld() const { return 3 * e; }
  const float* k() const { return q + e; }
  const float* v() const { return q + 2 * e; }
};

Head head_of(const AttentionShape& s, const AttentionDropout& drop, const float* qkv, int64_t b, int64_t h) {
  const int64_t t = s.seq, d = s.head_dim, e = s.embed();
  const auto global_head = static_cast<uint64_t>((drop.first_sample + b) * s.heads + h);
  return {qkv + b * t * 3 * e + h * d, t, d, e, global_head * static_cast<uint64_t>(t * t)};
}

// Keys a block of query rows [i0, i0 + rows) sees: all, or causally up to its last row.
int64_t block_keys(const AttentionShape& s, int64_t i0, int64_t rows) { return s.causal ? i0 + rows : s.seq; }
// Keys row i sees inside its block's [rows, keys) scores.
int64_t row_keys(const AttentionShape& s, int64_t i, int64_t keys) { return s.causal ? i + 1 : keys; }

// The scaled scores of a block, [rows, keys] with leading dimension keys.
void scores(const Head& hd, int64_t i0, int64_t rows, int64_t keys, float* out) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd.d));
  sgemm(false, true, rows, keys, hd.d, scale, hd.q + i0 * hd.ld(), hd.ld(), hd.k(), hd.ld(), 0.0f, out, keys);
}

}  // namespace

double AttentionShape::macs_per_sample() const {
  const double t = static_cast<double>(seq);
  const double pairs = causal ? t * (t + 1) / 2 : t * t;
  return 2.0 * pairs * static_cast<double>(embed());
}

void AttentionCore::forward(const AttentionShape& s, const AttentionDropout& drop, const float* qkv, float* ctx,
                            float* lse, float* probs) {
  const int64_t t = s.seq, e = s.embed(), block = std::min(kQueryBlock, t);
  scratch_.reserve(static_cast<size_t>(2 * block * t));
  for_tiles(s.batch * s.heads, 1, [&](int64_t begin, int64_t end) {
    float* sc = scratch_.get();
    float* mask = sc + block * t;
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t b = tile / s.heads, h = tile % s.heads;
      const Head hd = head_of(s, drop, qkv, b, h);
      float* o = ctx + b * t * e + h * s.head_dim;
      float* head_lse = lse + tile * t;
      for (int64_t i0 = 0; i0 < t; i0 += block) {
        const int64_t rows = std::min(block, t - i0), keys = block_keys(s, i0, rows);
        scores(hd, i0, rows, keys, sc);
        for (int64_t r = 0; r < rows; ++r) {
          float* row = sc + r * keys;
          const int64_t n = row_keys(s, i0 + r, keys);
          const float max = row_max(row, n);
          const float sum = exp_shifted(row, n, max);
          scale_row(row, n, 1.0f / sum);
          std::fill(row + n, row + keys, 0.0f);  // the causal mask: probability exactly 0
          head_lse[i0 + r] = max + std::log(sum);
          if (probs) std::copy(row, row + keys, probs + (tile * t + i0 + r) * t);
        }
        if (drop.active) {
          dropout_mask(drop, hd.mask_base, t, i0, rows, keys, mask);
          multiply(sc, mask, sc, rows * keys);
        }
        sgemm(false, false, rows, s.head_dim, keys, 1.0f, sc, keys, hd.v(), hd.ld(), 0.0f, o + i0 * e, e);
      }
    }
  });
}

void AttentionCore::backward(const AttentionShape& s, const AttentionDropout& drop, const float* qkv,
                             const float* ctx, const float* lse, const float* probs, const float* dctx, float* dqkv) {
  const int64_t t = s.seq, e = s.embed(), d = s.head_dim, ld = 3 * e, block = std::min(kQueryBlock, t);
  scratch_.reserve(static_cast<size_t>(3 * block * t));
  for_tiles(s.batch * s.heads, 1, [&](int64_t begin, int64_t end) {
    float* p = scratch_.get();
    float* dp = p + block * t;
    float* mask = dp + block * t;
    for (int64_t tile = begin; tile < end; ++tile) {
      const int64_t b = tile / s.heads, h = tile % s.heads;
      const Head hd = head_of(s, drop, qkv, b, h);
      const float* o = ctx + b * t * e + h * d;
      const float* go = dctx + b * t * e + h * d;
      float* dq = dqkv + b * t * ld + h * d;
      float* dk = dq + e;
      float* dv = dq + 2 * e;
      // dK and dV sum over every query block, in block order, onto zeros.
      for (int64_t i = 0; i < t; ++i) {
        std::fill(dk + i * ld, dk + i * ld + d, 0.0f);
        std::fill(dv + i * ld, dv + i * ld + d, 0.0f);
      }
      const float* head_lse = lse + tile * t;
      const float scale = 1.0f / std::sqrt(static_cast<float>(d));
      for (int64_t i0 = 0; i0 < t; i0 += block) {
        const int64_t rows = std::min(block, t - i0), keys = block_keys(s, i0, rows);
        if (probs) {
          for (int64_t r = 0; r < rows; ++r) {
            const float* saved = probs + (tile * t + i0 + r) * t;
            std::copy(saved, saved + keys, p + r * keys);
          }
        } else {
          scores(hd, i0, rows, keys, p);
          for (int64_t r = 0; r < rows; ++r) {
            const int64_t n = row_keys(s, i0 + r, keys);
            exp_minus(p + r * keys, n, head_lse[i0 + r]);
            std::fill(p + r * keys + n, p + (r + 1) * keys, 0.0f);
          }
        }
        // dV += (P∘M)ᵀ·dO
        const float* kept = p;
        if (drop.active) {
          dropout_mask(drop, hd.mask_base, t, i0, rows, keys, mask);
          multiply(p, mask, dp, rows * keys);
          kept = dp;
        }
        sgemm(true, false, keys, d, rows, 1.0f, kept, keys, go + i0 * e, e, 1.0f, dv, ld);
        // dP = dO·Vᵀ (∘M), dS = P∘(dP − rowsum(dO∘O))
        sgemm(false, true, rows, keys, d, 1.0f, go + i0 * e, e, hd.v(), ld, 0.0f, dp, keys);
        for (int64_t r = 0; r < rows; ++r) {
          const float delta = dot(go + (i0 + r) * e, o + (i0 + r) * e, d);
          softmax_grad(p + r * keys, drop.active ? mask + r * keys : nullptr, dp + r * keys, keys, delta);
        }
        // dQ = dS·K/√d, dK += dSᵀ·Q/√d
        sgemm(false, false, rows, d, keys, scale, dp, keys, hd.k(), ld, 0.0f, dq + i0 * ld, ld);
        sgemm(true, false, keys, d, rows, scale, dp, keys, hd.q + i0 * ld, ld, 1.0f, dk, ld);
      }
    }
  });
}

GRADFLOW_CPU_DISPATCH static void add_rows(const float* __restrict b, float* __restrict y, int64_t cols,
                                           int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] += b[c];
}

GRADFLOW_CPU_DISPATCH static void column_sums(const float* __restrict g, float* __restrict sum, int64_t rows,
                                              int64_t cols, int64_t begin, int64_t end) {
  for (int64_t c = begin; c < end; ++c) sum[c] = 0.0f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = begin; c < end; ++c) sum[c] += g[r * cols + c];
}

void add_bias_rows(const float* b, float* y, int64_t rows, int64_t cols) {
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / cols);
  for_tiles(rows, grain, [&](int64_t begin, int64_t end) { add_rows(b, y, cols, begin, end); });
}

void sum_columns(const float* g, int64_t rows, int64_t cols, float* sum) {
  for_tiles(cols, kBiasColumnTile, [&](int64_t begin, int64_t end) { column_sums(g, sum, rows, cols, begin, end); });
}

}  // namespace gradflow::kernels
