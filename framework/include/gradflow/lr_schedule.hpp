// Learning-rate schedules (train.lr_schedule) with torch.optim.lr_scheduler's arithmetic: the
// chainable forms torch evaluates each epoch, in double as Python does, so that every epoch's
// learning rate is the one torch's scheduler gives for the same settings. One schedule drives
// every optimizer of a graph, each from its own base learning rate (one torch param group each).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "gradflow/train_spec.hpp"

namespace gradflow {

class LrSchedule {
 public:
  // `base_lrs`: each optimizer's learning rate as its node sets it; `epochs`: the run's length,
  // which gives cosine its default t_max (the epochs after the warm-up).
  LrSchedule(LrScheduleSpec spec, std::vector<double> base_lrs, int64_t epochs);

  // Each optimizer's learning rate for the next epoch.
  const std::vector<double>& lrs() const { return lrs_; }
  // After each epoch; plateau needs the epoch's validation loss, the other kinds ignore it.
  void step(std::optional<double> validation_loss);

  // What a checkpoint keeps so that a resumed run continues the same learning rates, bit for bit.
  struct State {
    int64_t epochs_stepped = 0;
    int64_t t_max = 1;  // cosine's period as the run was planned (torch's state_dict keeps T_max)
    std::vector<double> lrs;
    double plateau_best = 0.0;  // ReduceLROnPlateau's `best` (+inf before the first epoch)
    int64_t plateau_bad_epochs = 0;
  };
  State state() const { return {epochs_stepped_, t_max_, lrs_, plateau_best_, plateau_bad_epochs_}; }
  // The caller checks that `state.lrs` has one entry per optimizer.
  void restore(const State& state);

 private:
  double next_lr(size_t group, double lr) const;  // the chained rule at epochs_stepped_
  double scheduled_lr(int64_t epoch, size_t group, double lr) const;  // the main schedule's rule
  void step_plateau(double validation_loss);

  LrScheduleSpec spec_;
  std::vector<double> base_lrs_;
  int64_t t_max_ = 1;
  int64_t epochs_stepped_ = 0;  // torch's last_epoch of the SequentialLR (or of the scheduler)
  std::vector<double> lrs_;
  double plateau_best_;
  int64_t plateau_bad_epochs_ = 0;
};

}  // namespace gradflow
