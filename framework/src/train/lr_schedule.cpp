// torch 1.13's schedulers, rule for rule (torch/optim/lr_scheduler.py): each get_lr() is the
// chainable form on the current lr, the closed form only where torch itself uses it (the first
// epoch after a SequentialLR milestone). The operand order follows the Python expressions, so
// the doubles round as torch's do.
#include "gradflow/lr_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace gradflow {

namespace {

// Python's a % b for b > 0: never negative.
int64_t python_mod(int64_t a, int64_t b) { return ((a % b) + b) % b; }

}  // namespace

LrSchedule::LrSchedule(LrScheduleSpec spec, std::vector<double> base_lrs, int64_t epochs)
    : spec_(std::move(spec)),
      base_lrs_(std::move(base_lrs)),
      lrs_(base_lrs_),
      plateau_best_(std::numeric_limits<double>::infinity()) {
  t_max_ = spec_.t_max.value_or(std::max<int64_t>(1, epochs - spec_.warmup_epochs));
  // LinearLR's first step (last_epoch 0) starts the warm-up at start_factor; every other
  // scheduler's first step leaves the lr as it is.
  if (spec_.warmup_epochs > 0)
    for (double& lr : lrs_) lr = lr * spec_.warmup_start_factor;
}

void LrSchedule::restore(const State& state) {
  epochs_stepped_ = state.epochs_stepped;
  t_max_ = state.t_max;
  lrs_ = state.lrs;
  plateau_best_ = state.plateau_best;
  plateau_bad_epochs_ = state.plateau_bad_epochs;
}

void LrSchedule::step(std::optional<double> validation_loss) {
  ++epochs_stepped_;
  if (spec_.kind == ScheduleKind::Plateau) {
    step_plateau(validation_loss.value_or(std::numeric_limits<double>::quiet_NaN()));
    return;
  }
  for (size_t g = 0; g < lrs_.size(); ++g) lrs_[g] = next_lr(g, lrs_[g]);
}

// SequentialLR([LinearLR(start_factor, total_iters=W), main], milestones=[W]): before W the
// warm-up's rule; at W the main schedule restarts from its closed form at epoch 0; after W the
// main schedule's rule at epoch (e - W). Without a warm-up, the main rule at e.
double LrSchedule::next_lr(size_t group, double lr) const {
  const int64_t e = epochs_stepped_;
  const int64_t w = spec_.warmup_epochs;
  if (w == 0) return scheduled_lr(e, group, lr);
  if (e < w) {
    const double start = spec_.warmup_start_factor;
    const double end = 1.0;
    return lr * (1.0 + (end - start) / (static_cast<double>(w) * start + static_cast<double>(e - 1) * (end - start)));
  }
  const double base = base_lrs_[group];
  if (e == w) {
    if (spec_.kind != ScheduleKind::Cosine) return base;  // base * gamma ** 0
    return spec_.eta_min + (base - spec_.eta_min) * (1.0 + std::cos(std::numbers::pi * 0.0 / static_cast<double>(t_max_))) / 2.0;
  }
  return scheduled_lr(e - w, group, lr);
}

// The main scheduler's get_lr() at its last_epoch `epoch` >= 1, from the current lr.
double LrSchedule::scheduled_lr(int64_t epoch, size_t group, double lr) const {
  switch (spec_.kind) {
    case ScheduleKind::Step:
      return epoch % spec_.step_size == 0 ? lr * spec_.gamma : lr;
    case ScheduleKind::MultiStep: {
      const auto hits = std::count(spec_.milestones.begin(), spec_.milestones.end(), epoch);
      return hits == 0 ? lr : lr * std::pow(spec_.gamma, static_cast<double>(hits));
    }
    case ScheduleKind::Exponential:
      return lr * spec_.gamma;
    case ScheduleKind::Cosine: {
      const double t = static_cast<double>(t_max_);
      const double eta = spec_.eta_min;
      const double pi = std::numbers::pi;
      if (python_mod(epoch - 1 - t_max_, 2 * t_max_) == 0)
        return lr + (base_lrs_[group] - eta) * (1.0 - std::cos(pi / t)) / 2.0;
      return (1.0 + std::cos(pi * static_cast<double>(epoch) / t)) /
                 (1.0 + std::cos(pi * static_cast<double>(epoch - 1) / t)) * (lr - eta) +
             eta;
    }
    case ScheduleKind::Plateau: break;
  }
  return lr;
}

// ReduceLROnPlateau(mode='min', threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8).
void LrSchedule::step_plateau(double validation_loss) {
  constexpr double kEps = 1e-8;
  if (validation_loss < plateau_best_ * (1.0 - spec_.threshold)) {
    plateau_best_ = validation_loss;
    plateau_bad_epochs_ = 0;
  } else {
    ++plateau_bad_epochs_;
  }
  if (plateau_bad_epochs_ <= spec_.patience) return;
  for (double& lr : lrs_) {
    const double reduced = std::max(lr * spec_.factor, 0.0);
    if (lr - reduced > kEps) lr = reduced;
  }
  plateau_bad_epochs_ = 0;
}

}  // namespace gradflow
