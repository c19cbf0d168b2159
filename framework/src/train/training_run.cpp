#include "gradflow/training_run.hpp"

#include <fmt/format.h>

#include <functional>
#include <utility>

#include "gradflow/diagnostics.hpp"
#include "gradflow/epoch_schedule.hpp"
#include "checkpoint_pacer.hpp"
#include "run_fingerprint.hpp"

namespace gradflow {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TrainOptions step_options(const TrainSpec& train, uint64_t seed, GradientSync* sync) {
  TrainOptions options = TrainOptions::batches(train.batch_size, train.shuffle, seed);
  options.clip_grad_norm = train.clip_grad_norm;
  options.clip_grad_value = train.clip_grad_value;
  options.sync = sync;
  return options;
}

}  // namespace

TrainingRun::TrainingRun(Model& model, const DataSets& data, RunOptions options, GradientSync* sync)
    : model_(model), data_(data), options_(std::move(options)), sync_(sync) {
  const std::string file = model.spec().file.string();
  if (model.optimizers().empty()) throw file_error(file, "the graph has no optimizer node: nothing to train");
  if (data.train.empty()) throw file_error(file, "the graph has no training data (data.train)");
}

// Every rank must train the same graph from the same weights with the same options: compared
// before the first step, so a mismatch is an error on every rank, not a hang.
void TrainingRun::check_ranks_agree(const TrainingState& resumed) const {
  const GraphSpec& spec = model_.spec();
  const TrainSpec& train = options_.train;
  sync_->check_same_everywhere(
      fmt::format("graph file ({}: its bytes and {} parameters)", spec.file.string(), model_.parameter_count()),
      hash_file(spec.file.string()) ^ static_cast<uint64_t>(model_.parameter_count()));
  const std::string run = fmt::format("{}/{}/{}/{}/{}/{}/{}/{}", train.batch_size, spec.seed, train.shuffle,
                                      train.epochs, data_.train.size, data_.validation.size, resumed.epoch,
                                      resumed.step);
  sync_->check_same_everywhere("training options (batch size, seed, epochs, data sizes, resumed epoch and step)",
                               std::hash<std::string>{}(run));
  sync_->check_same_everywhere("initial weights (--resume checkpoint or seed)", hash_parameters(model_));
}

TrainingState TrainingRun::run(TrainingObserver& observer) {
  const TrainSpec& train = options_.train;
  const bool writes_files = !sync_ || sync_->rank() == 0;
  model_.init_parameters(model_.spec().seed);
  EpochSchedule schedule(model_, train, train.epochs);
  TrainingState state;
  if (!options_.weights.empty()) {
    load_checkpoint(options_.weights, model_, LoadMode::WeightsOnly);
    observer.started_from_weights(options_.weights);
  }
  if (!options_.resume.empty()) {
    // Under data parallelism every rank loads the same file (check_ranks_agree compares them).
    state = load_checkpoint(options_.resume, model_, LoadMode::Resume);
    schedule.restore(state, options_.resume.string());
    observer.resumed(options_.resume, state);
  }
  if (sync_) check_ranks_agree(state);

  TrainOptions steps = step_options(train, model_.spec().seed, sync_);
  steps.on_batch = [&observer](int64_t done, int64_t total, double loss) { observer.batch_done(done, total, loss); };
  Trainer* trainer_ptr = nullptr;
  int64_t epoch = state.epoch;
  auto start = Clock::now();
  auto step_start = start;  // the end of the previous step, or the start of the epoch's training
  steps.after_step = [&, every = train.validate_every_steps](int64_t step) {
    observer.step_done({step, epoch + 1, trainer_ptr->last_batch_loss(), schedule.lr(),
                        trainer_ptr->last_batch_samples(), seconds_since(step_start), seconds_since(start)});
    if (every && step % *every == 0) {
      // Every rank evaluates: evaluation is collective under data parallelism.
      const Evaluation v = trainer_ptr->evaluate(data_.validation);
      observer.step_validated(step, epoch + 1, v, seconds_since(start));
    }
    step_start = Clock::now();
  };
  Trainer trainer(model_, steps);
  trainer_ptr = &trainer;
  trainer.set_steps(state.step);

  const int64_t first = state.epoch;
  observer.run_started({first, train.epochs, batch_size_for(train.batch_size, data_.train.size),
                        !options_.resume.empty(), writes_files});
  start = Clock::now();
  CheckpointPacer checkpoints(train.checkpoint_every);
  const bool saving = writes_files && !options_.save.empty();
  bool stopped = schedule.should_stop();  // a resumed run that had stopped early stays stopped
  for (epoch = first; epoch < train.epochs && !stopped; ++epoch) {
    observer.epoch_started(epoch + 1, train.epochs);
    schedule.begin_epoch();
    EpochMetrics m;
    m.lr = schedule.lr();
    step_start = Clock::now();
    m.train = trainer.train_epoch(data_.train, epoch);
    if (!data_.validation.empty()) m.validation = trainer.evaluate(data_.validation);
    if (!data_.test.empty()) m.test = trainer.evaluate(data_.test);
    m.epoch = epoch + 1;
    schedule.end_epoch(m.epoch, m.validation ? std::optional(m.validation->loss) : std::nullopt);
    m.best_epoch = schedule.best_epoch();
    m.elapsed_s = seconds_since(start);
    state = {m.epoch, trainer.steps(), {}, {}};
    schedule.save(state);
    stopped = schedule.should_stop();
    observer.epoch_done(m, state.step, stopped);
    if (saving && m.epoch < train.epochs && !stopped && checkpoints.due(m.epoch))
      save_checkpoint(options_.save, model_, state);
  }
  if (const auto best = schedule.best_epoch()) {
    schedule.restore_best_weights();
    observer.best_epoch_restored(*best, *schedule.best_validation_loss(), stopped);
  }
  TrainingState final_state{state.epoch, state.step, {}, {}};
  schedule.save(final_state);
  if (saving) {
    save_checkpoint(options_.save, model_, final_state);
    observer.saved(options_.save);
  }
  return final_state;
}

}  // namespace gradflow
