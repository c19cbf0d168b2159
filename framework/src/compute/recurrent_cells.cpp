#include "compute/recurrent_cells.hpp"

#include <algorithm>

#include "compute/fast_math.hpp"
#include "gradflow/kernels.hpp"

namespace gradflow::kernels {

namespace {

// The row pointers below are __restrict: a step's buffers never overlap, and without the promise
// GCC vectorises none of the state-update loops (too many pairs to check at run time).
[[gnu::always_inline]] inline float sigmoid(float x) { return 1.0f / (1.0f + fast::exp(-x)); }

// The recurrent product's bias, when there is one (torch: W_hh·h + b_hh, then + the input side).
[[gnu::always_inline]] inline float with_bias(const float* hh, const float* b, int64_t k) {
  return b ? hh[k] + b[k] : hh[k];
}

// torch's LSTMCell: i, f, g, o from the summed projections; c = f·c_prev + i·g; h = o·tanh(c).
GRADFLOW_CPU_DISPATCH
void lstm_rows_forward(const StepForward& s, int64_t hidden, int64_t b0, int64_t b1) {
  const int64_t gh = 4 * hidden;
  for (int64_t b = b0; b < b1; ++b) {
    float* __restrict g = s.gates + b * gh;
    const float* __restrict hh = s.hh + b * gh;
    const float* __restrict c_prev = s.c_prev + b * hidden;
    float* __restrict c = s.state + b * hidden;
    float* __restrict h = s.h + b * hidden;
    float* __restrict out = s.out + b * s.out_stride;
    for (int64_t k = 0; k < 2 * hidden; ++k) g[k] = sigmoid(with_bias(hh, s.b_hh, k) + g[k]);
    for (int64_t k = 2 * hidden; k < 3 * hidden; ++k) g[k] = fast::tanh(with_bias(hh, s.b_hh, k) + g[k]);
    for (int64_t k = 3 * hidden; k < gh; ++k) g[k] = sigmoid(with_bias(hh, s.b_hh, k) + g[k]);
    const float* __restrict gi = g;
    const float* __restrict gf = g + hidden;
    const float* __restrict gg = g + 2 * hidden;
    const float* __restrict go = g + 3 * hidden;
    for (int64_t j = 0; j < hidden; ++j) c[j] = gf[j] * c_prev[j] + gi[j] * gg[j];
    for (int64_t j = 0; j < hidden; ++j) h[j] = go[j] * fast::tanh(c[j]);
    std::copy_n(h, hidden, out);
  }
}

// torch's GRUCell: r, z from the summed projections; n = tanh(x_n + r·(W_hn·h + b_hn));
// h = (h_prev - n)·z + n.
GRADFLOW_CPU_DISPATCH
void gru_rows_forward(const StepForward& s, int64_t hidden, int64_t b0, int64_t b1) {
  const int64_t gh = 3 * hidden;
  for (int64_t b = b0; b < b1; ++b) {
    float* __restrict g = s.gates + b * gh;
    const float* __restrict hh = s.hh + b * gh;
    const float* __restrict h_prev = s.h_prev + b * hidden;
    float* __restrict hn = s.state + b * hidden;
    float* __restrict h = s.h + b * hidden;
    float* __restrict out = s.out + b * s.out_stride;
    for (int64_t k = 0; k < 2 * hidden; ++k) g[k] = sigmoid(with_bias(hh, s.b_hh, k) + g[k]);
    const float* __restrict gr = g;
    const float* __restrict gz = g + hidden;
    float* __restrict gn = g + 2 * hidden;
    const float* __restrict hh_n = hh + 2 * hidden;
    const float* __restrict b_n = s.b_hh ? s.b_hh + 2 * hidden : nullptr;
    if (b_n) for (int64_t j = 0; j < hidden; ++j) hn[j] = hh_n[j] + b_n[j];
    else std::copy_n(hh_n, hidden, hn);
    for (int64_t j = 0; j < hidden; ++j) gn[j] = fast::tanh(gn[j] + gr[j] * hn[j]);
    for (int64_t j = 0; j < hidden; ++j) h[j] = (h_prev[j] - gn[j]) * gz[j] + gn[j];
    std::copy_n(h, hidden, out);
  }
}

GRADFLOW_CPU_DISPATCH
void lstm_rows_backward(const StepBackward& s, int64_t hidden, int64_t b0, int64_t b1) {
  const int64_t gh = 4 * hidden;
  for (int64_t b = b0; b < b1; ++b) {
    const float* __restrict g = s.gates + b * gh;
    const float* __restrict c = s.state + b * hidden;
    const float* __restrict c_prev = s.c_prev + b * hidden;
    const float* __restrict dout = s.dout + b * s.dout_stride;
    float* __restrict dh = s.dh + b * hidden;
    float* __restrict dc = s.dc + b * hidden;
    float* __restrict dg = s.dgates + b * gh;
    const float* __restrict gi = g;
    const float* __restrict gf = g + hidden;
    const float* __restrict gg = g + 2 * hidden;
    const float* __restrict go = g + 3 * hidden;
    float* __restrict dgi = dg;
    float* __restrict dgf = dg + hidden;
    float* __restrict dgg = dg + 2 * hidden;
    float* __restrict dgo = dg + 3 * hidden;
    // Short loops over few streams each: GCC vectorises these, not the one loop doing it all.
    // dh becomes the total gradient of h (the recurrent gemm assigns it afterwards), dc that of c.
    for (int64_t j = 0; j < hidden; ++j) dh[j] += dout[j];
    for (int64_t j = 0; j < hidden; ++j) {
      const float tc = fast::tanh(c[j]), o = go[j];
      dgo[j] = dh[j] * tc * o * (1.0f - o);
      dc[j] += dh[j] * o * (1.0f - tc * tc);
    }
    for (int64_t j = 0; j < hidden; ++j) {
      const float i = gi[j], cell = gg[j];
      dgi[j] = dc[j] * cell * i * (1.0f - i);
      dgg[j] = dc[j] * i * (1.0f - cell * cell);
    }
    for (int64_t j = 0; j < hidden; ++j) {
      const float f = gf[j];
      dgf[j] = dc[j] * c_prev[j] * f * (1.0f - f);
      dc[j] *= f;
    }
  }
}

GRADFLOW_CPU_DISPATCH
void gru_rows_backward(const StepBackward& s, int64_t hidden, int64_t b0, int64_t b1) {
  const int64_t gh = 3 * hidden;
  for (int64_t b = b0; b < b1; ++b) {
    const float* __restrict g = s.gates + b * gh;
    const float* __restrict hn = s.state + b * hidden;
    const float* __restrict h_prev = s.h_prev + b * hidden;
    const float* __restrict dout = s.dout + b * s.dout_stride;
    float* __restrict dh = s.dh + b * hidden;
    float* __restrict dg = s.dgates + b * gh;
    float* __restrict dg_hh = s.dgates_hh + b * gh;
    const float* __restrict gr = g;
    const float* __restrict gz = g + hidden;
    const float* __restrict gn = g + 2 * hidden;
    float* __restrict dgr = dg;
    float* __restrict dgz = dg + hidden;
    float* __restrict dgn = dg + 2 * hidden;
    float* __restrict dhr = dg_hh;
    float* __restrict dhz = dg_hh + hidden;
    float* __restrict dhn = dg_hh + 2 * hidden;
    for (int64_t j = 0; j < hidden; ++j) dh[j] += dout[j];  // the total gradient of h
    for (int64_t j = 0; j < hidden; ++j) dgn[j] = dh[j] * (1.0f - gz[j]) * (1.0f - gn[j] * gn[j]);
    for (int64_t j = 0; j < hidden; ++j) dgz[j] = dh[j] * (h_prev[j] - gn[j]) * gz[j] * (1.0f - gz[j]);
    std::copy_n(dgz, hidden, dhz);
    for (int64_t j = 0; j < hidden; ++j) {
      const float r = gr[j];
      dhn[j] = dgn[j] * r;
      dgr[j] = dgn[j] * hn[j] * r * (1.0f - r);
    }
    std::copy_n(dgr, hidden, dhr);
    for (int64_t j = 0; j < hidden; ++j) dh[j] *= gz[j];
  }
}

// Rows per tile: about one elementwise grain of gate values.
int64_t row_grain(int64_t hidden) { return std::max<int64_t>(1, kElementwiseGrain / (4 * hidden)); }

}  // namespace

void step_forward(RecurrentCell cell, const StepForward& step, int64_t batch, int64_t hidden) {
  for_tiles(batch, row_grain(hidden), [&](int64_t b0, int64_t b1) {
    if (cell == RecurrentCell::Lstm) lstm_rows_forward(step, hidden, b0, b1);
    else gru_rows_forward(step, hidden, b0, b1);
  });
}

void step_backward(RecurrentCell cell, const StepBackward& step, int64_t batch, int64_t hidden) {
  for_tiles(batch, row_grain(hidden), [&](int64_t b0, int64_t b1) {
    if (cell == RecurrentCell::Lstm) lstm_rows_backward(step, hidden, b0, b1);
    else gru_rows_backward(step, hidden, b0, b1);
  });
}

}  // namespace gradflow::kernels
