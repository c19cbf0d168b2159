#include "compute/recurrent.hpp"

#include <algorithm>

#include "compute/attention.hpp"  // add_bias_rows, sum_columns
#include "gradflow/kernels.hpp"
#include "gradflow/rng.hpp"

namespace gradflow::kernels {

namespace {

// dst [n1, n0, k] from src [n0, n1, k]: batch-first to time-major and back.
void swap_leading_axes(const float* src, int64_t n0, int64_t n1, int64_t k, float* dst) {
  for_tiles(n0, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, n1 * k)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j < n1; ++j) std::copy_n(src + (i * n1 + j) * k, k, dst + (j * n0 + i) * k);
  });
}

// Where direction d keeps h_t in its hidden buffer of T+1 blocks: the forward direction starts
// from the zero block 0, the reverse one from the zero block T, so that for either the
// previous states of all T steps are T consecutive blocks (one gemm for the weight gradient).
int64_t hidden_block(int64_t t, int64_t direction) { return direction == 0 ? t + 1 : t; }
int64_t previous_block(int64_t t, int64_t direction) { return direction == 0 ? t : t + 1; }
// Time of the s-th step a direction takes.
int64_t time_of(int64_t s, int64_t seq, int64_t direction) { return direction == 0 ? s : seq - 1 - s; }

}  // namespace

void RecurrentNet::size_workspaces(const RecurrentShape& s, int64_t batch, bool training_dropout) {
  const int64_t rows = s.seq * batch, gh = s.gates() * s.hidden, h = s.hidden;
  directions_.resize(static_cast<size_t>(s.layers * s.directions));
  outputs_.resize(static_cast<size_t>(s.layers));
  dropped_.resize(static_cast<size_t>(s.layers));
  masks_.resize(static_cast<size_t>(s.layers));
  dinputs_.resize(static_cast<size_t>(s.layers));
  input_.resize({rows, s.input});
  for (int64_t l = 0; l < s.layers; ++l) {
    outputs_[static_cast<size_t>(l)].resize({rows, s.output_width()});
    if (l > 0 && training_dropout) {
      dropped_[static_cast<size_t>(l)].resize({rows, s.output_width()});
      masks_[static_cast<size_t>(l)].resize({rows, s.output_width()});
    }
  }
  for (Direction& d : directions_) {
    d.gates.resize({rows, gh});
    d.hidden.resize({rows + batch, h});
    d.state.resize({rows, h});
    d.step.resize({batch, gh});
  }
}

const float* RecurrentNet::layer_input(int64_t layer) const {
  if (layer == 0) return input_.data();
  const auto l = static_cast<size_t>(layer);
  return dropout_applied_ ? dropped_[l].data() : outputs_[l - 1].data();
}

void RecurrentNet::forward_direction(const RecurrentShape& s, int64_t batch, int64_t layer, int64_t direction,
                                     const RecurrentWeights& w) {
  Direction& d = directions_[static_cast<size_t>(layer * s.directions + direction)];
  const int64_t rows = s.seq * batch, gh = s.gates() * s.hidden, h = s.hidden, block = batch * h;
  // The input side of all T steps at once.
  gemm(false, true, rows, gh, s.input_width(layer), 1.0f, layer_input(layer), w.w_ih, 0.0f, d.gates.data());
  if (w.b_ih) add_bias_rows(w.b_ih, d.gates.data(), rows, gh);
  float* hidden = d.hidden.data();
  const float* zeros = hidden + (direction == 0 ? 0 : s.seq) * block;
  std::fill_n(hidden + (direction == 0 ? 0 : s.seq) * block, block, 0.0f);
  float* out = outputs_[static_cast<size_t>(layer)].data();
  for (int64_t step = 0; step < s.seq; ++step) {
    const int64_t t = time_of(step, s.seq, direction);
    const float* h_prev = hidden + previous_block(t, direction) * block;
    gemm(false, true, batch, gh, h, 1.0f, h_prev, w.w_hh, 0.0f, d.step.data());
    StepForward f;
    f.gates = d.gates.data() + t * batch * gh;
    f.hh = d.step.data();
    f.b_hh = w.b_hh;
    f.h_prev = h_prev;
    f.c_prev = step == 0 ? zeros : d.state.data() + time_of(step - 1, s.seq, direction) * block;
    f.state = d.state.data() + t * block;
    f.h = hidden + hidden_block(t, direction) * block;
    f.out = out + t * batch * s.output_width() + direction * h;
    f.out_stride = s.output_width();
    step_forward(s.cell, f, batch, h);
  }
}

