// What `train` shows while it runs: the per-epoch line, the --metrics JSON, the progress bar
// on a terminal, the curves; all through the TrainingRun's observer.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gradflow/training_run.hpp"
#include "metrics_log.hpp"
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

// train.log_every_steps: the steps since the last step line, and that line.
struct StepWindow {
  int64_t steps = 0, samples = 0;
  double loss_sum = 0.0, seconds = 0.0;

  void add(const TrainingObserver::StepDone& s);
  double mean_loss() const { return steps ? loss_sum / static_cast<double>(steps) : 0.0; }
  double samples_per_s() const { return seconds > 0.0 ? static_cast<double>(samples) / seconds : 0.0; }
};
// {"step", "epoch", "loss" (the window's mean), "lr", "samples_per_s", "elapsed_s"}: the step
// line written after `last`, the window's last step.
nlohmann::json step_json(const TrainingObserver::StepDone& last, const StepWindow& window);

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

// What `train` shows and records while a TrainingRun goes, on rank 0 only: the start line,
// the epoch and step-validation lines, the progress bar on a terminal, the --metrics log
// (opened when the run starts, after the checkpoint it resumes is read) and the --plot curves.
struct ReportOptions {
  std::string metrics, plot, save;  // the command's --metrics, --plot and --save ("": none)
  std::string parallel_note;        // ", data-parallel on N ranks (...)" under mpirun
  bool progress_bar = false;        // on a terminal only
  bool rank0 = true;                // under mpirun, whether this is rank 0 (the one that shows)
};

class TrainingReport final : public TrainingObserver {
 public:
  TrainingReport(const Model& model, const DataSets& data, ReportOptions options);

  void started_from_weights(const std::filesystem::path& file) override;
  void weights_matched(const PartialLoad& load) override;
  void resumed(const std::filesystem::path& file, const TrainingState& state) override;
  void run_started(const RunStart& start) override;
  void epoch_started(int64_t epoch, int64_t epochs) override;
  void batch_done(int64_t done, int64_t total, double loss) override;
  void step_done(const StepDone& step) override;
  void step_validated(int64_t step, int64_t epoch, const Evaluation& v, double elapsed_s) override;
  void epoch_done(const EpochMetrics& m, int64_t step, bool stopping) override;
  void best_epoch_restored(int64_t epoch, double validation_loss, bool stopped_early) override;
  void stopped(const RunStop& stop) override;
  void saved(const std::filesystem::path& file) override;

  // After the run: draws --plot from the epochs it saw.
  void finish();

 private:
  const Model& model_;
  const DataSets& data_;
  ReportOptions options_;
  bool rank0_;
  int64_t first_epoch_ = 0, epochs_ = 0, batch_size_ = 1;
  ProgressBar bar_;
  std::optional<MetricsLog> metrics_;
  Curves curves_;
  int64_t log_every_steps_;  // 0: no step lines
  StepWindow window_;
};

}  // namespace gradflow::runner
