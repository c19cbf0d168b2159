// The core of multi-head self-attention, torch.nn.MultiheadAttention's numerics: for each
// sample b and head h, O = dropout(softmax(Q·Kᵀ/√d + causal mask))·V, reading Q, K and V in
// place from the in-projection's output [B·T, 3E] (q, k, v side by side, head h at columns
// h·d of each third) and writing O into [B·T, E] at the same columns, ready for the
// out-projection. One tile per (sample, head), fixed by the shape; inside a tile, blocks of
// query rows and serial sgemm calls, so results are bit-identical for any thread count. The
// forward keeps each row's log-sum-exp [B, H, T]; the backward recomputes the probabilities
// from it (flash-attention style) unless the caller lends a [B, H, T, T] buffer for them.
#pragma once

#include <cstdint>
#include <vector>

#include "compute/thread_scratch.hpp"

namespace gradflow::kernels {

struct AttentionShape {
  int64_t batch = 1, seq = 1, heads = 1, head_dim = 1;
  bool causal = false;  // position i attends to keys j <= i only
  int64_t embed() const { return heads * head_dim; }
  // Multiply-adds of the core (Q·Kᵀ and P·V) for one sample; causality skips about half.
  double macs_per_sample() const;
};

// Dropout on the probabilities (training): probability (i, j) of head h of the batch's sample
// b is kept when Rng::uniform_at(key, ((first_sample + b)·H + h)·T·T + i·T + j) >= p, and
// scaled by 1/(1-p), so the mask follows the sample and the backward redraws it.
struct AttentionDropout {
  bool active = false;
  double p = 0.0;
  uint64_t key = 0;
  int64_t first_sample = 0;
};

class AttentionCore {
 public:
  // Query rows per block inside a tile: a block's scores [rows, T] stay in cache.
  static constexpr int64_t kQueryBlock = 64;

  // ctx [B·T, E] and lse [B·H·T] from qkv [B·T, 3E]; probs, when not null, [B·H·T·T]
  // receives the probabilities (before dropout) for the backward to reuse.
  void forward(const AttentionShape& s, const AttentionDropout& drop, const float* qkv, float* ctx, float* lse,
               float* probs);
  // Assigns dqkv [B·T, 3E] from dctx [B·T, E]; qkv, ctx, lse (and probs, when the forward
  // filled it) are the forward's.
  void backward(const AttentionShape& s, const AttentionDropout& drop, const float* qkv, const float* ctx,
                const float* lse, const float* probs, const float* dctx, float* dqkv);

 private:
  // Score blocks, one buffer per thread slot of the current arena, sized before the tiles start.
  ThreadScratch scratch_{"multihead_attention"};
};

// Row and column helpers for the projections, split in tiles fixed by the shape.
// y[r, :] += b for every row of y [rows, cols].
void add_bias_rows(const float* b, float* y, int64_t rows, int64_t cols);
// sum[c] = Σ_r g[r, c], each column summed over all rows in row order.
void sum_columns(const float* g, int64_t rows, int64_t cols, float* sum);

}  // namespace gradflow::kernels
