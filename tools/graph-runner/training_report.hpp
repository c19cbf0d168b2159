// What `train` shows while it runs: the per-epoch line, the --metrics JSON, the progress bar
// on a terminal, and when --save writes a checkpoint.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "gradflow/trainer.hpp"
#include "plot.hpp"

namespace gradflow::runner {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start);

// "epoch 3/10  loss 0.412345  accuracy 85.10%  val_loss ...  (2.10s)"; `show_lr` adds the
// learning rate (when a schedule changes it).
std::string format_epoch(const EpochMetrics& m, int64_t epochs, bool show_lr);
// One --metrics line.
nlohmann::json to_json(const EpochMetrics& m, int64_t step);
// A validation inside an epoch (train.validate_every_steps): "step 100 (epoch 1/3)  val_loss
// 2.712345  (12.30s)", and its --metrics line, which has no training "loss".
std::string format_step_validation(int64_t step, int64_t epoch, int64_t epochs, const Evaluation& v, double elapsed_s);
nlohmann::json step_validation_json(int64_t step, int64_t epoch, const Evaluation& v, double elapsed_s);
// One point of the --plot curves.
CurvePoint to_curve_point(const EpochMetrics& m);

// Prints every epoch of a short run; about twenty evenly spaced lines of a long one.
bool worth_printing(int64_t epoch, int64_t first, int64_t epochs);

// A one-line progress bar redrawn in place while an epoch runs; only on a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  void start_epoch(int64_t epoch, int64_t epochs, int64_t batch_size);
  void update(int64_t done, int64_t total, double loss);
  void clear();

 private:
  bool enabled_;
  int64_t epoch_ = 0, epochs_ = 0, batch_size_ = 1;
  Clock::time_point started_, last_draw_;
};

// When to write the --save checkpoint: every `checkpoint_every` epochs when the graph sets it;
// otherwise every epoch but at most once per few seconds (thousands of tiny XOR epochs would
// spend their time in fsync). The first epoch a run completes is always saved, so a run killed
// soon after it has a checkpoint; the end of the run is saved by the caller.
class CheckpointPacer {
 public:
  explicit CheckpointPacer(std::optional<int64_t> every) : every_(every) {}
  bool due(int64_t epoch);

 private:
  std::optional<int64_t> every_;
  bool any_ = false;        // whether a checkpoint was due yet in this run
  Clock::time_point last_;  // when the last one was
};

}  // namespace gradflow::runner
