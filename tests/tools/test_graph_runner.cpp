// graph-runner end to end: the example graphs train to their targets, checkpoints resume
// bit-identically and are readable without gradflow, and bad input gets the right exit code.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gradflow/safetensors.hpp"
#include "runner.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

std::vector<std::vector<double>> predictions(const std::string& graph, const std::string& weights) {
  const RunResult r = run_graph_runner("predict " + source_path(graph) + " --weights " + weights);
  REQUIRE(r.status == 0);
  std::istringstream lines(r.output);
  std::string line;
  std::getline(lines, line);  // header
  std::vector<std::vector<double>> rows;
  while (std::getline(lines, line)) {
    std::vector<double> row;
    std::istringstream fields(line);
    for (std::string f; std::getline(fields, f, ',');) row.push_back(std::stod(f));
    rows.push_back(row);
  }
  return rows;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("xor.yaml and xor_tanh.yaml learn XOR: every prediction within 0.1 of its target", "[e2e]") {
  for (const std::string graph : {"graphs/xor.yaml", "graphs/xor_tanh.yaml"}) {
    INFO(graph);
    TempDir dir("gradflow-xor");
    REQUIRE(run_graph_runner("train " + source_path(graph) + " --save " + (dir / "w.safetensors")).status == 0);
    const auto rows = predictions(graph, dir / "w.safetensors");
    const std::vector<double> targets = {0, 1, 1, 0};
    REQUIRE(rows.size() == 4);
    for (size_t i = 0; i < 4; ++i) CHECK(std::abs(rows[i][0] - targets[i]) < 0.1);
  }
}

TEST_CASE("and_perceptron.yaml reaches 100% on AND", "[e2e]") {
  TempDir dir("gradflow-and");
  const RunResult r = run_graph_runner("train " + source_path("graphs/and_perceptron.yaml") + " --metrics " + (dir / "m.jsonl"));
  REQUIRE(r.status == 0);
  const std::string metrics = read_file(dir / "m.jsonl");
  CHECK(metrics.rfind("\"accuracy\":1.0") != std::string::npos);
  CHECK(r.output.find("epoch 30/30") != std::string::npos);
  CHECK(r.output.find("accuracy 100.00%") != std::string::npos);
}

TEST_CASE("two_tower.yaml classifies its training set", "[e2e]") {
  const RunResult r = run_graph_runner("train " + source_path("graphs/two_tower.yaml") + " --threads 2");
  REQUIRE(r.status == 0);
  CHECK(r.output.find("epoch 300/300") != std::string::npos);
  CHECK(r.output.find("accuracy 100.00%  (") != std::string::npos);
}

TEST_CASE("a resumed run ends bit-identical to an uninterrupted one", "[e2e][checkpoint]") {
  TempDir dir("gradflow-resume");
  const std::string graph = source_path("graphs/two_tower.yaml");
  REQUIRE(run_graph_runner("train " + graph + " --epochs 40 --save " + (dir / "full.st") + " --metrics " + (dir / "full.jsonl")).status == 0);
  REQUIRE(run_graph_runner("train " + graph + " --epochs 15 --save " + (dir / "part.st") + " --metrics " + (dir / "resumed.jsonl")).status == 0);
  {  // As if killed after logging epochs 16 and 17 (their step lines too; mid-write on a third)
     // but before their checkpoint: the resumed run must log them once, not twice.
    std::istringstream full_lines(read_file(dir / "full.jsonl"));
    std::ofstream log(dir / "resumed.jsonl", std::ios::app);
    for (std::string line; std::getline(full_lines, line);) {
      const int64_t epoch = nlohmann::json::parse(line)["epoch"];
      if (epoch == 16 || epoch == 17) log << line << "\n";
    }
    log << "{\"epoch\":18,\"lo";
  }
  const RunResult resumed = run_graph_runner("train " + graph + " --epochs 40 --resume " + (dir / "part.st") + " --save " +
                                             (dir / "resumed.st") + " --metrics " + (dir / "resumed.jsonl"));
  REQUIRE(resumed.status == 0);
  CHECK(resumed.output.find("resumed from") != std::string::npos);
  const TensorFile full = read_safetensors(dir / "full.st");
  const TensorFile again = read_safetensors(dir / "resumed.st");
  REQUIRE(full.tensors.size() == again.tensors.size());
  CHECK(full.tensors.size() > 8);  // parameters and Adam's moments
  for (const auto& [name, tensor] : full.tensors) {
    INFO(name);
    REQUIRE(again.tensors.count(name));
    const Tensor& other = again.tensors.at(name);
    REQUIRE(other.shape() == tensor.shape());
    CHECK(std::equal(tensor.data(), tensor.data() + tensor.size(), other.data()));
  }
  CHECK(full.metadata.at("gradflow.step") == again.metadata.at("gradflow.step"));
  // The metrics of every epoch and step line match too (elapsed time and speed aside): the resumed
  // run's first step line covers the same 10 steps, since 15 epochs of 2 steps end a window.
  auto losses = [](const std::string& jsonl) {
    std::vector<std::string> out;
    std::istringstream lines(jsonl);
    for (std::string line; std::getline(lines, line);) out.push_back(line.substr(line.find("\"loss\""), 30));
    return out;
  };
  CHECK(losses(read_file(dir / "full.jsonl")) == losses(read_file(dir / "resumed.jsonl")));
}

TEST_CASE("train --save writes the first checkpoint as soon as the first epoch ends", "[e2e][checkpoint]") {
  // Killed after 4 s, long before its 10^8 epochs end: the checkpoint of the first epoch is
  // there, whole, and loads. The old rule (at most one per 5 s, counted from the start of
  // training) wrote its first checkpoint after 5 s at the earliest, so it left nothing.
  TempDir dir;
  const std::string ckpt = dir / "run.safetensors";
  const std::string command = "timeout -s KILL 4 " + std::string(GRADFLOW_BINARY_DIR) + "/tools/graph-runner train " +
                              source_path("graphs/xor.yaml") + " --epochs 100000000 --save " + ckpt + " >/dev/null 2>&1";
  CHECK(std::system(command.c_str()) != 0);  // killed
  REQUIRE(std::filesystem::exists(ckpt));
  CHECK(run_graph_runner("eval " + source_path("graphs/xor.yaml") + " --weights " + ckpt).status == 0);
}

TEST_CASE("a checkpoint reads with an independent reader in PyTorch's nn.Linear layout", "[e2e][checkpoint]") {
  if (std::system("python3 -c 'import json, struct' > /dev/null 2>&1") != 0) {
    WARN("python3 is missing: skipped");
    return;
  }
  TempDir dir("gradflow-reader");
  REQUIRE(run_graph_runner("train " + source_path("graphs/xor.yaml") + " --epochs 0 --save " + (dir / "w.st")).status == 0);
  const std::string script = source_path("tests/framework/read_safetensors.py");
  FILE* pipe = popen(("python3 " + script + " " + (dir / "w.st")).c_str(), "r");
  REQUIRE(pipe);
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  REQUIRE(pclose(pipe) == 0);
  CHECK(out.find("fc1.weight F32 [4,2]") != std::string::npos);
  CHECK(out.find("fc1.bias F32 [4]") != std::string::npos);
  CHECK(out.find("fc2.weight F32 [1,4]") != std::string::npos);
  CHECK(out.find("fc2.bias F32 [1]") != std::string::npos);
  CHECK(out.find("\"gradflow.epoch\": \"0\"") != std::string::npos);
}

TEST_CASE("exit status: 1 for a bad graph with FILE:LINE:COLUMN, 2 for a bad command line", "[e2e][errors]") {
  TempDir dir("gradflow-errors");
  {
    std::ofstream bad(dir / "bad.yaml");
    bad << "inputs:\n  x: {shape: [2]}\nnodes:\n  - {name: a, op: lineer, inputs: [x]}\n";
  }
  const RunResult r = run_graph_runner("validate " + (dir / "bad.yaml"));
  CHECK(r.status == 1);
  CHECK(r.output.find(dir / "bad.yaml" + ":4:19: error: node 'a': unknown op 'lineer' (did you mean 'linear'?") !=
        std::string::npos);
  CHECK(run_graph_runner("train").status == 2);
  CHECK(run_graph_runner("train " + source_path("graphs/xor.yaml") + " --epochs minus-one").status == 2);
  CHECK(run_graph_runner("frobnicate").status == 2);
}

TEST_CASE("validate prints shapes and parameter counts; dot draws the graph; gradcheck passes", "[e2e]") {
  const RunResult v = run_graph_runner("validate " + source_path("graphs/two_tower.yaml"));
  REQUIRE(v.status == 0);
  CHECK(v.output.find("joined           concat           left, right                  [32]") != std::string::npos);
  CHECK(v.output.find("valid") != std::string::npos);
  const RunResult d = run_graph_runner("dot " + source_path("graphs/two_tower.yaml"));
  REQUIRE(d.status == 0);
  CHECK(d.output.find("\"shared\" -> \"left_fc\";") != std::string::npos);
  const RunResult g = run_graph_runner("gradcheck " + source_path("graphs/xor.yaml"));
  CHECK(g.status == 0);
  CHECK(g.output.find("0 mismatched") != std::string::npos);
}

TEST_CASE("a failed run writes nothing over the user's checkpoint", "[e2e][errors]") {
  TempDir dir("gradflow-keep");
  {
    std::ofstream keep(dir / "keep.st");
    keep << "precious";
  }
  const RunResult r = run_graph_runner("train " + source_path("graphs/xor.yaml") + " --resume " + (dir / "keep.st") +
                                       " --save " + (dir / "keep.st"));
  CHECK(r.status == 1);
  CHECK(read_file(dir / "keep.st") == "precious");
}

TEST_CASE("train with check-numerics stops at the first Inf, names the node and pass, keeps the checkpoint", "[e2e][errors]") {
  TempDir dir("gradflow-numerics");
  {
    std::ifstream in(source_path("graphs/xor_tanh.yaml"));
    std::stringstream text;
    text << in.rdbuf();
    std::string yaml = text.str();
    yaml.replace(yaml.find("lr: 0.1, momentum: 0.9"), 22, "lr: 1.0e+30");
    std::ofstream(dir / "diverge.yaml") << yaml;
  }
  REQUIRE(run_graph_runner("train " + (dir / "diverge.yaml") + " --epochs 0 --save " + (dir / "w.st")).status == 0);
  const std::string before = read_file(dir / "w.st");
  const RunResult r = run_graph_runner("train " + (dir / "diverge.yaml") + " --check-numerics --batch-size 2 --save " + (dir / "w.st"));
  CHECK(r.status == 1);
  CHECK(r.output.find("error: node 'loss' (op mse) failed in the forward pass: Inf at element 0 of its output (shape [])") !=
        std::string::npos);
  CHECK(read_file(dir / "w.st") == before);
  // Without the check the run stops at the loss that overflowed (train.on_nonfinite: stop)...
  const RunResult stopped = run_graph_runner("train " + (dir / "diverge.yaml") + " --epochs 2 --batch-size 2");
  CHECK(stopped.status == 1);
  CHECK(stopped.output.find("error: node 'loss' (op mse): the loss is ") != std::string::npos);
  // ... or, with train.on_nonfinite: continue, goes on as PyTorch's would.
  std::string yaml = read_file(dir / "diverge.yaml");
  yaml.replace(yaml.find("\ntrain:\n"), 8, "\ntrain:\n  on_nonfinite: continue\n");
  std::ofstream(dir / "diverge.yaml") << yaml;
  CHECK(run_graph_runner("train " + (dir / "diverge.yaml") + " --epochs 2 --batch-size 2").status == 0);
}

TEST_CASE("train --plot draws loss and accuracy curves; plot redraws them from --metrics", "[e2e]") {
  TempDir dir("gradflow-plot");
  const RunResult r = run_graph_runner("train " + source_path("graphs/and_perceptron.yaml") + " --metrics " +
                                       (dir / "m.jsonl") + " --plot " + (dir / "curves.svg"));
  REQUIRE(r.status == 0);
  const std::string svg = read_file(dir / "curves.svg");
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("and_perceptron: loss") != std::string::npos);
  CHECK(svg.find("and_perceptron: accuracy (%)") != std::string::npos);
  CHECK(svg.find("<path d=\"M") != std::string::npos);
  const RunResult p = run_graph_runner("plot " + (dir / "m.jsonl") + " -o " + (dir / "again.svg") + " --title and_perceptron");
  REQUIRE(p.status == 0);
  CHECK(read_file(dir / "again.svg") == svg);
  std::ofstream(dir / "bad.jsonl") << "{\"epoch\": 1, \"loss\": 0.5}\nnot json\n";
  const RunResult bad = run_graph_runner("plot " + (dir / "bad.jsonl") + " -o " + (dir / "bad.svg"));
  CHECK(bad.status == 1);
  CHECK(bad.output == "error: " + (dir / "bad.jsonl") + ":2: not JSON: a --metrics file holds one JSON object per line\n");
  CHECK_FALSE(std::filesystem::exists(dir / "bad.svg"));
  std::ofstream(dir / "keys.jsonl") << "{\"epoch\": 1, \"loss\": 0.5}\n{\"epoch\": 2, \"loss\": \"low\"}\n";
  CHECK(run_graph_runner("plot " + (dir / "keys.jsonl") + " -o " + (dir / "bad.svg")).output ==
        "error: " + (dir / "keys.jsonl") + ":2: 'loss' must be a number, got \"low\"\n");
}

