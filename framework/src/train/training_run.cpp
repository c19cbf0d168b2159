#include "gradflow/training_run.hpp"

#include <fmt/format.h>

#include <functional>
#include <span>
#include <utility>

#include "gradflow/atomic_file.hpp"
#include "gradflow/diagnostics.hpp"
#include "gradflow/epoch_schedule.hpp"
#include "checkpoint_pacer.hpp"
#include "data_fitting.hpp"
#include "epoch_position.hpp"
#include "run_fingerprint.hpp"

namespace gradflow {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The run's length in what its learning-rate schedule counts: epochs, or optimizer steps. Not
// cut by max_steps: a run stopped there and resumed continues the uninterrupted run's schedule.
int64_t schedule_length(const TrainSpec& train, int64_t batches) {
  if (!train.lr_schedule || train.lr_schedule->interval == ScheduleInterval::Epoch) return train.epochs;
  return train.epochs * batches;
}

TrainOptions step_options(const TrainSpec& train, uint64_t seed, GradientSync* sync) {
  TrainOptions options = TrainOptions::batches(train.batch_size, train.shuffle, seed);
  options.clip_grad_norm = train.clip_grad_norm;
  options.clip_grad_value = train.clip_grad_value;
  options.stop_on_nonfinite = train.stop_on_nonfinite;
  options.sync = sync;
  return options;
}

}  // namespace