void RecurrentNet::forward(const RecurrentShape& s, int64_t batch, std::span<const RecurrentWeights> weights,
                           const RecurrentDropout& drop, const float* x, bool last, float* y) {
  dropout_applied_ = drop.active && drop.p > 0.0 && s.layers > 1;
  size_workspaces(s, batch, dropout_applied_);
  swap_leading_axes(x, batch, s.seq, s.input, input_.data());
  const int64_t width = s.output_width(), rows = s.seq * batch;
  for (int64_t l = 0; l < s.layers; ++l) {
    // The directions of a layer are independent: one task each.
    for_tiles(s.directions, 1, [&](int64_t d0, int64_t d1) {
      for (int64_t d = d0; d < d1; ++d)
        forward_direction(s, batch, l, d, weights[static_cast<size_t>(l * s.directions + d)]);
    });
    if (!dropout_applied_ || l + 1 == s.layers) continue;
    const float scale = 1.0f / static_cast<float>(1.0 - drop.p);
    const float* out = outputs_[static_cast<size_t>(l)].data();
    float* mask = masks_[static_cast<size_t>(l + 1)].data();
    float* dropped = dropped_[static_cast<size_t>(l + 1)].data();
    for_tiles(rows, std::max<int64_t>(1, kElementwiseGrain / width), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t t = r / batch, b = r % batch;
        const auto first = static_cast<uint64_t>((((drop.first_sample + b) * s.layers + l) * s.seq + t) * width);
        for (int64_t j = 0; j < width; ++j) {
          const bool keep = Rng::uniform_at(drop.key, first + static_cast<uint64_t>(j)) >= drop.p;
          mask[r * width + j] = keep ? scale : 0.0f;
          dropped[r * width + j] = out[r * width + j] * mask[r * width + j];
        }
      }
    });
  }
  const float* top = outputs_.back().data();
  if (!last) {
    swap_leading_axes(top, s.seq, batch, width, y);
    return;
  }
  // Each direction's final state: the forward one's at t = T-1, the reverse one's at t = 0.
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t d = 0; d < s.directions; ++d) {
      const int64_t t = d == 0 ? s.seq - 1 : 0;
      std::copy_n(top + (t * batch + b) * width + d * s.hidden, s.hidden, y + b * width + d * s.hidden);
    }
}

