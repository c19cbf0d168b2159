#include "compute/conv.hpp"

#include <algorithm>

#include "compute/blas.hpp"
#include "compute/depthwise.hpp"
#include "compute/lane_sum.hpp"
#include "compute/window.hpp"
#include "gradflow/kernels.hpp"

namespace gradflow::kernels {

namespace {

// Multiply-adds per sample tile: enough to amortise a task and the sgemm calls' set-up, small
// enough that a batch of 32 small images still splits over several cores.
constexpr double kTileWork = double(1 << 22);
// At most this many weight-gradient partial sums: a batch of small samples is split into at
// most 32 groups for the backward pass, so that reducing the partials (each the size of the
// weight) stays cheap beside the products. Fixed, not the thread count: bits never change.
constexpr int64_t kMaxWeightPartials = 32;
// Output channels per bias-gradient tile: each channel's sum runs over the whole batch in
// order inside one tile.
constexpr int64_t kBiasChannelTile = 16;

// Visits every kernel tap (c, i, j) of one sample with its im2col row and the runs of output
// rows and columns that read inside the input; fn(row, plane offset of c, ih/iw offsets, runs).
// It and its callers' lambdas are always inlined: called, they would be compiled once for the
// baseline instruction set instead of in each GRADFLOW_CPU_DISPATCH clone, and not vectorised.
template <class Fn>
[[gnu::always_inline]] inline void for_each_tap(const ConvShape& s, int64_t oh_count, int64_t ow_count, const Fn& fn) {
  const int64_t kh = s.kernel[0], kw = s.kernel[1];
  for (int64_t c = 0; c < s.channels; ++c)
    for (int64_t i = 0; i < kh; ++i) {
      const int64_t dh = i * s.dilation[0] - s.padding[0];  // ih = oh·stride + dh
      const Run rows = inside_run(oh_count, s.stride[0], s.padding[0], i * s.dilation[0], s.height);
      for (int64_t j = 0; j < kw; ++j) {
        const int64_t dw = j * s.dilation[1] - s.padding[1];  // iw = ow·stride + dw
        const Run cols = inside_run(ow_count, s.stride[1], s.padding[1], j * s.dilation[1], s.width);
        fn((c * kh + i) * kw + j, c * s.height * s.width, dh, dw, rows, cols);
      }
    }
}

// col [C·kh·kw, OH·OW] from one sample x [C, H, W]: row (c, i, j) holds the input under tap
// (i, j) of channel c for every output position, zero where it falls in the padding.
GRADFLOW_CPU_DISPATCH void im2col(const ConvShape& s, const float* __restrict x, float* __restrict col) {
  const int64_t oh_count = s.out_height(), ow_count = s.out_width(), sh = s.stride[0], sw = s.stride[1];
  const int64_t positions = oh_count * ow_count;
  for_each_tap(s, oh_count, ow_count, [&](int64_t row, int64_t plane, int64_t dh, int64_t dw, Run rows, Run cols)
                                           __attribute__((always_inline)) {
    float* dst = col + row * positions;
    std::fill(dst, dst + rows.first * ow_count, 0.0f);
    for (int64_t oh = rows.first; oh < rows.last; ++oh) {
      float* d = dst + oh * ow_count;
      const float* src = x + plane + (oh * sh + dh) * s.width + dw;  // src[ow·sw] for ow in cols
      std::fill(d, d + cols.first, 0.0f);
      for (int64_t ow = cols.first; ow < cols.last; ++ow) d[ow] = src[ow * sw];
      std::fill(d + cols.last, d + ow_count, 0.0f);
    }
    std::fill(dst + rows.last * ow_count, dst + positions, 0.0f);
  });
}

// The adjoint of im2col: adds every col value back onto the input position it was read from
// (gx must be zeroed first). Serial per sample, so the additions run in one fixed order.
GRADFLOW_CPU_DISPATCH void col2im(const ConvShape& s, const float* __restrict col, float* __restrict gx) {
  const int64_t oh_count = s.out_height(), ow_count = s.out_width(), sh = s.stride[0], sw = s.stride[1];
  const int64_t positions = oh_count * ow_count;
  for_each_tap(s, oh_count, ow_count, [&](int64_t row, int64_t plane, int64_t dh, int64_t dw, Run rows, Run cols)
                                           __attribute__((always_inline)) {
    const float* src = col + row * positions;
    for (int64_t oh = rows.first; oh < rows.last; ++oh) {
      const float* d = src + oh * ow_count;
      float* dst = gx + plane + (oh * sh + dh) * s.width + dw;
      for (int64_t ow = cols.first; ow < cols.last; ++ow) dst[ow * sw] += d[ow];
    }
  });
}

// Σ of one output plane (the bias gradient), compiled per instruction set.
GRADFLOW_CPU_DISPATCH double plane_total(const float* __restrict plane, int64_t n) { return lane_sum(plane, n); }

// gw[i] += Σ over tiles 1.. of partial_t[i], tiles in order, for i in [begin, end).
GRADFLOW_CPU_DISPATCH void add_partials(const float* __restrict partials, int64_t tiles, int64_t size,
                                        float* __restrict gw, int64_t begin, int64_t end) {
  for (int64_t t = 0; t < tiles; ++t) {
    const float* p = partials + t * size;
    for (int64_t i = begin; i < end; ++i) gw[i] += p[i];
  }
}

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
           int64_t ldb, float beta, float* c, int64_t ldc) {
  blas::sgemm()(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a,
                static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

}  // namespace

int64_t ConvShape::out_height() const {
  return std::max<int64_t>(0, window_count(height, kernel[0], stride[0], padding[0], dilation[0], false));
}

int64_t ConvShape::out_width() const {
  return std::max<int64_t>(0, window_count(width, kernel[1], stride[1], padding[1], dilation[1], false));
}

double ConvShape::macs_per_sample() const {
  return static_cast<double>(out_channels) * static_cast<double>(group_rows()) * static_cast<double>(positions());
}

Conv2d::Conv2d(const ConvShape& shape)
    : s_(shape),
      direct_(shape.kernel[0] == 1 && shape.kernel[1] == 1 && shape.stride[0] == 1 && shape.stride[1] == 1 &&
              shape.padding[0] == 0 && shape.padding[1] == 0),
      depthwise_(is_depthwise(shape)),
      col_size_(shape.channels * shape.kernel[0] * shape.kernel[1] * shape.positions()),
      tile_(std::max<int64_t>(1, static_cast<int64_t>(kTileWork / std::max(1.0, shape.macs_per_sample())))) {}

void Conv2d::reserve_buffers() {
  if (uses_columns()) columns_.reserve(static_cast<size_t>(col_size_));
}

void Conv2d::forward(const float* x, int64_t batch, const float* weight, const float* bias, float* y) {
  if (batch <= 0) return;
  reserve_buffers();
  const int64_t in_size = s_.channels * s_.height * s_.width, out_size = s_.out_channels * s_.positions();
  // Tiles call only serial code: a thread waiting inside a tile could otherwise steal another
  // tile of this loop and reuse its own im2col buffer under it.
  for_tiles(batch, tile_, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) forward_sample(x + n * in_size, weight, bias, y + n * out_size);
  });
}

