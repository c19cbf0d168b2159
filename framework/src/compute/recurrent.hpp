// Stacked, optionally bidirectional LSTM and GRU over a batch of sequences, with torch.nn.LSTM /
// GRU's numerics (batch_first, zero initial states, torch's gate order: LSTM i, f, g, o; GRU r,
// z, n with n = tanh(W_in x + b_in + r·(W_hn h + b_hn))), forward and backward through time.
//
// Layout: everything inside runs time-major, [T, B, ...], so that the rows of one time step are
// one contiguous block: the input projections of all T steps of a layer and direction are ONE
// gemm, the recurrent product of a step is one gemm on a [B, H] block, and the weight gradients
// are one gemm each over all steps. The gate nonlinearities and the state update of a step are
// one fused elementwise pass (recurrent_cells.hpp). The two directions of a layer run as
// independent tasks; workspaces are sized by the first pass of a batch size and reused.
// Every split is fixed by the shape, so results are bit-identical for any thread count.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "compute/recurrent_cells.hpp"
#include "gradflow/tensor.hpp"

namespace gradflow::kernels {

struct RecurrentShape {
  RecurrentCell cell = RecurrentCell::Lstm;
  int64_t seq = 1, input = 1, hidden = 1, layers = 1, directions = 1;
  bool bias = true;
  int64_t gates() const { return gate_count(cell); }
  int64_t input_width(int64_t layer) const { return layer == 0 ? input : directions * hidden; }
  int64_t output_width() const { return directions * hidden; }
};

// The parameters of one layer and direction (torch's weight_ih_l<k>[_reverse], ...), with
// their gradients; the biases are null without bias. Index: layer · directions + direction.
struct RecurrentWeights {
  const float* w_ih = nullptr;  // [G·H, I_layer]
  const float* w_hh = nullptr;  // [G·H, H]
  const float* b_ih = nullptr;  // [G·H]
  const float* b_hh = nullptr;  // [G·H]
  float* grad_w_ih = nullptr;
  float* grad_w_hh = nullptr;
  float* grad_b_ih = nullptr;
  float* grad_b_hh = nullptr;
};

// Dropout on the output of every layer but the last, in training (torch's `dropout`): value j
// of time t of layer l's output for the batch's sample b is kept when
// Rng::uniform_at(key, (((first_sample + b)·L + l)·T + t)·D·H + j) >= p, scaled by 1/(1-p).
struct RecurrentDropout {
  bool active = false;
  double p = 0.0;
  uint64_t key = 0;
  int64_t first_sample = 0;
};

class RecurrentNet {
 public:
  // x [B, T, I] (batch-first) to y: [B, T, D·H] for the whole sequence, or when `last`, [B, D·H]:
  // each direction's final hidden state of the last layer (torch's h_n[-D:]).
  void forward(const RecurrentShape& s, int64_t batch, std::span<const RecurrentWeights> weights,
               const RecurrentDropout& drop, const float* x, bool last, float* y);
  // Assigns every parameter gradient and, when dx is not null, dx [B, T, I], from dy (shaped as
  // y), for the forward just run.
  // The dropout masks are the forward's.
  void backward(const RecurrentShape& s, int64_t batch, std::span<const RecurrentWeights> weights, bool last,
                const float* dy, float* dx);

 private:
  // What one layer and direction keeps from the forward for the backward, and its scratch.
  struct Direction {
    Tensor gates;    // [T·B, G·H]: the gate activations (LSTM i f g o; GRU r z n)
    Tensor hidden;   // [(T+1)·B, H]: h_t, with a zero block where the recurrence starts
    Tensor state;    // LSTM: c_t [T·B, H]; GRU: W_hn·h_prev + b_hn [T·B, H]
    Tensor step;     // [B, G·H]: one step's recurrent product
    Tensor dgates;   // [T·B, G·H]: gradients of the gate pre-activations, input side
    Tensor dgates_hh;  // GRU: [T·B, G·H], the recurrent side (r·dn in the n block)
    Tensor dh, dc;   // [B, H]: the gradients carried to the previous step
  };

  void size_workspaces(const RecurrentShape& s, int64_t batch, bool training_dropout);
  // The input of `layer`, time-major [T·B, I_layer].
  const float* layer_input(int64_t layer) const;
  void forward_direction(const RecurrentShape& s, int64_t batch, int64_t layer, int64_t direction,
                         const RecurrentWeights& w);
  void backward_direction(const RecurrentShape& s, int64_t batch, int64_t layer, int64_t direction,
                          const RecurrentWeights& w);

  std::vector<Direction> directions_;  // by layer · D + direction
  Tensor input_;                       // x time-major [T·B, I]
  std::vector<Tensor> outputs_;        // by layer: [T·B, D·H]
  std::vector<Tensor> dropped_;        // by layer l ≥ 1: the input of l, layer l-1's output after dropout
  std::vector<Tensor> masks_;          // by layer l ≥ 1: 0 or 1/(1-p)
  std::vector<Tensor> dinputs_;        // by layer: the gradient of its input [T·B, I_layer]
  Tensor doutput_;                     // the gradient of the last layer's output [T·B, D·H]
  bool dropout_applied_ = false;
};

}  // namespace gradflow::kernels