TEST_CASE("plot draws a run still being written, and one that holds only step lines", "[e2e][metrics]") {
  TempDir dir("gradflow-plot-steps");
  // and_perceptron: 30 epochs of 4 steps; a step line every 10 steps by default.
  REQUIRE(run_graph_runner("train " + source_path("graphs/and_perceptron.yaml") + " --metrics " + (dir / "m.jsonl"))
              .status == 0);
  const std::string metrics = read_file(dir / "m.jsonl");
  std::istringstream lines(metrics);
  int epochs = 0, steps = 0;
  std::string steps_only;
  for (std::string line; std::getline(lines, line);) {
    const auto json = nlohmann::json::parse(line);
    if (json.contains("samples_per_s")) {
      ++steps;
      steps_only += line + "\n";
      CHECK(json["step"].get<int64_t>() == 10 * steps);
      CHECK(json["epoch"].get<int64_t>() == (10 * steps + 3) / 4);
      for (const char* key : {"loss", "lr", "samples_per_s", "elapsed_s"}) CHECK(json[key].is_number());
    } else {
      ++epochs;
    }
  }
  CHECK(epochs == 30);
  CHECK(steps == 12);
  // Unfinished: the first 12 lines and half of the 13th, as a run killed mid-write leaves it.
  size_t cut = 0;
  for (int i = 0; i < 12; ++i) cut = metrics.find('\n', cut) + 1;
  std::ofstream(dir / "unfinished.jsonl") << metrics.substr(0, cut + 10);
  const RunResult unfinished = run_graph_runner("plot " + (dir / "unfinished.jsonl") + " -o " + (dir / "u.svg"));
  CHECK(unfinished.status == 0);
  CHECK(unfinished.output.find("note: " + (dir / "unfinished.jsonl") +
                               ": its last line is cut short (still being written?): left out\n") != std::string::npos);
  const std::string partial = read_file(dir / "u.svg");
  CHECK(partial.find("training: loss per step") != std::string::npos);
  CHECK(partial.find("training: loss</text>") != std::string::npos);
  // Only step lines: the per-step panel and the learning rate by step.
  std::ofstream(dir / "steps.jsonl") << steps_only;
  const RunResult only = run_graph_runner("plot " + (dir / "steps.jsonl") + " -o " + (dir / "s.svg"));
  REQUIRE(only.status == 0);
  const std::string svg = read_file(dir / "s.svg");
  CHECK(svg.find("training: loss per step") != std::string::npos);
  CHECK(svg.find("training: learning rate") != std::string::npos);
  CHECK(svg.find("training: loss</text>") == std::string::npos);
  CHECK(svg.find(">step</text>") != std::string::npos);
  // Nothing whole yet: said so, nothing written.
  std::ofstream(dir / "empty.jsonl") << "{\"epoch\": 1, \"lo";
  const RunResult empty = run_graph_runner("plot " + (dir / "empty.jsonl") + " -o " + (dir / "e.svg"));
  CHECK(empty.status == 1);
  CHECK(empty.output.find("error: " + (dir / "empty.jsonl") + " holds no epochs or steps yet\n") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "e.svg"));
}