void Conv2d::forward_sample(const float* x, const float* weight, const float* bias, float* y) {
  if (depthwise_) return depthwise_forward(s_, x, weight, bias, y);
  const float* col = x;
  if (!direct_) {
    float* buffer = columns_.get();
    im2col(s_, x, buffer);
    col = buffer;
  }
  product(col, weight, bias, y);
}

void Conv2d::product(const float* col, const float* weight, const float* bias, float* y) const {
  const int64_t positions = s_.positions(), k = s_.group_rows(), go = s_.group_out();
  for (int64_t g = 0; g < s_.groups; ++g) {
    float* yg = y + g * go * positions;
    if (bias)  // the product adds onto the bias (beta 1), as torch's addmm does
      for (int64_t o = 0; o < go; ++o) std::fill(yg + o * positions, yg + (o + 1) * positions, bias[g * go + o]);
    sgemm(false, false, go, positions, k, weight + g * go * k, k, col + g * k * positions, positions,
          bias ? 1.0f : 0.0f, yg, positions);
  }
}

void Conv2d::backward(const float* x, int64_t batch, const float* weight, const float* gy, float* gx, float* gw,
                      float* gb, float* y) {
  const int64_t weight_size = s_.out_channels * s_.group_rows();
  if (batch <= 0) {
    std::fill(gw, gw + weight_size, 0.0f);
    if (gb) std::fill(gb, gb + s_.out_channels, 0.0f);
    return;
  }
  reserve_buffers();
  const int64_t tile = std::max(tile_, (batch + kMaxWeightPartials - 1) / kMaxWeightPartials);
  const int64_t tiles = (batch + tile - 1) / tile;
  const auto partial_size = static_cast<size_t>((tiles - 1) * weight_size);
  if (partials_.size() < partial_size) partials_.resize(partial_size);
  for_tiles(tiles, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      backward_tile(x, t * tile, std::min(batch, (t + 1) * tile), weight, gy, gx,
                    t == 0 ? gw : partials_.data() + (t - 1) * weight_size, y);
  });
  reduce_partials(tiles, gw);
  if (gb) channel_sums(gy, batch, s_.out_channels, s_.positions(), gb);
}