TrainingRun::TrainingRun(Model& model, const DataSets& data, RunOptions options, GradientSync* sync)
    : model_(model), data_(data), options_(std::move(options)), sync_(sync) {
  const std::string file = model.spec().file.string();
  if (model.optimizers().empty()) throw file_error(file, "the graph has no optimizer node: nothing to train");
  if (data.train.empty()) throw file_error(file, "the graph has no training data (data.train)");
  if (!options_.save.empty() && (!sync_ || sync_->rank() == 0)) check_writable(options_.save, "the checkpoint");
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

// One run's moving parts, shared by the steps of TrainingRun::run.
struct TrainingRun::Loop {
  Loop(TrainingObserver& seen, Model& model, const TrainSpec& train, int64_t length, TrainOptions steps,
       int64_t batch_size, int64_t epoch_batches)
      : observer(seen), schedule(model, train, length), trainer(model, std::move(steps)), batch(batch_size),
        batches(epoch_batches) {}

  TrainingObserver& observer;
  EpochSchedule schedule;
  Trainer trainer;
  int64_t batch = 0;    // samples per step
  int64_t batches = 0;  // steps per epoch
  int64_t epoch = 0;    // 0-based: the epoch in progress
  int64_t batch_done = 0;       // batches done of the epoch in progress (on_batch's)
  bool save_after_epoch = false;  // checkpoint_every_steps fell on an epoch's last step
  bool stopped = false;           // early stopping
  std::optional<TrainingObserver::RunStop> cut;  // max_steps or a stop request
  TrainingState state;
  Clock::time_point start = Clock::now();
  Clock::time_point step_start = start;  // the end of the previous step, or of the epoch's start
};

TrainingState TrainingRun::load_start(Loop& loop, TrainingObserver& observer) {
  TrainingState state;
  if (!options_.weights.empty()) {
    if (options_.partial) observer.weights_matched(load_matching_weights(options_.weights, model_));
    else load_checkpoint(options_.weights, model_, LoadMode::WeightsOnly);
    observer.started_from_weights(options_.weights);
  }
  if (options_.weights.empty() && options_.resume.empty())
    fit_to_training_data(model_, data_.train, options_.train.batch_size);  // standardize's mean and std
  if (!options_.resume.empty()) {
    // Under data parallelism every rank loads the same file (check_ranks_agree compares them).
    const std::string file = options_.resume.string();
    state = load_checkpoint(options_.resume, model_, LoadMode::Resume);
    loop.schedule.restore(state, file);
    EpochProgress position = restore_epoch_position(state, loop.batch, file);
    // The epoch's sums so far are every rank's (global_epoch_progress): rank 0 carries them.
    if (sync_ && sync_->rank() != 0) position = {position.batches, 0.0, 0.0, 0.0, 0.0};
    loop.trainer.set_epoch_progress(position);
    observer.resumed(options_.resume, state);
  }
  return state;
}

bool TrainingRun::stop_due(int64_t step) {
  // Under data parallelism a request is not honoured: the ranks would have to agree on it with
  // a collective after every step, and the one tried (an allreduce of the flag) failed under
  // load with MPI_ERR_TRUNCATE, not yet understood. max_steps is the same on every rank.
  const bool requested = !sync_ && stop_requested_.load(std::memory_order_relaxed);
  if (requested) stopped_on_request_ = true;
  return requested || (options_.max_steps && step >= *options_.max_steps);
}

void TrainingRun::after_step(Loop& loop, int64_t step) {
  const TrainSpec& train = options_.train;
  loop.observer.step_done({step, loop.epoch + 1, loop.trainer.last_batch_loss(), loop.schedule.lr(),
                           loop.trainer.last_batch_samples(), seconds_since(loop.step_start),
                           seconds_since(loop.start)});
  if (const auto every = train.validate_every_steps; every && step % *every == 0) {
    // Every rank evaluates: evaluation is collective under data parallelism.
    const Evaluation v = loop.trainer.evaluate(data_.validation);
    loop.observer.step_validated(step, loop.epoch + 1, v, seconds_since(loop.start));
  }
  loop.schedule.end_step();
  loop.step_start = Clock::now();  // validations and checkpoints are not the next step's time
  const auto every = train.checkpoint_every_steps;
  if (!every || step % *every != 0 || options_.save.empty()) return;
  if (loop.batch_done == loop.batches) loop.save_after_epoch = true;  // with the epoch's own state
  else save_position(loop, {loop.epoch, step, {}, {}}, false);
}

// A checkpoint of where the run is, inside an epoch or at its end. Collective under data
// parallelism (the epoch's sums are every rank's); rank 0 writes it.
void TrainingRun::save_position(Loop& loop, TrainingState state, bool final) {
  loop.schedule.save(state);
  save_epoch_position(state, loop.trainer.global_epoch_progress(), loop.batch);
  if (sync_ && sync_->rank() != 0) return;
  save_checkpoint(options_.save, model_, state);
  if (final) loop.observer.saved(options_.save);
}

void TrainingRun::train_epochs(Loop& loop) {
  const TrainSpec& train = options_.train;
  CheckpointPacer checkpoints(train.checkpoint_every);
  const bool saving = !options_.save.empty();
  for (loop.epoch = loop.state.epoch; loop.epoch < train.epochs && !loop.stopped && !loop.cut; ++loop.epoch) {
    loop.observer.epoch_started(loop.epoch + 1, train.epochs);
    loop.schedule.begin_epoch();
    EpochMetrics m;
    m.lr = loop.schedule.lr();
    loop.step_start = Clock::now();
    m.train = loop.trainer.train_epoch(data_.train, loop.epoch);
    const int64_t step = loop.trainer.steps();
    if (loop.trainer.inside_epoch()) {
      loop.cut = {step, loop.epoch + 1, loop.trainer.epoch_progress().batches, loop.batches, stopped_on_request_};
      break;
    }
    if (!data_.validation.empty()) m.validation = loop.trainer.evaluate(data_.validation);
    if (!data_.test.empty()) m.test = loop.trainer.evaluate(data_.test);
    m.epoch = loop.epoch + 1;
    loop.schedule.end_epoch(m.epoch, m.validation ? std::optional(m.validation->loss) : std::nullopt);
    m.best_epoch = loop.schedule.best_epoch();
    m.elapsed_s = seconds_since(loop.start);
    loop.state = {m.epoch, step, {}, {}};
    loop.stopped = loop.schedule.should_stop();
    loop.observer.epoch_done(m, step, loop.stopped);
    const bool more = m.epoch < train.epochs && !loop.stopped;
    if (more && stop_due(step)) loop.cut = {step, m.epoch, 0, loop.batches, stopped_on_request_};
    const bool step_due = std::exchange(loop.save_after_epoch, false);  // checkpoint_every_steps
    const bool due = checkpoints.due(m.epoch) || step_due;
    if (saving && more && !loop.cut && due) save_position(loop, loop.state, false);
  }
}

TrainingState TrainingRun::run(TrainingObserver& observer) {
  const TrainSpec& train = options_.train;
  const int64_t batch = batch_size_for(train.batch_size, data_.train.size);
  const int64_t batches = (data_.train.size + batch - 1) / batch;
  model_.init_parameters(model_.spec().seed);
  Loop loop(observer, model_, train, schedule_length(train, batches),
            step_options(train, model_.spec().seed, sync_), batch, batches);
  loop.state = load_start(loop, observer);
  if (sync_) check_ranks_agree(loop.state);
  loop.trainer.set_steps(loop.state.step);
  TrainOptions& steps = loop.trainer.options();
  steps.on_batch = [&loop](int64_t done, int64_t total, double loss) {
    loop.batch_done = done;
    loop.observer.batch_done(done, total, loss);
  };
  steps.after_step = [this, &loop](int64_t step) { after_step(loop, step); };
  steps.stop_after_step = [this, &loop] { return stop_due(loop.trainer.steps()); };

  observer.run_started({loop.state.epoch, loop.state.step, loop.trainer.epoch_progress().batches, train.epochs,
                        batch, !options_.resume.empty(), !sync_ || sync_->rank() == 0});
  loop.start = Clock::now();
  if (options_.max_steps && loop.state.step >= *options_.max_steps) {  // a resumed run already there
    const int64_t inside = loop.trainer.epoch_progress().batches;
    loop.cut = {loop.state.step, loop.state.epoch + (inside > 0 ? 1 : 0), inside, batches, false};
  }
  loop.stopped = loop.schedule.should_stop();  // a resumed run that had stopped early stays stopped
  train_epochs(loop);
  if (loop.cut) observer.stopped(*loop.cut);
  if (const auto best = loop.schedule.best_epoch(); best && !loop.cut) {
    loop.schedule.restore_best_weights();
    observer.best_epoch_restored(*best, *loop.schedule.best_validation_loss(), loop.stopped);
  }
  TrainingState final_state{loop.state.epoch, loop.trainer.steps(), {}, {}};
  if (!options_.save.empty()) save_position(loop, final_state, true);
  loop.schedule.save(final_state);
  return final_state;
}

}  // namespace gradflow