TEST_CASE("dot --svg renders the graph with Graphviz, or says Graphviz is missing", "[e2e]") {
  TempDir dir("gradflow-dot");
  const RunResult r = run_graph_runner("dot " + source_path("graphs/two_tower.yaml") + " --svg " + (dir / "g.svg"));
  if (std::system("command -v dot > /dev/null 2>&1") != 0) {
    CHECK(r.status == 1);
    CHECK(r.output.find("--svg needs Graphviz's dot program (apt-get install graphviz)") != std::string::npos);
    return;
  }
  REQUIRE(r.status == 0);
  const std::string svg = read_file(dir / "g.svg");
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK(svg.find("left_fc") != std::string::npos);
}

namespace {
// The real-data graphs read Debian's packaged data (scripts/setup.sh --data).
bool have_file(const std::string& path) { return std::filesystem::exists(path); }

double final_test_accuracy(const std::string& metrics) {
  const std::string key = "\"test_accuracy\":";
  const auto at = metrics.rfind(key);
  REQUIRE(at != std::string::npos);
  return std::stod(metrics.substr(at + key.size()));
}
}  // namespace

TEST_CASE("digits_mlp.yaml reaches 95% test accuracy on sklearn's digits", "[e2e][data]") {
  if (!have_file("/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz")) {
    WARN("python3-sklearn is not installed (scripts/setup.sh --data): skipped");
    return;
  }
  TempDir dir("gradflow-digits");
  REQUIRE(run_graph_runner("train " + source_path("graphs/digits_mlp.yaml") + " --metrics " + (dir / "m.jsonl")).status == 0);
  CHECK(final_test_accuracy(read_file(dir / "m.jsonl")) >= 0.95);
}

