// Issue 28, item 1: NaN and infinity in data are refused when the data loads (CSV, and
// predict --input), a training loss that turns NaN or infinite stops the run naming the epoch,
// the step and the loss node without touching the checkpoint (train.on_nonfinite: continue
// trains on), and --check-numerics names the data row when the first NaN or Inf came from data.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "runner.hpp"
#include "support/temp_dir.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A linear regression on x = columns 1-2 and y = column 3 of data.csv, with `extra` in its
// data source for x and `train_extra` in train:.
std::string regression(const std::string& extra = "", const std::string& train_extra = "") {
  return "graph: reg\n"
         "inputs:\n"
         "  x: {shape: [2]}\n"
         "  y: {shape: [1]}\n"
         "nodes:\n"
         "  - {name: fc,   op: linear, inputs: [x], units: 1}\n"
         "  - {name: loss, op: mse,    inputs: [fc, y]}\n"
         "  - {name: opt,  op: sgd,    inputs: [loss], lr: 0.01}\n"
         "data:\n"
         "  train:\n"
         "    x: {csv: data.csv, columns: \"0:2\"" + extra + "}\n"
         "    y: {csv: data.csv, columns: [2]}\n"
         "train: {epochs: 3, batch_size: 2" + train_extra + "}\n";
}

}  // namespace

TEST_CASE("a NaN or an infinity in a CSV is refused when it loads, naming the file, row and column", "[e2e][errors][data]") {
  TempDir dir("gradflow-nan-csv");
  write_file(dir / "g.yaml", regression());
  for (const auto& [cell, what] : {std::pair{"nan", "NaN"}, {"inf", "infinite"}, {"-Infinity", "-infinite"}}) {
    write_file(dir / "data.csv", std::string("1,2,3\n4,5,6\n7,") + cell + ",9\n");
    const RunResult r = run_graph_runner("train " + (dir / "g.yaml"));
    CHECK(r.status == 1);
    CHECK(r.output == dir / "g.yaml" + ":11:14: error: data for input 'x': " + (dir / "data.csv") + ": row 3, column 2: '" +
                          cell + "' is " + what + "; data must be finite numbers\n");
  }
}

TEST_CASE("predict --input refuses a NaN", "[e2e][errors][data]") {
  TempDir dir("gradflow-nan-predict");
  write_file(dir / "g.yaml", regression());
  write_file(dir / "data.csv", "1,2,3\n4,5,6\n");
  REQUIRE(run_graph_runner("train " + (dir / "g.yaml") + " --save " + (dir / "w.st")).status == 0);
  write_file(dir / "in.csv", "1,2\nnan,3\n");
  const RunResult r = run_graph_runner("predict " + (dir / "g.yaml") + " --weights " + (dir / "w.st") + " --input " + (dir / "in.csv"));
  CHECK(r.status == 1);
  CHECK(r.output.ends_with("error: " + (dir / "in.csv") + ": row 2, column 1: 'nan' is NaN; data must be finite numbers\n"));
}

TEST_CASE("a loss that overflows stops the run naming epoch, step and node, and saves nothing", "[e2e][errors][data]") {
  TempDir dir("gradflow-nonfinite-loss");
  write_file(dir / "g.yaml", regression("", ", shuffle: false"));
  // The third and fourth rows square to 1e40 and more: infinite in float, at step 2 of epoch 1.
  write_file(dir / "data.csv", "1,2,3\n4,5,6\n1e20,1e20,0\n1e20,1e20,0\n");
  write_file(dir / "w.st", "precious");
  const RunResult r = run_graph_runner("train " + (dir / "g.yaml") + " --save " + (dir / "w.st") + " --threads 1");
  CHECK(r.status == 1);
  const std::string expected = dir / "g.yaml" + ":7:5: error: node 'loss' (op mse): the loss is infinite at epoch 1, "
                               "step 2 of 2 (optimizer step 2); training stopped and nothing was saved "
                               "(--check-numerics names the first node or data row that gave a NaN or an infinity; "
                               "train.on_nonfinite: continue trains on)\n";
  CHECK(r.output.ends_with(expected));
  CHECK(file_text(dir / "w.st") == "precious");
  // train.on_nonfinite: continue keeps the old behaviour: the run goes on and ends.
  write_file(dir / "g.yaml", regression("", ", shuffle: false, on_nonfinite: continue"));
  CHECK(run_graph_runner("train " + (dir / "g.yaml") + " --save " + (dir / "w2.st")).status == 0);
  write_file(dir / "g.yaml", regression("", ", on_nonfinite: carry_on"));
  const RunResult bad = run_graph_runner("validate " + (dir / "g.yaml"));
  CHECK(bad.status == 1);
  CHECK(bad.output.find(dir / "g.yaml" + ":13:49: error: train.on_nonfinite must be 'stop' or 'continue', got 'carry_on'") !=
        std::string::npos);
}

TEST_CASE("train --check-numerics names the data row when the first infinity came from data", "[e2e][errors][data]") {
  TempDir dir("gradflow-numerics-data");
  // Finite in the file, infinite once `scale` multiplies it: only a run can see it.
  write_file(dir / "g.yaml", regression(", scale: 1.0e+10"));
  write_file(dir / "data.csv", "1,2,3\n4,5,6\n7,8,9\n1e30,1,2\n");
  const RunResult r = run_graph_runner("train " + (dir / "g.yaml") + " --check-numerics --threads 1");
  CHECK(r.status == 1);
  // FILE:LINE:COL is the data source's place in the graph file.
  CHECK(r.output.find(dir / "g.yaml" + ":11:14: error: input 'x' is infinite at value 1 of " + (dir / "data.csv") +
                      ": row 4: the data holds it (after the source's scale and normalize)") != std::string::npos);
}
