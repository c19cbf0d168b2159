// Fits every operator that is a DataFitter (operator.hpp; standardize) to the training data,
// once, before a fresh run's first step.
#pragma once

#include "gradflow/in_memory_dataset.hpp"
#include "gradflow/model.hpp"

namespace gradflow {

// In topological order, each fitter sees its first input over the whole of `train`, in sample
// order and in evaluation mode, computed through the fitters upstream of it already fitted.
// `batch` is the training batch size (0: the whole set); the passes use evaluation batches.
void fit_to_training_data(Model& model, const Dataset& train, int64_t batch);

}  // namespace gradflow