TEST_CASE("fashion_mnist_mlp.yaml reaches 88% test accuracy in 10 epochs", "[e2e][data]") {
  if (!have_file("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    WARN("dataset-fashion-mnist is not installed (scripts/setup.sh --data): skipped");
    return;
  }
  if (std::getenv("GRADFLOW_SKIP_SLOW")) {  // set by the sanitizer runs, where 10 epochs take too long
    WARN("GRADFLOW_SKIP_SLOW is set: skipped");
    return;
  }
  TempDir dir("gradflow-fashion");
  REQUIRE(run_graph_runner("train " + source_path("graphs/fashion_mnist_mlp.yaml") + " --metrics " + (dir / "m.jsonl")).status == 0);
  CHECK(final_test_accuracy(read_file(dir / "m.jsonl")) >= 0.88);
}

namespace {

std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    rows.emplace_back();
    std::istringstream fields(line);
    for (std::string f; std::getline(fields, f, ',');) rows.back().push_back(f);
  }
  return rows;
}

// digits_mlp.yaml trained once for the classification tests (0.1 s).
const std::string& digits_weights() {
  static TempDir dir("gradflow-digits");
  static const std::string weights = dir / "digits.safetensors";
  static const int status = run_graph_runner("train " + source_path("graphs/digits_mlp.yaml") + " --save " + weights).status;
  REQUIRE(status == 0);
  return weights;
}

}  // namespace

