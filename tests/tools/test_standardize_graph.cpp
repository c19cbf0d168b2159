// Issue 28, item 2, end to end: a `standardize` node fitted on raw tabular data whose columns
// differ by six orders of magnitude trains a logistic regression to the separating rule, and,
// being part of the model, makes predict --input on the raw rows give exactly what predict on
// the graph's test set gives.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "runner.hpp"
#include "support/temp_dir.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

// Column j of row i, raw: scales 1000, 1 and 0.001 around offsets; the class is whether the
// standardized first two columns sum above 0.
std::string rows(int first, int count, bool with_class) {
  std::string csv;
  for (int i = first; i < first + count; ++i) {
    const double a = std::sin(1.7 * i), b = std::cos(2.3 * i), c = std::sin(0.9 * i);
    csv += std::to_string(5000.0 + 1000.0 * a) + "," + std::to_string(3.0 + b) + "," + std::to_string(0.001 * c);
    if (with_class) csv += a + b > 0 ? ",1" : ",0";
    csv += "\n";
  }
  return csv;
}

}  // namespace

TEST_CASE("standardize: raw tabular data trains, and predict --input on raw rows matches predict on the test set",
          "[e2e][standardize]") {
  TempDir dir("gradflow-standardize");
  write_file(dir / "train.csv", rows(0, 120, true));
  write_file(dir / "test.csv", rows(120, 40, true));
  write_file(dir / "test_x.csv", rows(120, 40, false));
  write_file(dir / "g.yaml", R"(graph: tabular
seed: 0
inputs:
  x: {shape: [3]}
  y: {shape: [1]}
nodes:
  - {name: scaled, op: standardize,   inputs: [x]}
  - {name: logits, op: linear,        inputs: [scaled], units: 2}
  - {name: loss,   op: cross_entropy, inputs: [logits, y]}
  - {name: opt,    op: adam,          inputs: [loss], lr: 0.05}
data:
  train: {x: {csv: train.csv, columns: "0:3"}, y: {csv: train.csv, columns: [3]}}
  test:  {x: {csv: test.csv, columns: "0:3"},  y: {csv: test.csv, columns: [3]}}
train: {epochs: 60, batch_size: 16}
)");
  const RunResult trained = run_graph_runner("train " + (dir / "g.yaml") + " --save " + (dir / "w.st"));
  REQUIRE(trained.status == 0);
  const RunResult eval = run_graph_runner("eval " + (dir / "g.yaml") + " --weights " + (dir / "w.st"));
  INFO(trained.output << eval.output);
  const auto at = eval.output.find("test set: 40 samples");
  REQUIRE(at != std::string::npos);
  const auto accuracy = eval.output.find("accuracy ", at);
  CHECK(std::stod(eval.output.substr(accuracy + 9)) >= 95.0);  // 97.5% when written
  const RunResult from_test = run_graph_runner("predict " + (dir / "g.yaml") + " --weights " + (dir / "w.st"));
  const RunResult from_raw =
      run_graph_runner("predict " + (dir / "g.yaml") + " --weights " + (dir / "w.st") + " --input " + (dir / "test_x.csv"));
  REQUIRE(from_raw.status == 0);
  CHECK(from_raw.output == from_test.output);
}
