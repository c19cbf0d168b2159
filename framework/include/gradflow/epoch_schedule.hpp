// What happens between epochs (train.lr_schedule, train.early_stopping): the learning rate
// each optimizer uses in the next epoch, whether to stop, and the best epoch's weights. Its
// state goes into checkpoints, so a resumed run continues bit for bit (docs/checkpoints.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gradflow/checkpoint.hpp"
#include "gradflow/lr_schedule.hpp"
#include "gradflow/model.hpp"

namespace gradflow {

// train.early_stopping's rule, as Keras' EarlyStopping and Lightning's: an epoch improves when
// its loss minus min_delta is below the best so far; training stops after `patience` epochs in a
// row without improvement.
class EarlyStopping {
 public:
  explicit EarlyStopping(EarlyStoppingSpec spec) : spec_(spec) {}
  // Sees epoch `epoch`'s (1-based) validation loss; true when it is the new best.
  bool observe(int64_t epoch, double validation_loss);
  bool should_stop() const { return wait_ > 0 && wait_ >= spec_.patience; }
  int64_t best_epoch() const { return best_epoch_; }  // 0 before the first epoch
  double best_loss() const { return best_loss_; }

  struct State {
    int64_t best_epoch = 0;
    double best_loss = 0.0;
    int64_t wait = 0;
  };
  State state() const { return {best_epoch_, best_loss_, wait_}; }
  void restore(const State& s);

 private:
  EarlyStoppingSpec spec_;
  int64_t best_epoch_ = 0;
  double best_loss_ = 0.0;  // meaningful once best_epoch_ > 0
  int64_t wait_ = 0;        // epochs since the best
};

class EpochSchedule {
 public:
  // `length`: the run's length in the schedule's interval, epochs or optimizer steps (cosine's
  // default t_max). Throws std::invalid_argument when a schedule is set and an optimizer has
  // no learning rate to schedule.
  EpochSchedule(Model& model, const TrainSpec& spec, int64_t length);

  // Before each epoch: gives every optimizer its learning rate for the epoch.
  void begin_epoch();
  // After each optimizer step: with lr_schedule.interval step, steps the schedule and gives every
  // optimizer its learning rate for the next step.
  void end_step();
  // The first optimizer's learning rate in this epoch; nothing when it exposes none.
  std::optional<double> lr() const;
  // After epoch `epoch` (1-based), with its validation loss when there is validation data.
  void end_epoch(int64_t epoch, std::optional<double> validation_loss);

  bool should_stop() const { return stopping_ && stopping_->should_stop(); }
  // With early stopping: the best epoch so far; nothing without early stopping.
  std::optional<int64_t> best_epoch() const;
  std::optional<double> best_validation_loss() const;
  // Copies the best epoch's weights back into the model (what the final checkpoint holds).
  void restore_best_weights();

  // Into / from a checkpoint's training state; restore throws CheckpointError (naming `file`)
  // when the state does not fit this schedule.
  void save(TrainingState& state) const;
  void restore(const TrainingState& state, const std::string& file);

 private:
  Model& model_;
  std::optional<LrSchedule> schedule_;
  bool per_step_ = false;  // lr_schedule.interval: step
  std::optional<EarlyStopping> stopping_;
  std::vector<Tensor> best_weights_;  // model.parameters() order, with early stopping
};

}  // namespace gradflow
