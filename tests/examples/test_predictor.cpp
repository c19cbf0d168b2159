// Predictor (gradflow/predictor.hpp): a graph trained by graph-runner runs from C++ buffers,
// gives what `graph-runner predict` prints, and refuses bad buffers and files by name.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "framework/graph_fixtures.hpp"
#include "gradflow/diagnostics.hpp"
#include "gradflow/predictor.hpp"
#include "gradflow/safetensors.hpp"
#include "tools/runner.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

const std::vector<float> kXorInput = {0, 0, 0, 1, 1, 0, 1, 1};
const std::vector<float> kXorTarget = {0, 1, 1, 0};

// Trains `graph` with graph-runner into `dir` and returns the checkpoint's path.
std::string train(const std::string& graph, const TempDir& dir, const std::string& file) {
  const std::string checkpoint = dir / file;
  const RunResult r = run_graph_runner("train " + source_path(graph) + " --save " + checkpoint);
  INFO(r.output);
  REQUIRE(r.status == 0);
  return checkpoint;
}

std::string six_digits(float value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6g", static_cast<double>(value));
  return text;
}

template <class F>
std::string message_of(F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace

TEST_CASE("a predictor describes the graph's inputs and outputs", "[predictor]") {
  TempDir dir("predictor-describe");
  const std::string checkpoint = train("graphs/xor.yaml", dir, "xor.safetensors");
  const Predictor p = Predictor::load(source_path("graphs/xor.yaml"), checkpoint);
  CHECK(p.graph_name() == "xor");
  CHECK(p.input_size() == 2);
  CHECK(p.output_size() == 1);
  REQUIRE(p.inputs().size() == 1);  // y only feeds the loss: not an input of prediction
  CHECK(p.inputs()[0].name == "x");
  CHECK(p.inputs()[0].shape == Shape{2});
  REQUIRE(p.outputs().size() == 1);
  CHECK(p.outputs()[0].name == "out");
  CHECK(p.outputs()[0].shape == Shape{1});
}

// XOR's network (the fixture's) as deployed: its data files are not there, it names its classes, and
// it asks for a validation part it does not have. None of that is read when a predictor loads it.
std::string deployed_xor() {
  std::string yaml = replace(kXor, "op: mse", "op: bce");
  yaml = replace(yaml, "x: [[0, 0], [0, 1], [1, 0], [1, 1]]", "x: {csv: training/x.csv}");
  yaml = replace(yaml, "y: [[0], [1], [1], [0]]", "y: {csv: training/y.csv}");
  return yaml + "train: {epochs: 10, early_stopping: {patience: 2}}\nlabels: [same, different]\noutputs: [out]\n";
}

TEST_CASE("a predictor loads a graph whose data files are absent, and names its classes", "[predictor]") {
  TempDir dir("predictor-deploy");
  const std::string checkpoint = train("graphs/xor.yaml", dir, "xor.safetensors");
  const std::string graph = dir / "deployed.yaml";
  write_file(graph, deployed_xor());
  REQUIRE(!std::filesystem::exists(dir / "training"));
  const RunResult training = run_graph_runner("validate " + graph);  // what training would have said
  CHECK(training.status == 1);
  CHECK_THAT(training.output, Catch::Contains(dir / "training/x.csv"));

  Predictor p = Predictor::load(graph, checkpoint);
  CHECK(p.labels() == std::vector<std::string>{"same", "different"});
  REQUIRE(p.inputs().size() == 1);
  CHECK(p.inputs()[0].shape == Shape{2});
  CHECK(p.outputs()[0].shape == Shape{1});
  const std::vector<float> out = p.predict(kXorInput, 4);
  for (size_t i = 0; i < out.size(); ++i) CHECK(std::abs(out[i] - kXorTarget[i]) < 0.1f);
  CHECK(Predictor::load(source_path("graphs/xor.yaml"), checkpoint).labels().empty());
}

TEST_CASE("a trained xor predicts XOR and agrees with graph-runner predict", "[predictor]") {
  TempDir dir("predictor-xor");
  const std::string checkpoint = train("graphs/xor.yaml", dir, "xor.safetensors");
  Predictor p = Predictor::load(source_path("graphs/xor.yaml"), checkpoint);

  const std::vector<float> out = p.predict(kXorInput, 4);
  REQUIRE(out.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    INFO("sample " << i << ": " << out[i]);
    CHECK(std::abs(out[i] - kXorTarget[i]) < 0.1f);
  }

  // graph-runner predict --input with the same four rows.
  {
    std::ofstream csv(dir / "in.csv");
    csv << "0,0\n0,1\n1,0\n1,1\n";
  }
  const RunResult r = run_graph_runner("predict " + source_path("graphs/xor.yaml") + " --weights " + checkpoint +
                                       " --input " + (dir / "in.csv"));
  INFO(r.output);
  REQUIRE(r.status == 0);
  std::istringstream lines(r.output);
  std::string line;
  std::getline(lines, line);
  CHECK(line == "out");
  for (size_t i = 0; i < 4; ++i) {
    REQUIRE(std::getline(lines, line));
    CHECK(line == six_digits(out[i]));
  }
  CHECK_FALSE(std::getline(lines, line));

  // The span form writes into the caller's buffer and gives the same values.
  std::vector<float> mine(4, -1.0f);
  p.predict(kXorInput, 4, mine);
  CHECK(mine == out);
}

TEST_CASE("results do not depend on batching, threads or the caller's thread", "[predictor]") {
  TempDir dir("predictor-batching");
  const std::string checkpoint = train("graphs/xor.yaml", dir, "xor.safetensors");
  Predictor reference = Predictor::load(source_path("graphs/xor.yaml"), checkpoint);
  Predictor small = Predictor::load(source_path("graphs/xor.yaml"), checkpoint, {.threads = 2, .max_batch = 3});

  std::vector<float> input;  // 1001 samples: the XOR rows over and over
  for (int i = 0; i < 1001; ++i) {
    const auto row = kXorInput.begin() + 2 * (i % 4);
    input.insert(input.end(), row, row + 2);
  }
  const std::vector<float> expected = reference.predict(input, 1001);
  CHECK(small.predict(input, 1001) == expected);
  for (size_t i = 0; i < 1001; ++i) REQUIRE(expected[i] == expected[i % 4]);

  // One predictor shared by threads: calls are serialised, each gets its own answer.
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < 50; ++k)
        results[t] = reference.predict(std::span(input).first(2 * (t + 1)), static_cast<int64_t>(t + 1));
    });
  for (std::thread& t : threads) t.join();
  for (size_t t = 0; t < results.size(); ++t)
    CHECK(results[t] == std::vector<float>(expected.begin(), expected.begin() + static_cast<std::ptrdiff_t>(t + 1)));

  CHECK(reference.predict({}, 0).empty());
}

