// TrainingRun, the whole run as a library call: what it reports to its observer and in what
// order, resuming from inside a run, early stopping, and its refusals.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "gradflow/checkpoint.hpp"
#include "gradflow/diagnostics.hpp"
#include "gradflow/training_run.hpp"
#include "framework/graph_fixtures.hpp"
#include "support/temp_dir.hpp"

namespace gradflow::test {
namespace {

// Every report, as one line each.
class Recorder final : public TrainingObserver {
 public:
  std::vector<std::string> events;
  std::vector<double> losses;

  void started_from_weights(const std::filesystem::path&) override { events.push_back("weights"); }
  void resumed(const std::filesystem::path&, const TrainingState& s) override {
    events.push_back("resumed " + std::to_string(s.epoch));
  }
  void run_started(const RunStart& s) override {
    events.push_back("start " + std::to_string(s.first_epoch) + "/" + std::to_string(s.epochs) + " batch " +
                     std::to_string(s.batch_size));
  }
  void epoch_started(int64_t epoch, int64_t) override { events.push_back("epoch " + std::to_string(epoch)); }
  void step_validated(int64_t step, int64_t epoch, const Evaluation&, double) override {
    events.push_back("validated " + std::to_string(step) + " in " + std::to_string(epoch));
  }
  void epoch_done(const EpochMetrics& m, int64_t step, bool stopping) override {
    events.push_back("done " + std::to_string(m.epoch) + " step " + std::to_string(step) + (stopping ? " stop" : ""));
    losses.push_back(m.train.loss);
  }
  void best_epoch_restored(int64_t epoch, double, bool early) override {
    events.push_back("best " + std::to_string(epoch) + (early ? " early" : ""));
  }
  void saved(const std::filesystem::path&) override { events.push_back("saved"); }
};

const std::string kValidated = replace(kXor, "data:\n  train:", R"(train: {epochs: 3, batch_size: 2, validate_every_steps: 3}
data:
  validation:
    x: [[0, 0], [1, 1]]
    y: [[0], [0]]
  train:)");

// Trains `yaml` with its own train: section, changed by `edit`.
TrainingState train(const std::string& yaml, Recorder& seen, const std::function<void(RunOptions&)>& edit = {}) {
  LoadedGraph graph = load(yaml);
  RunOptions options(graph.model->spec().train);
  if (edit) edit(options);
  TrainingRun run(*graph.model, graph.data, options);
  return run.run(seen);
}

TEST_CASE("a training run reports its start, epochs, step validations and save in order") {
  TempDir dir;
  const auto file = dir.path / "run.safetensors";
  Recorder seen;
  const TrainingState done = train(kValidated, seen, [&](RunOptions& o) { o.save = file; });
  CHECK(seen.events == std::vector<std::string>{"start 0/3 batch 2", "epoch 1", "done 1 step 2", "epoch 2",
                                                "validated 3 in 2", "done 2 step 4", "epoch 3", "validated 6 in 3",
                                                "done 3 step 6", "saved"});
  CHECK(done.epoch == 3);
  CHECK(done.step == 6);
  CHECK(std::filesystem::exists(file));
}

TEST_CASE("a run resumed from its checkpoint reports the resume and ends where the whole run ends") {
  TempDir dir;
  const auto file = dir.path / "half.safetensors";
  Recorder straight, half, resumed;
  train(kValidated, straight);
  train(kValidated, half, [&](RunOptions& o) {
    o.train.epochs = 2;
    o.save = file;
  });
  train(kValidated, resumed, [&](RunOptions& o) { o.resume = file; });
  CHECK(resumed.events == std::vector<std::string>{"resumed 2", "start 2/3 batch 2", "epoch 3", "validated 6 in 3",
                                                   "done 3 step 6"});
  CHECK(resumed.losses.back() == straight.losses.back());  // bit for bit
}

TEST_CASE("early stopping ends the run and restores the best epoch, reported once") {
  const std::string yaml = replace(kValidated, "validate_every_steps: 3}",
                                   "early_stopping: {patience: 1, min_delta: 100}}");
  Recorder seen;
  train(yaml, seen);
  // Epoch 1 is the best; nothing improves by 100, so epoch 2 is the first without improvement.
  CHECK(seen.events ==
        std::vector<std::string>{"start 0/3 batch 2", "epoch 1", "done 1 step 2", "epoch 2", "done 2 step 4 stop",
                                 "best 1 early"});
}

TEST_CASE("a training run refuses a graph without an optimizer or without training data, naming the file") {
  LoadedGraph no_optimizer = load(replace(kXor, "  - {name: opt, op: sgd, inputs: [loss], lr: 0.5}\n", ""));
  CHECK_THROWS_WITH(TrainingRun(*no_optimizer.model, no_optimizer.data, RunOptions(no_optimizer.model->spec().train)),
                    "g.yaml: error: the graph has no optimizer node: nothing to train");
  LoadedGraph no_data = load(kXor);
  const DataSets empty;
  CHECK_THROWS_WITH(TrainingRun(*no_data.model, empty, RunOptions(no_data.model->spec().train)),
                    "g.yaml: error: the graph has no training data (data.train)");
}

}  // namespace
}  // namespace gradflow::test

namespace gradflow::test {
namespace {

class StepRecorder final : public TrainingObserver {
 public:
  std::vector<StepDone> steps;
  std::vector<std::string> events;
  void step_done(const StepDone& s) override {
    steps.push_back(s);
    events.push_back("step " + std::to_string(s.step));
  }
  void step_validated(int64_t step, int64_t, const Evaluation&, double) override {
    events.push_back("validated " + std::to_string(step));
  }
  void epoch_done(const EpochMetrics& m, int64_t, bool) override { events.push_back("done " + std::to_string(m.epoch)); }
};

TEST_CASE("every optimizer step is reported: its number, epoch, batch loss, learning rate, samples and time") {
  // kXor's four samples in batches of 3: a step of 3 samples, then one of 1, in each epoch.
  const std::string yaml = replace(kValidated, "batch_size: 2", "batch_size: 3");
  StepRecorder seen;
  LoadedGraph graph = load(yaml);
  TrainingRun run(*graph.model, graph.data, RunOptions(graph.model->spec().train));
  run.run(seen);
  CHECK(seen.events == std::vector<std::string>{"step 1", "step 2", "done 1", "step 3", "validated 3", "step 4",
                                                "done 2", "step 5", "step 6", "validated 6", "done 3"});
  REQUIRE(seen.steps.size() == 6);
  for (size_t i = 0; i < seen.steps.size(); ++i) {
    const auto& s = seen.steps[i];
    CHECK(s.step == static_cast<int64_t>(i) + 1);
    CHECK(s.epoch == static_cast<int64_t>(i) / 2 + 1);
    CHECK(s.samples == (i % 2 == 0 ? 3 : 1));
    CHECK(s.lr == Approx(0.5));
    CHECK(std::isfinite(s.loss));
    CHECK(s.loss > 0.0);
    CHECK(s.seconds >= 0.0);
    CHECK(s.elapsed_s >= s.seconds);
    if (i > 0) CHECK(s.elapsed_s >= seen.steps[i - 1].elapsed_s);
  }
  CHECK(seen.steps[0].loss != seen.steps[1].loss);  // each batch's own loss, not a running mean
}

}  // namespace
}  // namespace gradflow::test