void Conv2d::backward_tile(const float* x, int64_t begin, int64_t end, const float* weight, const float* gy,
                           float* gx, float* gw_partial, float* y) {
  const int64_t positions = s_.positions(), k = s_.group_rows(), go = s_.group_out();
  const int64_t in_size = s_.channels * s_.height * s_.width, out_size = s_.out_channels * positions;
  float* buffer = uses_columns() ? columns_.get() : nullptr;
  for (int64_t n = begin; n < end; ++n) {
    const float* xn = x + n * in_size;
    const float* gyn = gy + n * out_size;
    if (depthwise_) {
      depthwise_weight_gradient(s_, xn, gyn, gw_partial, n != begin);
      if (y) depthwise_forward(s_, xn, weight, nullptr, y + n * out_size);
      if (gx) depthwise_input_gradient(s_, weight, gyn, gx + n * in_size);
      continue;
    }
    const float* col = xn;
    if (!direct_) {
      im2col(s_, xn, buffer);
      col = buffer;
    }
    // gw_g [go, k] (+)= gy_g [go, P] · col_gᵀ [P, k]: the tile's samples add in order.
    for (int64_t g = 0; g < s_.groups; ++g)
      sgemm(false, true, go, k, positions, gyn + g * go * positions, positions, col + g * k * positions, positions,
            n == begin ? 0.0f : 1.0f, gw_partial + g * go * k, k);
    if (y) product(col, weight, nullptr, y + n * out_size);  // before gx's product reuses the buffer
    if (gx) input_gradient_sample(weight, gyn, gx + n * in_size, buffer);
  }
}

void Conv2d::input_gradient_sample(const float* weight, const float* gy, float* gx, float* buffer) {
  if (depthwise_) return depthwise_input_gradient(s_, weight, gy, gx);
  const int64_t positions = s_.positions(), k = s_.group_rows(), go = s_.group_out();
  // dcol_g [k, P] = W_gᵀ [k, go] · gy_g [go, P]; a direct conv's dcol is gx itself.
  float* dcol = direct_ ? gx : buffer;
  for (int64_t g = 0; g < s_.groups; ++g)
    sgemm(true, false, k, positions, go, weight + g * go * k, k, gy + g * go * positions, positions, 0.0f,
          dcol + g * k * positions, positions);
  if (direct_) return;
  std::fill(gx, gx + s_.channels * s_.height * s_.width, 0.0f);
  col2im(s_, buffer, gx);
}

void Conv2d::input_gradient(const float* weight, const float* gy, int64_t batch, float* gx) {
  if (batch <= 0) return;
  reserve_buffers();
  const int64_t in_size = s_.channels * s_.height * s_.width, out_size = s_.out_channels * s_.positions();
  for_tiles(batch, tile_, [&](int64_t begin, int64_t end) {
    float* buffer = uses_columns() ? columns_.get() : nullptr;
    for (int64_t n = begin; n < end; ++n) input_gradient_sample(weight, gy + n * out_size, gx + n * in_size, buffer);
  });
}

void Conv2d::reduce_partials(int64_t tiles, float* gw) const {
  if (tiles <= 1) return;
  const int64_t size = s_.out_channels * s_.group_rows();
  const float* partials = partials_.data();
  for_tiles(size, kElementwiseGrain,
            [&](int64_t begin, int64_t end) { add_partials(partials, tiles - 1, size, gw, begin, end); });
}

void channel_sums(const float* gy, int64_t batch, int64_t channels, int64_t positions, float* gb) {
  // Each channel sums one plane per sample in float lanes and the samples in double, in order:
  // vectorised, and the batch total of a 28x28 output keeps float precision.
  for_tiles(channels, kBiasChannelTile, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      double total = 0.0;
      for (int64_t n = 0; n < batch; ++n) total += plane_total(gy + (n * channels + o) * positions, positions);
      gb[o] = static_cast<float>(total);
    }
  });
}

void ConvTranspose2d::forward(const float* x, int64_t batch, const float* weight, const float* bias, float* y) {
  conv_.input_gradient(weight, x, batch, y);
  if (!bias) return;
  const int64_t channels = s_.channels, positions = s_.height * s_.width;
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, positions));
  for_tiles(batch * channels, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      float* plane = y + p * positions;
      const float b = bias[p % channels];
      for (int64_t i = 0; i < positions; ++i) plane[i] += b;
    }
  });
}

void ConvTranspose2d::backward(const float* x, int64_t batch, const float* weight, const float* gy, float* gx,
                               float* gw, float* gb) {
  // The adjoint conv reads gy as its input and x as its output gradient; its forward of gy,
  // from the same im2col columns, is gx.
  conv_.backward(gy, batch, weight, x, nullptr, gw, nullptr, gx);
  if (gb) channel_sums(gy, batch, s_.channels, s_.height * s_.width, gb);
}

}  // namespace gradflow::kernels