void RecurrentNet::backward_direction(const RecurrentShape& s, int64_t batch, int64_t layer, int64_t direction,
                                      const RecurrentWeights& w) {
  Direction& d = directions_[static_cast<size_t>(layer * s.directions + direction)];
  const int64_t rows = s.seq * batch, gh = s.gates() * s.hidden, h = s.hidden, block = batch * h;
  const bool gru = s.cell == RecurrentCell::Gru;
  d.dgates.resize({rows, gh});
  if (gru) d.dgates_hh.resize({rows, gh});
  d.dh.resize({batch, h});
  d.dc.resize({batch, h});
  d.dh.zero();
  d.dc.zero();
  float* dgates_hh = gru ? d.dgates_hh.data() : d.dgates.data();
  const float* hidden = d.hidden.data();
  const float* zeros = hidden + (direction == 0 ? 0 : s.seq) * block;
  const bool top = layer + 1 == s.layers;
  const float* dout = (top ? doutput_ : dinputs_[static_cast<size_t>(layer + 1)]).data();
  for (int64_t step = s.seq - 1; step >= 0; --step) {
    const int64_t t = time_of(step, s.seq, direction);
    StepBackward b;
    b.gates = d.gates.data() + t * batch * gh;
    b.state = d.state.data() + t * block;
    b.h_prev = hidden + previous_block(t, direction) * block;
    b.c_prev = step == 0 ? zeros : d.state.data() + time_of(step - 1, s.seq, direction) * block;
    b.dout = dout + t * batch * s.output_width() + direction * h;
    b.dout_stride = s.output_width();
    b.dh = d.dh.data();
    b.dc = d.dc.data();
    b.dgates = d.dgates.data() + t * batch * gh;
    b.dgates_hh = dgates_hh + t * batch * gh;
    step_backward(s.cell, b, batch, h);
    // The gradient of h_prev through the recurrent product (GRU adds it to z·dh).
    if (step > 0) gemm(false, false, batch, h, gh, 1.0f, b.dgates_hh, w.w_hh, gru ? 1.0f : 0.0f, d.dh.data());
  }
  // Weight gradients over all steps at once.
  gemm(true, false, gh, s.input_width(layer), rows, 1.0f, d.dgates.data(), layer_input(layer), 0.0f, w.grad_w_ih);
  const float* h_prev_all = hidden + previous_block(0, direction) * block;
  gemm(true, false, gh, h, rows, 1.0f, dgates_hh, h_prev_all, 0.0f, w.grad_w_hh);
  if (w.grad_b_ih) sum_columns(d.dgates.data(), rows, gh, w.grad_b_ih);
  if (w.grad_b_hh) sum_columns(dgates_hh, rows, gh, w.grad_b_hh);
}

void RecurrentNet::backward(const RecurrentShape& s, int64_t batch, std::span<const RecurrentWeights> weights,
                            bool last, const float* dy, float* dx) {
  const int64_t width = s.output_width(), rows = s.seq * batch, gh = s.gates() * s.hidden;
  doutput_.resize({rows, width});
  if (!last) {
    swap_leading_axes(dy, batch, s.seq, width, doutput_.data());
  } else {
    doutput_.zero();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t d = 0; d < s.directions; ++d) {
        const int64_t t = d == 0 ? s.seq - 1 : 0;
        std::copy_n(dy + b * width + d * s.hidden, s.hidden, doutput_.data() + (t * batch + b) * width + d * s.hidden);
      }
  }
  for (int64_t l = s.layers - 1; l >= 0; --l) {
    for_tiles(s.directions, 1, [&](int64_t d0, int64_t d1) {
      for (int64_t d = d0; d < d1; ++d)
        backward_direction(s, batch, l, d, weights[static_cast<size_t>(l * s.directions + d)]);
    });
    if (l == 0 && !dx) break;
    // The input's gradient, the directions' parts summed in a fixed order.
    Tensor& din = dinputs_[static_cast<size_t>(l)];
    din.resize({rows, s.input_width(l)});
    for (int64_t d = 0; d < s.directions; ++d) {
      const RecurrentWeights& w = weights[static_cast<size_t>(l * s.directions + d)];
      gemm(false, false, rows, s.input_width(l), gh, 1.0f,
           directions_[static_cast<size_t>(l * s.directions + d)].dgates.data(), w.w_ih, d == 0 ? 0.0f : 1.0f,
           din.data());
    }
    if (l > 0 && dropout_applied_) {
      const float* mask = masks_[static_cast<size_t>(l)].data();
      float* g = din.data();
      for_tiles(din.size(), kElementwiseGrain, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) g[i] *= mask[i];
      });
    }
  }
  if (dx) swap_leading_axes(dinputs_[0].data(), s.seq, batch, s.input, dx);
}

}  // namespace gradflow::kernels
