#include "compute/recurrent_cells.hpp"

#include <algorithm>

#include "compute/fast_math.hpp"
#include "gradflow/kernels.hpp"

namespace gradflow::kernels {

namespace {

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
    float* g = s.gates + b * gh;
    const float* hh = s.hh + b * gh;
    const float* c_prev = s.c_prev + b * hidden;
    float* c = s.state + b * hidden;
    float* h = s.h + b * hidden;
    float* out = s.out + b * s.out_stride;
    for (int64_t k = 0; k < 2 * hidden; ++k) g[k] = sigmoid(with_bias(hh, s.b_hh, k) + g[k]);
    for (int64_t k = 2 * hidden; k < 3 * hidden; ++k) g[k] = fast::tanh(with_bias(hh, s.b_hh, k) + g[k]);
    for (int64_t k = 3 * hidden; k < gh; ++k) g[k] = sigmoid(with_bias(hh, s.b_hh, k) + g[k]);
    for (int64_t j = 0; j < hidden; ++j) {
      const float i = g[j], f = g[hidden + j], cell = g[2 * hidden + j], o = g[3 * hidden + j];
      c[j] = f * c_prev[j] + i * cell;
      h[j] = o * fast::tanh(c[j]);
      out[j] = h[j];
    }
  }
}

// torch's GRUCell: r, z from the summed projections; n = tanh(x_n + r·(W_hn·h + b_hn));
// h = (h_prev - n)·z + n.
GRADFLOW_CPU_DISPATCH
void gru_rows_forward(const StepForward& s, int64_t hidden, int64_t b0, int64_t b1) {
  const int64_t gh = 3 * hidden;
  for (int64_t b = b0; b < b1; ++b) {
    float* g = s.gates + b * gh;
    const float* hh = s.hh + b * gh;
    const float* h_prev = s.h_prev + b * hidden;
    float* hn = s.state + b * hidden;
    float* h = s.h + b * hidden;
    float* out = s.out + b * s.out_stride;
    for (int64_t k = 0; k < 2 * hidden; ++k) g[k] = sigmoid(with_bias(hh, s.b_hh, k) + g[k]);
    for (int64_t j = 0; j < hidden; ++j) {
      hn[j] = with_bias(hh, s.b_hh, 2 * hidden + j);
      const float r = g[j], z = g[hidden + j];
      const float n = fast::tanh(g[2 * hidden + j] + r * hn[j]);
      g[2 * hidden + j] = n;
      h[j] = (h_prev[j] - n) * z + n;
      out[j] = h[j];
    }
  }
}

GRADFLOW_CPU_DISPATCH
void lstm_rows_backward(const StepBackward& s, int64_t hidden, int64_t b0, int64_t b1) {
  const int64_t gh = 4 * hidden;
  for (int64_t b = b0; b < b1; ++b) {
    const float* g = s.gates + b * gh;
    const float* c = s.state + b * hidden;
    const float* c_prev = s.c_prev + b * hidden;
    const float* dout = s.dout + b * s.dout_stride;
    float* dh = s.dh + b * hidden;
    float* dc = s.dc + b * hidden;
    float* dg = s.dgates + b * gh;
    for (int64_t j = 0; j < hidden; ++j) {
      const float i = g[j], f = g[hidden + j], cell = g[2 * hidden + j], o = g[3 * hidden + j];
      const float dh_total = dout[j] + dh[j];
      const float tc = fast::tanh(c[j]);
      const float dc_total = dc[j] + dh_total * o * (1.0f - tc * tc);
      dg[j] = dc_total * cell * i * (1.0f - i);
      dg[hidden + j] = dc_total * c_prev[j] * f * (1.0f - f);
      dg[2 * hidden + j] = dc_total * i * (1.0f - cell * cell);
      dg[3 * hidden + j] = dh_total * tc * o * (1.0f - o);
      dc[j] = dc_total * f;
    }
  }
}

GRADFLOW_CPU_DISPATCH
void gru_rows_backward(const StepBackward& s, int64_t hidden, int64_t b0, int64_t b1) {
  const int64_t gh = 3 * hidden;
  for (int64_t b = b0; b < b1; ++b) {
    const float* g = s.gates + b * gh;
    const float* hn = s.state + b * hidden;
    const float* h_prev = s.h_prev + b * hidden;
    const float* dout = s.dout + b * s.dout_stride;
    float* dh = s.dh + b * hidden;
    float* dg = s.dgates + b * gh;
    float* dg_hh = s.dgates_hh + b * gh;
    for (int64_t j = 0; j < hidden; ++j) {
      const float r = g[j], z = g[hidden + j], n = g[2 * hidden + j];
      const float dh_total = dout[j] + dh[j];
      const float dn_pre = dh_total * (1.0f - z) * (1.0f - n * n);
      const float dr_pre = dn_pre * hn[j] * r * (1.0f - r);
      const float dz_pre = dh_total * (h_prev[j] - n) * z * (1.0f - z);
      dg[j] = dg_hh[j] = dr_pre;
      dg[hidden + j] = dg_hh[hidden + j] = dz_pre;
      dg[2 * hidden + j] = dn_pre;
      dg_hh[2 * hidden + j] = dn_pre * r;
      dh[j] = dh_total * z;
    }
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
