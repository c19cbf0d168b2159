#include "epoch_position.hpp"

#include "state_reader.hpp"

namespace gradflow {

void save_epoch_position(TrainingState& state, const EpochProgress& progress, int64_t batch_size) {
  if (progress.batches == 0) return;
  state.metadata["gradflow.epoch_batches"] = std::to_string(progress.batches);
  state.metadata["gradflow.epoch_batch_size"] = std::to_string(batch_size);
  state.metadata["gradflow.epoch_loss_sum"] = exact(progress.loss);
  state.metadata["gradflow.epoch_correct"] = exact(progress.correct);
  state.metadata["gradflow.epoch_samples"] = exact(progress.samples);
  state.metadata["gradflow.epoch_no_accuracy"] = exact(progress.no_accuracy);
}

EpochProgress restore_epoch_position(const TrainingState& state, int64_t batch_size, const std::string& file) {
  const StateReader read(state, file);
  if (!read.has("gradflow.epoch_batches")) return {};
  EpochProgress progress;
  progress.batches = read.get<int64_t>("gradflow.epoch_batches");
  const auto saved_batch = read.get<int64_t>("gradflow.epoch_batch_size");
  if (saved_batch != batch_size)
    read.refuse(fmt::format("the checkpoint was taken inside epoch {} with batches of {} samples, this run's have {}",
                            state.epoch + 1, saved_batch, batch_size));
  progress.loss = read.get<double>("gradflow.epoch_loss_sum");
  progress.correct = read.get<double>("gradflow.epoch_correct");
  progress.samples = read.get<double>("gradflow.epoch_samples");
  progress.no_accuracy = read.get<double>("gradflow.epoch_no_accuracy");
  return progress;
}

}  // namespace gradflow
