// What the training loop checks about numbers beyond what an operator does: a loss that became
// NaN or infinite (the run stops unless train.on_nonfinite is `continue`), and under
// --check-numerics, a batch whose data holds a NaN or an infinity (named by its file and row).
#pragma once

#include <cstdint>
#include <span>

#include "gradflow/diagnostics.hpp"
#include "gradflow/in_memory_dataset.hpp"
#include "gradflow/model.hpp"

namespace gradflow {

// Where in the run a batch is: its epoch (1-based), its step in the epoch (1-based) of how
// many, and the optimizer steps taken before it.
struct StepPosition {
  int64_t epoch = 0;
  int64_t step = 0;
  int64_t steps_in_epoch = 0;
  int64_t steps_before = 0;
};

// The error for a loss that is not finite after forward(), at the first loss node whose value
// is NaN or infinite: "node 'loss' (op mse): the loss is NaN at epoch 3, step 2 of 4 ...".
GraphError nonfinite_loss_error(const Model& model, const StepPosition& at);

// Throws NodeError when a graph input of the loaded batch holds a NaN or an infinity, naming the
// input, the value and the sample's file and row (or its index in the data set).
void require_finite_batch(const Model& model, const Dataset& data, std::span<const int64_t> indices);

}  // namespace gradflow
