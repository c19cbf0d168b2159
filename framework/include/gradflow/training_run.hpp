// A whole training run, as `graph-runner train` does it and as a C++ program can: the epochs,
// validation inside and after them, the learning-rate schedule and early stopping, starting
// from weights or resuming from a checkpoint, checkpoints while it runs and at the end, and the
// data-parallel consistency checks. What the run shows or records (a progress bar, epoch lines,
// a metrics log, curves) is the observer's business: the run only reports.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <utility>

#include "gradflow/checkpoint.hpp"
#include "gradflow/in_memory_dataset.hpp"
#include "gradflow/model.hpp"
#include "gradflow/train_spec.hpp"
#include "gradflow/trainer.hpp"

namespace gradflow {

// What the run reports, in the order it happens. Every member has an empty default: an
// observer overrides what it shows. Under data parallelism every rank's run reports alike;
// `RunStart::writes_files` tells rank 0 (the one that writes) from the others.
class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;

  // `--weights`: the parameters and buffers were loaded, with a fresh optimizer and schedule.
  virtual void started_from_weights(const std::filesystem::path& /*file*/) {}
  // `--weights --partial`: what was loaded and what kept its initial value (before started_from_weights).
  virtual void weights_matched(const PartialLoad& /*load*/) {}
  // `--resume`: the run continues after `state`'s epoch and step.
  virtual void resumed(const std::filesystem::path& /*file*/, const TrainingState& /*state*/) {}
  // The last thing before the first epoch (after loading and the data-parallel checks).
  struct RunStart {
    int64_t first_epoch = 0;  // epochs already done (a resumed run's)
    int64_t first_step = 0;   // optimizer steps already taken (a resumed run's)
    int64_t first_batch = 0;  // batches already done of epoch first_epoch + 1 (resumed inside it)
    int64_t epochs = 0;       // the run ends after this many
    int64_t batch_size = 0;   // samples per step, at most the training set
    bool resumed = false;
    bool writes_files = true;  // false on every data-parallel rank but 0
  };
  virtual void run_started(const RunStart& /*start*/) {}

  virtual void epoch_started(int64_t /*epoch*/, int64_t /*epochs*/) {}  // epoch: 1-based
  // After each optimizer step: (batches done, batches in the epoch, running mean loss).
  virtual void batch_done(int64_t /*done*/, int64_t /*total*/, double /*loss*/) {}
  // After each optimizer step (after batch_done, before a step validation): what a --metrics
  // step line (train.log_every_steps) is made of.
  struct StepDone {
    int64_t step = 0;           // optimizer steps of the whole run so far (a resumed run's included)
    int64_t epoch = 0;          // 1-based: the epoch the step belongs to
    double loss = 0.0;          // the batch's loss (under data parallelism, this rank's shard's)
    std::optional<double> lr;   // the first optimizer's learning rate in this step
    int64_t samples = 0;        // samples in the (global) batch
    double seconds = 0.0;       // the step's wall time, since the previous step (or the epoch's start)
                                // ended; validations and the end-of-epoch evaluations are not in it
    double elapsed_s = 0.0;     // since the start of this run, as EpochMetrics::elapsed_s
  };
  virtual void step_done(const StepDone& /*step*/) {}
  // train.validate_every_steps: a validation inside epoch `epoch` (1-based) after `step` steps.
  virtual void step_validated(int64_t /*step*/, int64_t /*epoch*/, const Evaluation& /*validation*/,
                              double /*elapsed_s*/) {}
  // After each epoch's training and evaluation. `stopping`: early stopping ends the run here.
  virtual void epoch_done(const EpochMetrics& /*metrics*/, int64_t /*step*/, bool /*stopping*/) {}
  // With early stopping, after the last epoch: the best epoch's weights are now the model's.
  // `stopped_early`: the run ended before its epochs were done.
  virtual void best_epoch_restored(int64_t /*epoch*/, double /*validation_loss*/, bool /*stopped_early*/) {}
  // The run ends before its epochs are done: RunOptions::max_steps reached, or a stop was
  // requested (TrainingRun::request_stop). The final checkpoint then holds this position (not
  // early stopping's best weights), so that --resume continues the run.
  struct RunStop {
    int64_t step = 0;     // optimizer steps taken
    int64_t epoch = 0;    // 1-based: the epoch it stopped in, or the one it stopped after
    int64_t batch = 0;    // batches done of `epoch`; 0: it stopped at that epoch's end
    int64_t batches = 0;  // batches in an epoch
    bool requested = false;  // request_stop(), not max_steps
  };
  virtual void stopped(const RunStop& /*stop*/) {}
  // The final checkpoint (RunOptions::save) was written.
  virtual void saved(const std::filesystem::path& /*file*/) {}
};