TEST_CASE("wrong buffer sizes are refused with the sizes expected", "[predictor]") {
  TempDir dir("predictor-sizes");
  const std::string checkpoint = train("graphs/xor.yaml", dir, "xor.safetensors");
  Predictor p = Predictor::load(source_path("graphs/xor.yaml"), checkpoint);
  const std::vector<float> five(5, 0.0f);
  std::vector<float> out(3);
  CHECK(message_of([&] { p.predict(five, 3, out); }) == "input has 5 values, expected 2 per sample x 3 samples = 6");
  CHECK_THROWS_AS(p.predict(five, 3, out), std::invalid_argument);
  CHECK(message_of([&] { p.predict(five, 3); }) == "input has 5 values, expected 2 per sample x 3 samples = 6");
  CHECK(message_of([&] { p.predict(std::span(kXorInput).first(2), 1, out); }) ==
        "output has 3 values, expected 1 per sample x 1 sample = 1");
  CHECK(message_of([&] { p.predict(kXorInput, -1); }) == "samples is -1, expected 0 or more");
  CHECK(message_of([&] { p.predict(kXorInput, int64_t{1} << 62); }) ==
        "input has 8 values, expected 2 per sample x 4611686018427387904 samples, which overflows");
}

TEST_CASE("bad files are refused by name", "[predictor]") {
  TempDir dir("predictor-files");
  const std::string xor_graph = source_path("graphs/xor.yaml");

  const std::string missing = dir / "missing.safetensors";
  CHECK_THROWS_AS(Predictor::load(xor_graph, missing), CheckpointError);
  CHECK(message_of([&] { Predictor::load(xor_graph, missing); }) ==
        missing + ": cannot open: No such file or directory");

  const std::string other = train("graphs/and_perceptron.yaml", dir, "and.safetensors");
  CHECK_THROWS_AS(Predictor::load(xor_graph, other), CheckpointError);
  CHECK(message_of([&] { Predictor::load(xor_graph, other); }) ==
        other + ": missing parameter 'fc1.weight' (the checkpoint is of graph 'and_perceptron', this graph is 'xor')");

  const std::string missing_graph = dir / "missing.yaml";
  CHECK_THROWS_AS(Predictor::load(missing_graph, other), GraphError);
  CHECK_THAT(message_of([&] { Predictor::load(missing_graph, other); }), Catch::Contains(missing_graph));

  CHECK(message_of([&] { Predictor::load(xor_graph, other, {.threads = -1}); }) ==
        "PredictorOptions::threads is -1, expected 0 (all cores) or more");
  CHECK(message_of([&] { Predictor::load(xor_graph, other, {.max_batch = 0}); }) ==
        "PredictorOptions::max_batch is 0, expected 1 or more");
}
