// Checkpoints (docs/graph-format.md, checkpoints; docs/checkpoints.md): a safetensors file holding every
// parameter as "<node>.<param>" (PyTorch nn.Linear layout), every optimizer state tensor as
// "<optimizer node>.<node>.<param>.<state>", and in __metadata__ the epoch, the step, the
// seed, the optimizer counters and the graph name (docs/checkpoints.md lists every key).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gradflow/model.hpp"

namespace gradflow {

struct TrainingState {
  int64_t epoch = 0;  // epochs completed
  int64_t step = 0;   // optimizer steps taken
  // The state between epochs (EpochSchedule: learning rates, early stopping, the best
  // weights), stored as `gradflow.*` metadata and tensors (docs/checkpoints.md).
  std::map<std::string, std::string> metadata;
  std::map<std::string, Tensor> tensors;
};

// Written atomically: a crash mid-write leaves the previous file intact.
void save_checkpoint(const std::filesystem::path& path, Model& model, const TrainingState& state);

enum class LoadMode {
  WeightsOnly,  // eval, predict: parameters only
  Resume,       // parameters, optimizer state, epoch and step; the seed must match
};

// Throws CheckpointError naming the file and what does not fit the graph; the model is left
// untouched on error.
TrainingState load_checkpoint(const std::filesystem::path& path, Model& model, LoadMode mode);

// What load_matching_weights did (train --weights CKPT --partial).
struct PartialLoad {
  std::vector<std::string> loaded;  // parameters and buffers taken from the file
  // "fc2.weight [2, 4]: not in the checkpoint" or "...: the checkpoint's is [10, 4]": kept at
  // the initial value.
  std::vector<std::string> kept;
  std::vector<std::string> unused;  // "head.bias [10]": the file's tensors that nothing took
  // "opt.state.fc1.weight.exp_avg [4, 2]": optimizer state and the training loop's tensors in
  // the file; a --weights run starts a fresh optimizer, so these are never used.
  std::vector<std::string> unused_state;
};

// Loads every parameter and buffer whose name and shape match the file's; the others keep
// their values. Throws CheckpointError when the file cannot be read.
PartialLoad load_matching_weights(const std::filesystem::path& path, Model& model);

}  // namespace gradflow
