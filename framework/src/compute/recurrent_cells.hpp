// The elementwise work of one time step of an LSTM or GRU layer, fused into one pass over the
// step's [B, H] block: gate nonlinearities and state update forward; the gate and state
// gradients backward. The matrix products around them (recurrent.hpp) are gemms. Rows of the
// batch are split in tiles fixed by the shape.
#pragma once

#include <cstdint>

namespace gradflow::kernels {

enum class RecurrentCell { Lstm, Gru };

// torch's gate count: LSTM i, f, g, o; GRU r, z, n.
constexpr int64_t gate_count(RecurrentCell cell) { return cell == RecurrentCell::Lstm ? 4 : 3; }

// One step forward. Rows are the batch; gates and hh are [B, G·H], the rest [B, H].
struct StepForward {
  float* gates = nullptr;         // in: x·W_ihᵀ + b_ih; out: the gate activations
  const float* hh = nullptr;      // h_prev·W_hhᵀ
  const float* b_hh = nullptr;    // [G·H], or null
  const float* h_prev = nullptr;  // zeros at the first step
  const float* c_prev = nullptr;  // LSTM: the previous cell state (zeros at the first step)
  float* state = nullptr;         // out: LSTM c_t; GRU W_hn·h_prev + b_hn (for the backward)
  float* h = nullptr;             // out: h_t
  float* out = nullptr;           // out: h_t again, row b at out + b·out_stride (the layer's output)
  int64_t out_stride = 0;
};

// One step backward, from the forward's gates and state. dh carries the gradient of h from the
// later step in; the kernel adds the layer output's gradient dout. It writes the gradients of
// the gate pre-activations (input side dgates; GRU: recurrent side dgates_hh, whose n block is
// r·dn) and, for the previous step, dc (LSTM, in place) and dh's direct part (GRU: z·dh; LSTM:
// none, dh is left holding h's total gradient, which the recurrent gemm then overwrites).
struct StepBackward {
  const float* gates = nullptr;
  const float* state = nullptr;
  const float* h_prev = nullptr;
  const float* c_prev = nullptr;
  const float* dout = nullptr;  // row b at dout + b·dout_stride
  int64_t dout_stride = 0;
  float* dh = nullptr;
  float* dc = nullptr;
  float* dgates = nullptr;
  float* dgates_hh = nullptr;
};

void step_forward(RecurrentCell cell, const StepForward& step, int64_t batch, int64_t hidden);
void step_backward(RecurrentCell cell, const StepBackward& step, int64_t batch, int64_t hidden);

}  // namespace gradflow::kernels
