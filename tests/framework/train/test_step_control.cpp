// Step control in TrainingRun: max_steps and stop requests end a run inside an epoch with a
// checkpoint of that position; resumed from it, the run ends bit for bit as the uninterrupted
// one (the whole checkpoint file, byte for byte); checkpoint_every_steps saves inside epochs;
// lr_schedule.interval step gives torch's learning rate at every optimizer step.
#include <catch2/catch.hpp>

#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "framework/graph_fixtures.hpp"
#include "gradflow/checkpoint.hpp"
#include "gradflow/safetensors.hpp"
#include "gradflow/training_run.hpp"
#include "support/temp_dir.hpp"
#include "torch_lr_schedule_reference.hpp"

namespace gradflow::test {
namespace {

// 10 samples in batches of 3 (4 steps an epoch, the last of 1 sample), shuffled, with dropout,
// Adam, and a per-step cosine schedule with warm-up: every piece of state a resume must carry.
const std::string kSteps = R"(graph: steps
seed: 3
inputs:
  x: {shape: [2]}
  y: {shape: [1]}
nodes:
  - {name: fc1, op: linear, inputs: [x], units: 6}
  - {name: h1, op: tanh, inputs: [fc1]}
  - {name: d1, op: dropout, inputs: [h1], p: 0.2}
  - {name: fc2, op: linear, inputs: [d1], units: 1}
  - {name: loss, op: mse, inputs: [fc2, y]}
  - {name: opt, op: adam, inputs: [loss], lr: 0.05}
data:
  train:
    x: [[0, 0], [0, 1], [1, 0], [1, 1], [0.5, 0.5], [0.2, 0.9], [0.9, 0.1], [0.3, 0.3], [0.7, 0.8], [0.1, 0.6]]
    y: [[0], [1], [1], [0], [0.5], [0.8], [0.7], [0.1], [0.4], [0.6]]
train:
  epochs: 5
  batch_size: 3
  lr_schedule: {kind: cosine, interval: step, warmup_epochs: 3}
)";

class StepRecorder final : public TrainingObserver {
 public:
  std::vector<std::string> events;
  std::function<void(int64_t)> on_step;  // with the batches done in the epoch
  void resumed(const std::filesystem::path&, const TrainingState& s) override {
    events.push_back("resumed " + std::to_string(s.epoch) + " step " + std::to_string(s.step));
  }
  void run_started(const RunStart& s) override {
    events.push_back("start " + std::to_string(s.first_epoch) + " step " + std::to_string(s.first_step) + " batch " +
                     std::to_string(s.first_batch));
  }
  void batch_done(int64_t done, int64_t, double) override {
    if (on_step) on_step(done);
  }
  void epoch_done(const EpochMetrics& m, int64_t step, bool) override {
    events.push_back("done " + std::to_string(m.epoch) + " step " + std::to_string(step));
  }
  void stopped(const RunStop& s) override {
    events.push_back("stopped " + std::to_string(s.step) + " in " + std::to_string(s.epoch) + " batch " +
                     std::to_string(s.batch) + "/" + std::to_string(s.batches) + (s.requested ? " requested" : ""));
  }
  void saved(const std::filesystem::path&) override { events.push_back("saved"); }
};

std::string bytes_of(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Trains kSteps (changed by `yaml_edit`) with `edit`ed options; `setup` sees the run first.
TrainingState train(const std::string& yaml, StepRecorder& seen, const std::function<void(RunOptions&)>& edit,
                    const std::function<void(TrainingRun&)>& setup = {}) {
  LoadedGraph graph = load(yaml);
  RunOptions options(graph.model->spec().train);
  edit(options);
  TrainingRun run(*graph.model, graph.data, options);
  if (setup) setup(run);
  return run.run(seen);
}

// Resumes `file` with `yaml` to the end of the run, saving over it; the file's bytes then.
std::string resumed_to_end(const std::string& yaml, const std::filesystem::path& file) {
  StepRecorder seen;
  train(yaml, seen, [&](RunOptions& o) {
    o.resume = file;
    o.save = file;
  });
  return bytes_of(file);
}

TEST_CASE("max_steps stops inside an epoch; the resumed run's checkpoint is the uninterrupted one's, byte for byte") {
  TempDir dir;
  StepRecorder whole;
  train(kSteps, whole, [&](RunOptions& o) { o.save = dir.path / "whole.st"; });
  for (const int64_t stop : {1, 6, 8, 13}) {
    INFO("stopped at step " << stop);
    const auto part = dir.path / ("part" + std::to_string(stop) + ".st");
    StepRecorder a;
    const TrainingState at = train(kSteps, a, [&](RunOptions& o) {
      o.save = part;
      o.max_steps = stop;
    });
    CHECK(at.step == stop);
    CHECK(a.events.back() == "saved");
    CHECK(resumed_to_end(kSteps, part) == bytes_of(dir.path / "whole.st"));
  }
  StepRecorder seen;
  train(kSteps, seen, [&](RunOptions& o) {
    o.save = dir.path / "six.st";
    o.max_steps = 6;
  });
  CHECK(seen.events == std::vector<std::string>{"start 0 step 0 batch 0", "done 1 step 4", "stopped 6 in 2 batch 2/4",
                                                "saved"});
  const auto saved = read_safetensors(dir.path / "six.st").metadata;
  CHECK(saved.at("gradflow.epoch") == "1");
  CHECK(saved.at("gradflow.step") == "6");
  CHECK(saved.at("gradflow.epoch_batches") == "2");
  CHECK(saved.at("gradflow.epoch_batch_size") == "3");
  StepRecorder resumed;
  train(kSteps, resumed, [&](RunOptions& o) { o.resume = dir.path / "six.st"; });
  CHECK(resumed.events == std::vector<std::string>{"resumed 1 step 6", "start 1 step 6 batch 2", "done 2 step 8",
                                                   "done 3 step 12", "done 4 step 16", "done 5 step 20"});
}

TEST_CASE("a stop request ends the run after the step in progress, with a checkpoint that resumes exactly") {
  TempDir dir;
  StepRecorder whole, stopped;
  train(kSteps, whole, [&](RunOptions& o) { o.save = dir.path / "whole.st"; });
  bool requested = false;
  train(kSteps, stopped, [&](RunOptions& o) { o.save = dir.path / "part.st"; }, [&](TrainingRun& run) {
    stopped.on_step = [&](int64_t done) {
      if (done == 3 && !std::exchange(requested, true)) run.request_stop();  // epoch 1, batch 3
    };
  });
  CHECK(stopped.events == std::vector<std::string>{"start 0 step 0 batch 0", "stopped 3 in 1 batch 3/4 requested",
                                                   "saved"});
  CHECK(resumed_to_end(kSteps, dir.path / "part.st") == bytes_of(dir.path / "whole.st"));
}

TEST_CASE("checkpoint_every_steps saves inside epochs; resuming its last checkpoint ends as the whole run") {
  TempDir dir;
  const std::string yaml = replace(kSteps, "  batch_size: 3\n", "  batch_size: 3\n  checkpoint_every_steps: 7\n");
  StepRecorder whole, cut;
  train(yaml, whole, [&](RunOptions& o) { o.save = dir.path / "whole.st"; });
  // Stopped by max_steps 9 after the checkpoint of step 7: the file holds step 9's position.
  train(yaml, cut, [&](RunOptions& o) {
    o.save = dir.path / "part.st";
    o.max_steps = 9;
  });
  CHECK(read_safetensors(dir.path / "part.st").metadata.at("gradflow.step") == "9");
  CHECK(resumed_to_end(yaml, dir.path / "part.st") == bytes_of(dir.path / "whole.st"));
  // The checkpoint of step 14 (epoch 4, batch 2), written while the run went on.
  StepRecorder kept;
  bool copied = false;
  train(yaml, kept, [&](RunOptions& o) { o.save = dir.path / "every.st"; }, [&](TrainingRun&) {
    kept.on_step = [&](int64_t) {
      if (copied || !std::filesystem::exists(dir.path / "every.st")) return;
      if (read_safetensors(dir.path / "every.st").metadata.at("gradflow.step") != "14") return;
      std::filesystem::copy_file(dir.path / "every.st", dir.path / "fourteen.st");
      copied = true;
    };
  });
  REQUIRE(copied);
  CHECK(read_safetensors(dir.path / "fourteen.st").metadata.at("gradflow.epoch_batches") == "2");
  CHECK(resumed_to_end(yaml, dir.path / "fourteen.st") == bytes_of(dir.path / "whole.st"));
}

TEST_CASE("a checkpoint taken inside an epoch refuses a run with another batch size") {
  TempDir dir;
  StepRecorder a, b;
  train(kSteps, a, [&](RunOptions& o) {
    o.save = dir.path / "part.st";
    o.max_steps = 5;
  });
  const std::string file = (dir.path / "part.st").string();
  CHECK_THROWS_WITH(train(kSteps, b,
                          [&](RunOptions& o) {
                            o.resume = file;
                            o.train.batch_size = 2;
                          }),
                    file + ": the checkpoint was taken inside epoch 2 with batches of 3 samples, this run's have 2; "
                           "resuming would not continue the same run");
}

// Two SGD optimizers with torch's two base rates, one per layer, 12 steps: 3 epochs of 4 batches.
std::string two_group_graph(const std::string& schedule) {
  return replace(replace(kXor, "  - {name: opt, op: sgd, inputs: [loss], lr: 0.5}\n",
                         "  - {name: opt, op: sgd, inputs: [loss], lr: 0.1, params: [fc1]}\n"
                         "  - {name: opt2, op: sgd, inputs: [loss], lr: 0.003, params: [fc2]}\n"),
                 "data:\n", "train: {epochs: 3, batch_size: 1, lr_schedule: " + schedule + "}\ndata:\n");
}

TEST_CASE("lr_schedule interval step: every optimizer step's learning rate is torch's, stepped every batch",
          "[schedule][torch]") {
  // torch's table steps the scheduler 12 times; here 12 optimizer steps do (epochs 3 x 4 batches).
  const std::map<std::string, std::string> schedules{
      {"step", "{kind: step, step_size: 3, gamma: 0.5"},
      {"multistep", "{kind: multistep, milestones: [2, 5, 5, 9], gamma: 0.3"},
      {"exponential", "{kind: exponential, gamma: 0.9"},
      {"cosine", "{kind: cosine, t_max: 5, eta_min: 0.001"},
      {"cosine_rest", "{kind: cosine, eta_min: 0.0"},
      {"cosine_warmup", "{kind: cosine, warmup_epochs: 3, eta_min: 0.0005"},
      {"step_warmup", "{kind: step, warmup_epochs: 2, warmup_start_factor: 0.25, step_size: 4, gamma: 0.1"}};
  for (const TorchLrs& expected : kTorchLrs) {
    const auto it = schedules.find(expected.schedule);
    if (it == schedules.end()) continue;  // plateau watches a validation loss once an epoch
    INFO(expected.schedule << ", group " << expected.group);
    LoadedGraph graph = load(two_group_graph(it->second + ", interval: step}"));
    Model& model = *graph.model;
    StepRecorder seen;
    std::vector<double> lrs;
    seen.on_step = [&](int64_t) { lrs.push_back(*model.optimizers()[expected.group].impl->learning_rate()); };
    TrainingRun(model, graph.data, RunOptions(model.spec().train)).run(seen);
    CHECK(lrs == expected.per_epoch);
  }
}

}  // namespace
}  // namespace gradflow::test
