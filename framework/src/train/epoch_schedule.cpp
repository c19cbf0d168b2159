#include "gradflow/epoch_schedule.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "state_reader.hpp"

namespace gradflow {

bool EarlyStopping::observe(int64_t epoch, double validation_loss) {
  if (best_epoch_ == 0 || validation_loss + spec_.min_delta < best_loss_) {  // Keras and Lightning: current + |min_delta| < best
    best_epoch_ = epoch;
    best_loss_ = validation_loss;
    wait_ = 0;
    return true;
  }
  ++wait_;
  return false;
}

void EarlyStopping::restore(const State& s) {
  best_epoch_ = s.best_epoch;
  best_loss_ = s.best_loss;
  wait_ = s.wait;
}

namespace {

std::vector<double> base_learning_rates(const Model& model) {
  std::vector<double> lrs;
  for (const OptimizerNode& opt : model.optimizers()) {
    const auto lr = opt.impl->learning_rate();
    if (!lr)
      throw std::invalid_argument(fmt::format("train.lr_schedule: optimizer '{}' (op {}) has no learning rate to "
                                              "schedule",
                                              opt.name, opt.op));
    lrs.push_back(*lr);
  }
  return lrs;
}

// What "the best epoch's weights" are: every parameter and every buffer (batch norm's running
// statistics belong to the weights they were gathered with).
std::vector<std::pair<std::string, Tensor*>> weights_of(Model& model) {
  std::vector<std::pair<std::string, Tensor*>> weights;
  for (const ParamRef& p : model.parameters()) weights.emplace_back(p.name, p.value);
  for (const Model::BufferRef& b : model.buffers()) weights.emplace_back(b.name, &b.buffer->value);
  return weights;
}

}  // namespace

EpochSchedule::EpochSchedule(Model& model, const TrainSpec& spec, int64_t length) : model_(model) {
  if (spec.lr_schedule) {
    schedule_.emplace(*spec.lr_schedule, base_learning_rates(model), length);
    per_step_ = spec.lr_schedule->interval == ScheduleInterval::Step;
  }
  if (spec.early_stopping) stopping_.emplace(*spec.early_stopping);
}

void EpochSchedule::begin_epoch() {
  if (!schedule_) return;
  const std::vector<double>& lrs = schedule_->lrs();
  for (size_t i = 0; i < lrs.size(); ++i) model_.optimizers()[i].impl->set_learning_rate(lrs[i]);
}

void EpochSchedule::end_step() {
  if (!per_step_) return;
  schedule_->step(std::nullopt);
  begin_epoch();
}

std::optional<double> EpochSchedule::lr() const {
  if (model_.optimizers().empty()) return std::nullopt;
  return model_.optimizers().front().impl->learning_rate();
}

void EpochSchedule::end_epoch(int64_t epoch, std::optional<double> validation_loss) {
  if (schedule_ && !per_step_) schedule_->step(validation_loss);
  if (stopping_ && validation_loss && stopping_->observe(epoch, *validation_loss)) {
    best_weights_.clear();
    for (const auto& [name, value] : weights_of(model_)) best_weights_.push_back(*value);
  }
}

std::optional<int64_t> EpochSchedule::best_epoch() const {
  if (!stopping_ || stopping_->best_epoch() == 0) return std::nullopt;
  return stopping_->best_epoch();
}

std::optional<double> EpochSchedule::best_validation_loss() const {
  if (!best_epoch()) return std::nullopt;
  return stopping_->best_loss();
}

void EpochSchedule::restore_best_weights() {
  if (best_weights_.empty()) return;
  size_t i = 0;
  for (const auto& [name, value] : weights_of(model_)) *value = best_weights_[i++];
}

void EpochSchedule::save(TrainingState& state) const {
  for (const OptimizerNode& opt : model_.optimizers())
    if (const auto lr = opt.impl->learning_rate()) state.metadata["gradflow.lr." + opt.name] = exact(*lr);
  if (schedule_) {
    const LrSchedule::State s = schedule_->state();
    state.metadata["gradflow.lr_schedule.epochs"] = std::to_string(s.epochs_stepped);
    if (per_step_) state.metadata["gradflow.lr_schedule.interval"] = "step";
    state.metadata["gradflow.lr_schedule.t_max"] = std::to_string(s.t_max);
    for (size_t i = 0; i < s.lrs.size(); ++i)
      state.metadata["gradflow.lr_schedule.lr." + model_.optimizers()[i].name] = exact(s.lrs[i]);
    state.metadata["gradflow.lr_schedule.plateau_best"] = exact(s.plateau_best);
    state.metadata["gradflow.lr_schedule.plateau_bad_epochs"] = std::to_string(s.plateau_bad_epochs);
  }
  if (stopping_) {
    const EarlyStopping::State s = stopping_->state();
    state.metadata["gradflow.best_epoch"] = std::to_string(s.best_epoch);
    state.metadata["gradflow.early_stopping.best_loss"] = exact(s.best_loss);
    state.metadata["gradflow.early_stopping.wait"] = std::to_string(s.wait);
    size_t i = 0;
    for (const auto& [name, value] : weights_of(model_))
      if (i < best_weights_.size()) state.tensors["gradflow.best." + name] = best_weights_[i++];
  }
}

void EpochSchedule::restore(const TrainingState& state, const std::string& file) {
  const StateReader read(state, file);
  if (schedule_) {
    if (!read.has("gradflow.lr_schedule.epochs")) read.refuse("the checkpoint was written without train.lr_schedule");
    if (read.has("gradflow.lr_schedule.interval") != per_step_)
      read.refuse(fmt::format("the checkpoint's train.lr_schedule counts {}, the graph's counts {}",
                              per_step_ ? "epochs" : "steps", per_step_ ? "steps" : "epochs"));
    LrSchedule::State s;
    s.epochs_stepped = read.get<int64_t>("gradflow.lr_schedule.epochs");
    s.t_max = read.get<int64_t>("gradflow.lr_schedule.t_max");
    for (const OptimizerNode& opt : model_.optimizers())
      s.lrs.push_back(read.get<double>("gradflow.lr_schedule.lr." + opt.name));
    s.plateau_best = read.get<double>("gradflow.lr_schedule.plateau_best");
    s.plateau_bad_epochs = read.get<int64_t>("gradflow.lr_schedule.plateau_bad_epochs");
    schedule_->restore(s);
  } else if (read.has("gradflow.lr_schedule.epochs")) {
    read.refuse("the checkpoint was written with a train.lr_schedule the graph no longer has");
  }
  if (stopping_) {
    if (!read.has("gradflow.early_stopping.wait")) read.refuse("the checkpoint was written without train.early_stopping");
    const EarlyStopping::State s{read.get<int64_t>("gradflow.best_epoch"),
                                 read.get<double>("gradflow.early_stopping.best_loss"),
                                 read.get<int64_t>("gradflow.early_stopping.wait")};
    best_weights_.clear();
    const auto weights = weights_of(model_);
    for (const auto& [name, value] : weights) {
      const auto it = state.tensors.find("gradflow.best." + name);
      if (it == state.tensors.end()) break;
      if (it->second.shape() != value->shape()) read.refuse("the best weights of '" + name + "' have another shape");
      best_weights_.push_back(it->second);
    }
    if (s.best_epoch > 0 && best_weights_.size() != weights.size())
      read.refuse("the best epoch's weights are missing");
    stopping_->restore(s);
  }
}

}  // namespace gradflow
