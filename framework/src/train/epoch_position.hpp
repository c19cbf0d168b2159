// A checkpoint taken inside an epoch (train.checkpoint_every_steps, --max-steps, a stop
// request) keeps where in the epoch it was, so that --resume continues with the next batch of
// the same shuffle and the epoch's loss counts every batch (docs/checkpoints.md).
#pragma once

#include <string>

#include "gradflow/checkpoint.hpp"
#include "gradflow/trainer.hpp"

namespace gradflow {

// Adds the gradflow.epoch_* keys when `progress` is inside an epoch (nothing at an epoch's end).
void save_epoch_position(TrainingState& state, const EpochProgress& progress, int64_t batch_size);

// The position a checkpoint holds: batches 0 for one taken at an epoch's end, and for every
// checkpoint older than these keys. Throws CheckpointError (naming `file`) when the run's
// batch size is not the one the position counts batches of.
EpochProgress restore_epoch_position(const TrainingState& state, int64_t batch_size, const std::string& file);

}  // namespace gradflow
