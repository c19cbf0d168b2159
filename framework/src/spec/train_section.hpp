// A graph file's `train:` section: epochs, batches, checkpoints and the training schedule
// (learning-rate schedule, gradient clipping, early stopping). The graph parser hands the
// section over here.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "gradflow/diagnostics.hpp"
#include "gradflow/train_spec.hpp"

namespace gradflow {

// Reads `train` (which may be absent) of `file`; every problem goes to `diagnostics`.
TrainSpec read_train_section(const YAML::Node& train, const std::string& file, Diagnostics& diagnostics);

// The plateau schedule and early stopping watch the validation loss: reports each of them
// when the data section gives no validation set (`has_validation` false).
void check_validation_needed(const TrainSpec& train, bool has_validation, Diagnostics& diagnostics);

}  // namespace gradflow