TEST_CASE("predict --classes --probabilities on digits_mlp.yaml: labels in the header and rows that sum to 1",
          "[e2e][classes]") {
  const std::string predict = "predict " + source_path("graphs/digits_mlp.yaml") + " --weights " + digits_weights();
  const RunResult both = run_graph_runner(predict + " --classes --probabilities");
  REQUIRE(both.status == 0);
  const auto rows = csv_rows(both.output);
  REQUIRE(rows.size() == 540);  // the header and the 539 test samples
  CHECK(rows[0] == std::vector<std::string>{"class", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  for (size_t r = 1; r < rows.size(); ++r) {
    REQUIRE(rows[r].size() == 11);
    double sum = 0.0, best = -1.0;
    std::string argmax;
    for (size_t k = 1; k < 11; ++k) {
      const double p = std::stod(rows[r][k]);
      sum += p;
      if (p > best) {
        best = p;
        argmax = rows[0][k];
      }
    }
    CHECK(sum == Approx(1.0).margin(1e-5));
    CHECK(rows[r][0] == argmax);
  }
  const RunResult classes = run_graph_runner(predict + " --classes");
  REQUIRE(classes.status == 0);
  const auto class_rows = csv_rows(classes.output);
  REQUIRE(class_rows.size() == 540);
  CHECK(class_rows[0] == std::vector<std::string>{"class"});
  for (size_t r = 1; r < rows.size(); ++r) CHECK(class_rows[r] == std::vector<std::string>{rows[r][0]});
}

TEST_CASE("eval --json on digits_mlp.yaml: the confusion matrix sums to the samples and its diagonal is the accuracy",
          "[e2e][classes]") {
  const RunResult r =
      run_graph_runner("eval " + source_path("graphs/digits_mlp.yaml") + " --weights " + digits_weights() + " --json");
  REQUIRE(r.status == 0);
  const nlohmann::json e = nlohmann::json::parse(r.output);
  CHECK(e["set"] == "test");
  CHECK(e["samples"] == 539);
  CHECK(e["classes"] == 10);
  CHECK(e["labels"][3] == "3");
  int64_t total = 0, diagonal = 0, support = 0;
  for (size_t t = 0; t < 10; ++t)
    for (size_t p = 0; p < 10; ++p) {
      total += e["confusion"][t][p].get<int64_t>();
      if (t == p) diagonal += e["confusion"][t][p].get<int64_t>();
    }
  for (const auto& s : e["support"]) support += s.get<int64_t>();
  CHECK(total == 539);
  CHECK(support == 539);
  CHECK(static_cast<double>(diagonal) / 539.0 == Approx(e["accuracy"].get<double>()));
  CHECK(e["precision"].size() == 10);
  CHECK(e["recall"].size() == 10);

  const RunResult text = run_graph_runner("eval " + source_path("graphs/digits_mlp.yaml") + " --weights " + digits_weights());
  REQUIRE(text.status == 0);
  CHECK(text.output.find("confusion matrix (rows: true class, columns: predicted class):\n    0   1") != std::string::npos);
  CHECK(text.output.find("\nclass  precision   recall  support\n0 ") != std::string::npos);
}

TEST_CASE("predict --probabilities of a binary classifier with --input: probabilities by index without labels", "[e2e][classes]") {
  TempDir dir("gradflow-binary");
  std::ofstream(dir / "g.yaml") << R"(inputs:
  x: {shape: [1]}
  y: {shape: [1]}
nodes:
  - {name: fc, op: linear, inputs: [x], units: 1}
  - {name: loss, op: bce_with_logits, inputs: [fc, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 1.0}
data:
  train: {x: [[-2], [-1], [1], [2]], y: [[0], [0], [1], [1]]}
train: {epochs: 200}
)";
  std::ofstream(dir / "in.csv") << "-3\n3\n";
  REQUIRE(run_graph_runner("train " + (dir / "g.yaml") + " --save " + (dir / "w.st")).status == 0);
  const RunResult r = run_graph_runner("predict " + (dir / "g.yaml") + " --weights " + (dir / "w.st") +
                                       " --input " + (dir / "in.csv") + " --classes --probabilities");
  REQUIRE(r.status == 0);
  const auto rows = csv_rows(r.output);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == std::vector<std::string>{"class", "p[0]", "p[1]"});
  CHECK(rows[1][0] == "0");
  CHECK(rows[2][0] == "1");
  CHECK(std::stod(rows[1][1]) + std::stod(rows[1][2]) == Approx(1.0).margin(1e-5));
  CHECK(std::stod(rows[2][2]) > 0.9);
}

TEST_CASE("predict --classes without a classifying loss is an error; eval of a regression graph keeps one line",
          "[e2e][classes]") {
  TempDir dir("gradflow-regression");
  const std::string graph = source_path("graphs/xor.yaml");
  REQUIRE(run_graph_runner("train " + graph + " --save " + (dir / "w.st")).status == 0);
  const RunResult r = run_graph_runner("predict " + graph + " --weights " + (dir / "w.st") + " --classes");
  CHECK(r.status == 1);
  CHECK(r.output == graph + ": error: predict --classes: no loss of the graph classifies its prediction (losses that do: "
                            "bce, bce_with_logits, cross_entropy)\n");
  const RunResult e = run_graph_runner("eval " + graph + " --weights " + (dir / "w.st"));
  REQUIRE(e.status == 0);
  CHECK_THAT(e.output, Catch::Matches("training set: 4 samples  loss [0-9.]+\n"));
}
