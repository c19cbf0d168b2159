// graph-runner train with the training schedule, end to end on sklearn's digits: early
// stopping keeps the best epoch's weights, a resumed run continues the schedule bit for bit,
// and the validation set, learning rate and best epoch show in the output, metrics and plot.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gradflow/safetensors.hpp"
#include "runner.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

const std::string kDigits = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

// digits_mlp.yaml with a validation split and `train_keys` under train:.
std::string digits_graph(const std::string& train_keys) {
  return R"(graph: digits_schedule
seed: 42
inputs:
  x: {shape: [64]}
  y: {shape: [1]}
nodes:
  - {name: fc1,    op: linear,        inputs: [x],   units: 64}
  - {name: h1,     op: relu,          inputs: [fc1]}
  - {name: logits, op: linear,        inputs: [h1],  units: 10}
  - {name: loss,   op: cross_entropy, inputs: [logits, y]}
  - {name: opt,    op: adam,          inputs: [loss], lr: 0.003}
data:
  train:
    x: {csv: )" + kDigits + R"(, columns: "0:64", scale: 0.0625}
    y: {csv: )" + kDigits + R"(, columns: [64]}
  split: 0.3
  validation_split: 0.2
train:
  epochs: 40
  batch_size: 32
)" + train_keys;
}

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir / name;
  std::ofstream(path) << text;
  return path;
}

// The epoch lines and the validations inside epochs of a --metrics file; not its step lines
// (train.log_every_steps, the ones with samples_per_s).
std::vector<nlohmann::json> metrics_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json json = nlohmann::json::parse(line);
    if (!json.contains("samples_per_s")) lines.push_back(std::move(json));
  }
  return lines;
}

// The model's parameters in a checkpoint: not the optimizer's state or the loop's.
std::map<std::string, std::vector<float>> parameters_of(const std::string& checkpoint) {
  std::map<std::string, std::vector<float>> params;
  for (const auto& [name, tensor] : read_safetensors(checkpoint).tensors)
    if (!name.starts_with("gradflow.") && !name.starts_with("opt."))
      params[name] = std::vector<float>(tensor.data(), tensor.data() + tensor.size());
  return params;
}

bool have_digits() { return std::ifstream(kDigits).good(); }

}  // namespace