struct RunOptions {
  RunOptions() = default;
  explicit RunOptions(TrainSpec train_section) : train(std::move(train_section)) {}

  // The graph's train: section (Model::spec().train), or a changed copy: graph-runner's
  // --epochs and --batch-size override its epochs and batch_size.
  TrainSpec train;
  // Where checkpoints go while the run goes (train.checkpoint_every, checkpoint_every_steps)
  // and at its end; empty: none are written. The run refuses, before it trains, a path it
  // could not write.
  std::filesystem::path save;
  // Start from a checkpoint's parameters and buffers with a fresh optimizer and schedule
  // (fine-tuning), or resume a checkpoint's run exactly (optimizer state, epoch, step,
  // schedule). At most one of the two.
  std::filesystem::path weights;
  std::filesystem::path resume;
  // With `weights`: load the parameters and buffers whose name and shape match, keep the
  // others at their initial values (TrainingObserver::weights_matched says which).
  bool partial = false;
  // The run stops after this many optimizer steps in all (a resumed run's included), inside
  // an epoch or at its end, and saves where it is.
  std::optional<int64_t> max_steps;
};

// Not reusable: construct one per run.
class TrainingRun {
 public:
  // Throws (naming the graph file) when the graph has no optimizer or `data` no training set.
  // `sync` (not owned) makes this one rank of a data-parallel run.
  TrainingRun(Model& model, const DataSets& data, RunOptions options, GradientSync* sync = nullptr);

  // Initialises the parameters from the graph's seed, loads RunOptions::weights or ::resume,
  // trains, and writes RunOptions::save. Returns the state the final checkpoint holds.
  TrainingState run(TrainingObserver& observer);

  // Asks the run to stop after the optimizer step in progress (or at the end of the epoch in
  // progress, when it is evaluating), write its checkpoint as RunOptions::max_steps does, and
  // return. Safe to call from a signal handler or another thread. A single process only: with
  // a GradientSync (data parallelism) the request is not honoured, since the ranks could stop
  // at different steps; use RunOptions::max_steps there, which every rank counts alike.
  void request_stop() noexcept { stop_requested_.store(true, std::memory_order_relaxed); }
  // Whether run() ended because of request_stop().
  bool stopped_on_request() const { return stopped_on_request_; }

 private:
  struct Loop;  // one run's trainer, schedule and position (training_run.cpp)

  void check_ranks_agree(const TrainingState& resumed) const;
  TrainingState load_start(Loop& loop, TrainingObserver& observer);
  void after_step(Loop& loop, int64_t step);
  bool stop_due(int64_t step);  // collective under data parallelism
  void train_epochs(Loop& loop);
  void save_position(Loop& loop, TrainingState state, bool final);

  Model& model_;
  const DataSets& data_;
  RunOptions options_;
  GradientSync* sync_;
  std::atomic<bool> stop_requested_{false};
  static_assert(std::atomic<bool>::is_always_lock_free, "request_stop must be async-signal-safe");
  bool stopped_on_request_ = false;
};

}  // namespace gradflow
