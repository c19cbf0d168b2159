// The training loop: seeded shuffling, batches, forward, backward, optimizer step, and
// evaluation. Epoch e's sample order depends only on (seed, e), so a run resumed at epoch k
// draws exactly the batches an uninterrupted run would.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "gradflow/in_memory_dataset.hpp"
#include "gradflow/model.hpp"

namespace gradflow {

struct Evaluation {
  double loss = 0.0;  // sample-weighted mean of the batch losses
  std::optional<double> accuracy;
  int64_t samples = 0;
};

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based: the number of epochs completed
  Evaluation train;
  std::optional<Evaluation> validation;
  std::optional<Evaluation> test;
  std::optional<double> lr;             // the first optimizer's learning rate during the epoch
  std::optional<int64_t> best_epoch;    // with early stopping: the best epoch so far
  double elapsed_s = 0.0;  // since the start of this run
};

// Data-parallel training hooks (docs/distributed.md; the MPI implementation is
// MpiGradientSync in distributed.hpp). With a sync set, Trainer hands each of ranks() processes
// its contiguous slice of every global batch: rank r gets samples [B*r/N, B*(r+1)/N).
class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual int rank() const = 0;
  virtual int ranks() const = 0;
  // Before this rank's forward/backward on `local` of the global batch's `global` samples
  // (`local` may be 0: the rank then runs no pass and contributes zero gradients). Returns the
  // weight of this rank's batch loss in the global one: local/global for mean-reduced losses,
  // 1 for sum-reduced ones. Gradients are scaled by the same weight before they are summed.
  virtual double begin_step(int64_t local, int64_t global) = 0;
  // The same weight, without starting a step (evaluation).
  virtual double loss_weight(int64_t local, int64_t global) const = 0;
  // After backward: every parameter's gradient is the global batch's, identical on every rank.
  virtual void finish_step() = 0;
  // Sums `values` element-wise over every rank, in place (epoch loss and accuracy sums).
  virtual void sum(std::span<double> values) = 0;
  // Before the first step (TrainingRun): throws, on every rank alike, when the ranks'
  // fingerprints of `what` differ.
  virtual void check_same_everywhere(const std::string& what, uint64_t fingerprint) = 0;
};

struct TrainOptions {
  // The options of plain training: batches, shuffling and its seed, nothing else.
  static TrainOptions batches(int64_t batch_size, bool shuffle, uint64_t seed = 0) {
    TrainOptions options;
    options.batch_size = batch_size;
    options.shuffle = shuffle;
    options.seed = seed;
    return options;
  }

  int64_t batch_size = 0;  // 0: the whole training set
  bool shuffle = true;
  uint64_t seed = 0;
  // Called after every batch with (batches done, batches in the epoch, running mean loss).
  // Under data parallelism: this rank's running mean loss.
  std::function<void(int64_t, int64_t, double)> on_batch;
  // Called after every optimizer step with the steps taken so far (after on_batch); it may
  // evaluate the model (Trainer::evaluate), since the next batch sets training mode again.
  std::function<void(int64_t)> after_step;
  // Asked after after_step: true ends the epoch there, before its last batch (train_epoch then
  // returns with epoch_progress() inside the epoch; the next train_epoch continues it).
  std::function<bool()> stop_after_step;
  // Null: a single process, exactly as before. Not owned.
  GradientSync* sync = nullptr;
  // Gradient clipping over each optimizer's parameters after backward (and after the
  // data-parallel reduction), before the step: values first, then the norm.
  std::optional<double> clip_grad_value;
  std::optional<double> clip_grad_norm;
  // A training loss that is NaN or infinite throws (GraphError at the loss node, naming the
  // epoch and the step) before its backward; false (train.on_nonfinite: continue) trains on.
  bool stop_on_nonfinite = true;
};

// Where training is inside an epoch: the batches done and this rank's sums behind the epoch's
// training loss and accuracy (what a checkpoint taken inside an epoch keeps).
struct EpochProgress {
  int64_t batches = 0;  // 0: at an epoch's start
  double loss = 0.0;    // sum over batches of (this rank's weighted batch loss) x (global batch)
  double correct = 0.0;
  double samples = 0.0;
  double no_accuracy = 0.0;  // > 0 when some rank's loss reports no accuracy
};

// The batch size a run uses: the requested one, at most the data set (0: the whole set).
int64_t batch_size_for(int64_t requested, int64_t samples);
// The batch evaluation uses: at least the training batch, up to 1024 samples, as far as about
// 64 MiB of activations (`bytes_per_sample`, Model::value_bytes_per_sample) allow.
int64_t evaluation_batch(int64_t training_batch, int64_t samples, int64_t bytes_per_sample);

class Trainer {
 public:
  Trainer(Model& model, TrainOptions options);

  // Trains one epoch over `data`; `epoch` is 0-based and selects the shuffle. It starts at
  // epoch_progress()'s batch: 0, or where a stop (TrainOptions::stop_after_step) or
  // set_epoch_progress left the epoch.
  Evaluation train_epoch(const Dataset& data, int64_t epoch);
  // Where the epoch in progress is; `batches` 0 between epochs.
  const EpochProgress& epoch_progress() const { return progress_; }
  bool inside_epoch() const { return progress_.batches > 0; }
  // A resumed run's position inside its epoch (a checkpoint's).
  void set_epoch_progress(const EpochProgress& progress) { progress_ = progress; }
  // The progress summed over every rank (collective under data parallelism): what rank 0's
  // checkpoint keeps, so that the resumed epoch's loss counts every rank's batches.
  EpochProgress global_epoch_progress();
  // Forward passes only, in order, over all of `data`. `after_forward`, when set, sees the
  // model after each batch's forward pass (eval's confusion matrix); under data parallelism,
  // this rank's batches only.
  using BatchObserver = std::function<void(const Model&)>;
  Evaluation evaluate(const Dataset& data, const BatchObserver& after_forward = {});

  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }
  // The options, to set callbacks that need the trainer itself.
  TrainOptions& options() { return options_; }
  // The last training step's batch: its loss on this rank (under data parallelism, this rank's
  // shard; a rank with no samples in it keeps its previous loss) and the global batch's samples.
  double last_batch_loss() const { return last_batch_loss_; }
  int64_t last_batch_samples() const { return last_batch_samples_; }

 private:
  std::vector<int64_t> epoch_order(int64_t size, int64_t epoch) const;
  int64_t batch_size_for(const Dataset& data) const;
  GradientSync& sync();  // options_.sync, or the one-process case
  void clip_gradients();

  Model& model_;
  TrainOptions options_;
  int64_t steps_ = 0;
  EpochProgress progress_;
  double last_batch_loss_ = 0.0;
  int64_t last_batch_samples_ = 0;
};

// Accumulates batch results into a sample-weighted mean.
class RunningEvaluation {
 public:
  void add(double batch_loss, std::optional<int64_t> correct, int64_t batch);
  Evaluation result() const;
  double mean_loss() const { return samples_ ? loss_sum_ / static_cast<double>(samples_) : 0.0; }

 private:
  double loss_sum_ = 0.0;
  int64_t correct_ = 0;
  bool has_accuracy_ = true;
  int64_t samples_ = 0;
};

}  // namespace gradflow
