#include "training_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "gradflow/atomic_file.hpp"
#include "session.hpp"  // percent

namespace gradflow::runner {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

namespace {

std::string format_evaluation(const char* prefix, const Evaluation& e) {
  std::string text = fmt::format("  {}loss {:.6f}", prefix, e.loss);
  if (e.accuracy) text += fmt::format("  {}accuracy {}", prefix, percent(e.accuracy));
  return text;
}

void add_evaluation(nlohmann::json& line, const std::string& prefix, const Evaluation& e) {
  line[prefix + "loss"] = e.loss;
  if (e.accuracy) line[prefix + "accuracy"] = *e.accuracy;
}

}  // namespace

std::string format_epoch(const EpochMetrics& m, int64_t epochs, bool show_lr) {
  std::string line = fmt::format("epoch {}/{}", m.epoch, epochs) + format_evaluation("", m.train);
  if (m.validation) line += format_evaluation("val_", *m.validation);
  if (m.test) line += format_evaluation("test_", *m.test);
  if (show_lr && m.lr) line += fmt::format("  lr {:.6g}", *m.lr);
  return line + fmt::format("  ({:.2f}s)", m.elapsed_s);
}

nlohmann::json to_json(const EpochMetrics& m, int64_t step) {
  nlohmann::json line{{"epoch", m.epoch}, {"step", step}, {"elapsed_s", m.elapsed_s}};
  add_evaluation(line, "", m.train);
  if (m.validation) add_evaluation(line, "val_", *m.validation);
  if (m.test) add_evaluation(line, "test_", *m.test);
  if (m.lr) line["lr"] = *m.lr;
  if (m.best_epoch) line["best_epoch"] = *m.best_epoch;
  return line;
}

std::string format_step_validation(int64_t step, int64_t epoch, int64_t epochs, const Evaluation& v, double elapsed_s) {
  return fmt::format("step {} (epoch {}/{})", step, epoch, epochs) + format_evaluation("val_", v) +
         fmt::format("  ({:.2f}s)", elapsed_s);
}

nlohmann::json step_validation_json(int64_t step, int64_t epoch, const Evaluation& v, double elapsed_s) {
  nlohmann::json line{{"epoch", epoch}, {"step", step}, {"elapsed_s", elapsed_s}};
  add_evaluation(line, "val_", v);
  return line;
}

void StepWindow::add(const TrainingObserver::StepDone& s) {
  ++steps;
  samples += s.samples;
  loss_sum += s.loss;
  seconds += s.seconds;
}

nlohmann::json step_json(const TrainingObserver::StepDone& last, const StepWindow& window) {
  nlohmann::json line{{"step", last.step},
                      {"epoch", last.epoch},
                      {"loss", window.mean_loss()},
                      {"samples_per_s", window.samples_per_s()},
                      {"elapsed_s", last.elapsed_s}};
  if (last.lr) line["lr"] = *last.lr;
  return line;
}

CurvePoint to_curve_point(const EpochMetrics& m) {
  CurvePoint p;
  p.epoch = static_cast<double>(m.epoch);
  p.loss = m.train.loss;
  p.accuracy = m.train.accuracy;
  if (m.validation) p.val_loss = m.validation->loss, p.val_accuracy = m.validation->accuracy;
  if (m.test) p.test_loss = m.test->loss, p.test_accuracy = m.test->accuracy;
  p.lr = m.lr;
  return p;
}

bool worth_printing(int64_t epoch, int64_t first, int64_t epochs) {
  const int64_t every = std::max<int64_t>(1, epochs / 20);
  return epoch == first + 1 || epoch == epochs || epoch % every == 0;
}

void ProgressBar::start_epoch(int64_t epoch, int64_t epochs, int64_t batch_size) {
  epoch_ = epoch;
  epochs_ = epochs;
  batch_size_ = batch_size;
  started_ = last_draw_ = Clock::now();
}

void ProgressBar::update(int64_t done, int64_t total, double loss) {
  if (!enabled_ || total < 2) return;
  const auto now = Clock::now();
  if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = seconds_since(started_);
  const double rate = static_cast<double>(done * batch_size_) / std::max(elapsed, 1e-9);
  const double eta = elapsed / static_cast<double>(done) * static_cast<double>(total - done);
  constexpr int kWidth = 30;
  const auto filled = static_cast<int>(kWidth * done / total);
  fmt::print("\r\033[Kepoch {}/{} [{}{}] {}/{}  {:.0f} samples/s  ETA {:.0f}s  loss {:.4f}", epoch_, epochs_,
             std::string(static_cast<size_t>(filled), '='), std::string(static_cast<size_t>(kWidth - filled), ' '), done,
             total, rate, eta, loss);
  std::fflush(stdout);
}

void ProgressBar::clear() {
  if (enabled_) fmt::print("\r\033[K");
}

TrainingReport::TrainingReport(const Model& model, const DataSets& data, ReportOptions options)
    : model_(model), data_(data), options_(std::move(options)), rank0_(options_.rank0),
      bar_(options_.progress_bar && rank0_), log_every_steps_(model.spec().train.log_every_steps) {}

void TrainingReport::started_from_weights(const std::filesystem::path& file) {
  if (rank0_) fmt::print("starting from the weights of {}\n", file.string());
}

void TrainingReport::weights_matched(const PartialLoad& load) {
  if (!rank0_) return;
  for (const std::string& kept : load.kept) fmt::print("--partial: kept the initial {}\n", kept);
  for (const std::string& unused : load.unused) fmt::print("--partial: did not use the checkpoint's {}\n", unused);
  for (const std::string& state : load.unused_state)
    fmt::print("--partial: did not use the checkpoint's optimizer state {} (a fresh optimizer starts)\n", state);
  fmt::print("--partial: loaded {} of {} parameters and buffers\n", load.loaded.size(),
             load.loaded.size() + load.kept.size());
}

void TrainingReport::resumed(const std::filesystem::path& file, const TrainingState& state) {
  if (rank0_) fmt::print("resumed from {} at epoch {}, step {}\n", file.string(), state.epoch, state.step);
}

void TrainingReport::run_started(const RunStart& start) {
  first_epoch_ = start.first_epoch;
  epochs_ = start.epochs;
  batch_size_ = start.batch_size;
  if (!rank0_) return;
  if (!options_.metrics.empty())
    metrics_.emplace(options_.metrics, start.resumed ? std::optional(MetricsLog::ResumePoint{start.first_epoch,
                                                                                              start.first_step})
                                                     : std::nullopt);
  fmt::print("training '{}': {} parameters, {} training samples{}{}, batch {}, {} epoch{}{}\n", model_.spec().name,
             model_.parameter_count(), data_.train.size,
             data_.validation.empty() ? "" : fmt::format(", {} validation samples", data_.validation.size),
             data_.test.empty() ? "" : fmt::format(", {} test samples", data_.test.size), start.batch_size,
             start.epochs, start.epochs == 1 ? "" : "s", options_.parallel_note);
  if (start.first_batch > 0)
    fmt::print("continuing epoch {} after its batch {}\n", start.first_epoch + 1, start.first_batch);
}

void TrainingReport::epoch_started(int64_t epoch, int64_t epochs) {
  bar_.start_epoch(epoch, epochs, batch_size_);
}

void TrainingReport::batch_done(int64_t done, int64_t total, double loss) { bar_.update(done, total, loss); }

void TrainingReport::step_done(const StepDone& step) {
  if (!rank0_ || log_every_steps_ == 0 || (!metrics_ && options_.plot.empty())) return;
  window_.add(step);
  if (step.step % log_every_steps_ != 0) return;
  const nlohmann::json line = step_json(step, window_);
  if (metrics_) metrics_->append_line(line.dump());
  // As `plot` reads it back from the line: the same numbers.
  curves_.step_loss.emplace_back(static_cast<double>(step.step), line["loss"].get<double>());
  if (step.lr) curves_.step_lr.emplace_back(static_cast<double>(step.step), *step.lr);
  window_ = {};
}

void TrainingReport::step_validated(int64_t step, int64_t epoch, const Evaluation& v, double elapsed_s) {
  bar_.clear();
  if (!rank0_) return;
  if (metrics_) metrics_->append_line(step_validation_json(step, epoch, v, elapsed_s).dump());
  curves_.step_val_loss.emplace_back(static_cast<double>(step), v.loss);
  fmt::print("{}\n", format_step_validation(step, epoch, epochs_, v, elapsed_s));
}

void TrainingReport::epoch_done(const EpochMetrics& m, int64_t step, bool stopping) {
  bar_.clear();
  if (!rank0_) return;
  if (metrics_) metrics_->append_line(to_json(m, step).dump());
  curves_.epochs.push_back(to_curve_point(m));
  if (worth_printing(m.epoch, first_epoch_, epochs_) || stopping)
    fmt::print("{}\n", format_epoch(m, epochs_, model_.spec().train.lr_schedule.has_value()));
}

void TrainingReport::best_epoch_restored(int64_t epoch, double validation_loss, bool stopped_early) {
  if (!rank0_) return;
  if (stopped_early)
    fmt::print("early stopping: val_loss did not improve for {} epochs after epoch {}\n",
               model_.spec().train.early_stopping->patience, epoch);
  fmt::print("best epoch {} (val_loss {:.6f}): {}\n", epoch, validation_loss,
             options_.save.empty() ? "its weights are the model's" : "its weights are what --save holds");
}

void TrainingReport::stopped(const RunStop& stop) {
  bar_.clear();
  if (!rank0_) return;
  const std::string where = stop.batch > 0 ? fmt::format("in epoch {}/{}, batch {} of {}", stop.epoch, epochs_,
                                                         stop.batch, stop.batches)
                                           : fmt::format("at the end of epoch {}/{}", stop.epoch, epochs_);
  fmt::print("stopped after step {} ({}): {}\n", stop.step, where, stop.requested ? "on a signal" : "--max-steps");
}

void TrainingReport::saved(const std::filesystem::path& file) { fmt::print("saved {}\n", file.string()); }

void TrainingReport::finish() {
  if (!rank0_ || options_.plot.empty() || curves_.empty()) return;
  write_file_atomically(options_.plot, render_curves_svg(curves_, model_.spec().name));
  fmt::print("drew {}\n", options_.plot);
}

}  // namespace gradflow::runner