TEST_CASE("early stopping stops, reports the best epoch, and saves that epoch's weights", "[e2e][data][schedule]") {
  if (!have_digits()) {
    WARN("python3-sklearn is not installed (scripts/setup.sh --data): skipped");
    return;
  }
  TempDir dir("gradflow-early-stopping");
  const std::string graph = write(dir, "g.yaml", digits_graph(R"(  lr_schedule: {kind: step, step_size: 5, gamma: 0.7}
  early_stopping: {patience: 3, min_delta: 0.0}
)"));
  const RunResult run = run_graph_runner("train " + graph + " --save " + (dir / "stopped.st") + " --metrics " +
                                         (dir / "m.jsonl") + " --plot " + (dir / "curves.svg"));
  REQUIRE(run.status == 0);
  INFO(run.output);
  CHECK(run.output.find("1006 training samples, 252 validation samples, 539 test samples") != std::string::npos);
  const auto lines = metrics_lines(dir / "m.jsonl");
  REQUIRE(!lines.empty());
  const int64_t last = lines.back()["epoch"];
  const int64_t best = lines.back()["best_epoch"];
  CHECK(last < 40);         // it stopped
  CHECK(last == best + 3);  // patience epochs after the best
  CHECK(run.output.find("early stopping: val_loss did not improve for 3 epochs after epoch " + std::to_string(best)) !=
        std::string::npos);
  for (const auto& line : lines) {
    CHECK(line.contains("val_loss"));
    CHECK(line.contains("val_accuracy"));
    CHECK(line["lr"].get<double>() == Approx(0.003 * std::pow(0.7, (line["epoch"].get<int>() - 1) / 5)));
  }
  CHECK(read_safetensors(dir / "stopped.st").metadata.at("gradflow.best_epoch") == std::to_string(best));
  // The same run stopped by --epochs at the best epoch holds the same weights, bit for bit.
  REQUIRE(run_graph_runner("train " + graph + " --epochs " + std::to_string(best) + " --save " + (dir / "best.st")).status ==
          0);
  CHECK(parameters_of(dir / "stopped.st") == parameters_of(dir / "best.st"));
  // eval of the saved weights gives the best epoch's test loss.
  const RunResult eval = run_graph_runner("eval " + graph + " --weights " + (dir / "stopped.st"));
  const double best_test_loss = lines[static_cast<size_t>(best - 1)]["test_loss"];
  char expected[64];
  std::snprintf(expected, sizeof expected, "loss %.6f", best_test_loss);
  CHECK(eval.output.find(expected) != std::string::npos);
  std::ifstream svg(dir / "curves.svg");
  std::stringstream text;
  text << svg.rdbuf();
  CHECK(text.str().find("validation loss") != std::string::npos);
  CHECK(text.str().find("learning rate") != std::string::npos);
}

TEST_CASE("a run resumed mid-schedule continues bit for bit: cosine with warm-up, plateau, early stopping",
          "[e2e][data][schedule][checkpoint]") {
  if (!have_digits()) {
    WARN("python3-sklearn is not installed (scripts/setup.sh --data): skipped");
    return;
  }
  for (const std::string keys : {"  lr_schedule: {kind: cosine, warmup_epochs: 2, t_max: 10}\n  clip_grad_norm: 0.5\n",
                                 "  lr_schedule: {kind: plateau, patience: 0, factor: 0.5}\n  clip_grad_value: 0.1\n"
                                 "  early_stopping: {patience: 20}\n"}) {
    INFO(keys);
    TempDir dir("gradflow-resume-schedule");
    const std::string graph = write(dir, "g.yaml", digits_graph(keys));
    const std::string common = " --epochs 12 --metrics ";
    REQUIRE(run_graph_runner("train " + graph + common + (dir / "full.jsonl") + " --save " + (dir / "full.st")).status == 0);
    REQUIRE(run_graph_runner("train " + graph + " --epochs 5 --save " + (dir / "part.st")).status == 0);
    const RunResult resumed = run_graph_runner("train " + graph + common + (dir / "resumed.jsonl") + " --resume " +
                                               (dir / "part.st") + " --save " + (dir / "resumed.st"));
    REQUIRE(resumed.status == 0);
    const auto full = metrics_lines(dir / "full.jsonl");
    const auto rest = metrics_lines(dir / "resumed.jsonl");
    REQUIRE(full.size() == 12);
    REQUIRE(rest.size() == 7);
    for (size_t i = 0; i < rest.size(); ++i)
      for (const char* key : {"epoch", "loss", "val_loss", "test_loss", "lr", "step"}) {
        INFO(key << " of epoch " << i + 6);
        CHECK(rest[i][key] == full[i + 5][key]);
      }
    CHECK(parameters_of(dir / "resumed.st") == parameters_of(dir / "full.st"));
  }
}

namespace {

// graphs/<name>.yaml (digits with batch_norm, dropout and a cosine schedule) trained for 4
// epochs at 1 and 2 threads, twice, and resumed after 2: the same metrics and parameters.
void check_digits_graph_deterministic(const std::string& graph_name) {
  if (!have_digits()) {
    WARN("python3-sklearn is not installed (scripts/setup.sh --data): skipped");
    return;
  }
  TempDir dir("gradflow-" + graph_name + "-determinism");
  // The graph with the cosine's period fixed at the 4 epochs all these runs plan.
  std::ifstream in(source_path("graphs/" + graph_name + ".yaml"));
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  yaml.replace(yaml.find("{kind: cosine}"), 14, "{kind: cosine, t_max: 4}");
  const std::string graph = write(dir, graph_name + ".yaml", yaml);
  auto train = [&](const std::string& name, const std::string& extra) {
    const RunResult r = run_graph_runner("train " + graph + " --epochs 4 --metrics " + (dir / (name + ".jsonl")) +
                                         " --save " + (dir / (name + ".st")) + " " + extra);
    INFO(r.output);
    REQUIRE(r.status == 0);
    return metrics_lines(dir / (name + ".jsonl"));
  };
  const auto one = train("t1", "--threads 1");
  const auto two = train("t2", "--threads 2");
  const auto again = train("again", "--threads 2");
  REQUIRE(run_graph_runner("train " + graph + " --epochs 2 --save " + (dir / "part.st")).status == 0);
  const auto resumed = train("resumed", "--resume " + (dir / "part.st"));
  REQUIRE(one.size() == 4);
  REQUIRE(resumed.size() == 2);
  for (size_t e = 0; e < 4; ++e)
    for (const char* key : {"loss", "val_loss", "test_loss", "lr"}) {
      INFO(key << " of epoch " << e + 1);
      CHECK(two[e][key] == one[e][key]);
      CHECK(again[e][key] == one[e][key]);
      if (e >= 2) CHECK(resumed[e - 2][key] == one[e][key]);
    }
  CHECK(parameters_of(dir / "t1.st") == parameters_of(dir / "t2.st"));
  CHECK(parameters_of(dir / "resumed.st") == parameters_of(dir / "t1.st"));
}

}  // namespace

TEST_CASE("a CNN with batch_norm and dropout trains bit-identically at 1 and 2 threads, twice, and resumed",
          "[e2e][data][images][checkpoint]") {
  check_digits_graph_deterministic("digits_cnn");
}

TEST_CASE("digits_conv1d.yaml trains bit-identically at 1 and 2 threads, twice, and resumed",
          "[e2e][data][sequences][checkpoint]") {
  check_digits_graph_deterministic("digits_conv1d");
}

TEST_CASE("digits_cnn.yaml reaches 98% test accuracy on sklearn's digits as 8x8 images", "[e2e][data][images]") {
  if (!have_digits()) {
    WARN("python3-sklearn is not installed (scripts/setup.sh --data): skipped");
    return;
  }
  TempDir dir("gradflow-digits-cnn");
  REQUIRE(run_graph_runner("train " + source_path("graphs/digits_cnn.yaml") + " --metrics " + (dir / "m.jsonl")).status == 0);
  const auto lines = metrics_lines(dir / "m.jsonl");
  REQUIRE(lines.size() == 40);
  CHECK(lines.back()["test_accuracy"].get<double>() >= 0.98);
}

TEST_CASE("digits_conv1d.yaml reaches 96% test accuracy on sklearn's digits as [8, 8] sequences",
          "[e2e][data][sequences]") {
  if (!have_digits()) {
    WARN("python3-sklearn is not installed (scripts/setup.sh --data): skipped");
    return;
  }
  TempDir dir("gradflow-digits-conv1d");
  REQUIRE(run_graph_runner("train " + source_path("graphs/digits_conv1d.yaml") + " --metrics " + (dir / "m.jsonl")).status ==
          0);
  const auto lines = metrics_lines(dir / "m.jsonl");
  REQUIRE(lines.size() == 40);
  CHECK(lines.back()["test_accuracy"].get<double>() >= 0.96);  // 16 seeds: 96.85% to 99.07%, mean 98.41%
}

TEST_CASE("train --weights fine-tunes from a checkpoint's weights with a fresh optimizer; it excludes --resume",
          "[e2e][data][checkpoint]") {
  if (!have_digits()) {
    WARN("python3-sklearn is not installed (scripts/setup.sh --data): skipped");
    return;
  }
  TempDir dir("gradflow-weights");
  const std::string graph = write(dir, "g.yaml", digits_graph(""));
  REQUIRE(run_graph_runner("train " + graph + " --epochs 10 --save " + (dir / "a.st")).status == 0);
  REQUIRE(run_graph_runner("train " + graph + " --epochs 1 --metrics " + (dir / "fresh.jsonl")).status == 0);
  const RunResult tuned = run_graph_runner("train " + graph + " --epochs 1 --weights " + (dir / "a.st") +
                                           " --metrics " + (dir / "tuned.jsonl"));
  REQUIRE(tuned.status == 0);
  CHECK(tuned.output.find("starting from the weights of " + (dir / "a.st")) != std::string::npos);
  const double fresh = metrics_lines(dir / "fresh.jsonl").front()["loss"];
  const auto tuned_line = metrics_lines(dir / "tuned.jsonl").front();
  CHECK(tuned_line["epoch"] == 1);     // a new run: epoch and step start at 0
  CHECK(tuned_line["loss"].get<double>() < fresh / 3);
  CHECK(run_graph_runner("train " + graph + " --weights " + (dir / "a.st") + " --resume " + (dir / "a.st")).status == 2);
}

TEST_CASE("validate_every_steps validates inside epochs; at an epoch's last step it equals the epoch's validation",
          "[e2e][data][schedule]") {
  if (!have_digits()) {
    WARN("python3-sklearn is not installed (scripts/setup.sh --data): skipped");
    return;
  }
  TempDir dir("gradflow-step-validation");
  // 1006 training samples in batches of 32: 32 steps an epoch, so step 32 ends epoch 1.
  const std::string graph = write(dir, "g.yaml", digits_graph("  validate_every_steps: 8\n"));
  const RunResult run = run_graph_runner("train " + graph + " --epochs 2 --metrics " + (dir / "m.jsonl"));
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK(run.output.find("step 8 (epoch 1/2)  val_loss ") != std::string::npos);
  const auto lines = metrics_lines(dir / "m.jsonl");
  std::vector<int64_t> steps;
  std::map<int64_t, double> step_loss, epoch_loss;
  for (const auto& line : lines) {
    if (line.contains("loss")) {
      epoch_loss[line["step"].get<int64_t>()] = line["val_loss"].get<double>();
      continue;
    }
    CHECK_FALSE(line.contains("test_loss"));
    steps.push_back(line["step"].get<int64_t>());
    step_loss[steps.back()] = line["val_loss"].get<double>();
    CHECK(line["epoch"].get<int64_t>() == (steps.back() - 1) / 32 + 1);
  }
  CHECK(steps == std::vector<int64_t>{8, 16, 24, 32, 40, 48, 56, 64});
  REQUIRE(epoch_loss.size() == 2);
  CHECK(step_loss.at(32) == epoch_loss.at(32));
  CHECK(step_loss.at(64) == epoch_loss.at(64));
  CHECK(step_loss.at(8) > step_loss.at(32));  // it learns
}

TEST_CASE("validate_every_steps without validation data is an error at its line", "[e2e][schedule][errors]") {
  TempDir dir("gradflow-step-validation-error");
  const std::string graph = write(dir, "g.yaml", R"(graph: g
inputs:
  x: {shape: [1]}
  y: {shape: [1]}
nodes:
  - {name: fc, op: linear, inputs: [x], units: 1}
  - {name: loss, op: mse, inputs: [fc, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
data:
  train:
    x: [[0], [1]]
    y: [[0], [1]]
train:
  validate_every_steps: 10
)");
  const RunResult run = run_graph_runner("validate " + graph);
  CHECK(run.status == 1);
  CHECK(run.output.find(graph + ":14:25: error: train.validate_every_steps evaluates the validation data: give "
                                "data.validation_split (a fraction of the training data) or a data.validation part") !=
        std::string::npos);
}

TEST_CASE("fashion_mnist_mobilenet.yaml trains bit-identically at 1 and 2 threads, and resumed inside an epoch",
          "[e2e][data][images][checkpoint]") {
  const std::string images = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
  if (!std::ifstream(images).good()) {
    WARN("Fashion-MNIST is not installed (scripts/setup.sh --data): skipped");
    return;
  }
  TempDir dir("gradflow-mobilenet-determinism");
  auto train = [&](const std::string& name, const std::string& extra) {
    const RunResult r = run_graph_runner("train " + source_path("graphs/fashion_mnist_mobilenet.yaml") + " --save " +
                                         (dir / (name + ".st")) + " " + extra);
    INFO(r.output);
    REQUIRE(r.status == 0);
  };
  // Depthwise convolutions, batch_norm, the squeeze-and-excitation's broadcast mul and dropout:
  // 24 steps, and 12 resumed for 12 more at the other thread count.
  train("t1", "--threads 1 --max-steps 24");
  train("t2", "--threads 2 --max-steps 24");
  train("part", "--threads 2 --max-steps 12");
  train("resumed", "--threads 1 --max-steps 24 --resume " + (dir / "part.st"));
  const auto one = parameters_of(dir / "t1.st");
  CHECK(one.size() > 40);
  CHECK(parameters_of(dir / "t2.st") == one);
  CHECK(parameters_of(dir / "resumed.st") == one);
  CHECK(parameters_of(dir / "part.st") != one);
}
