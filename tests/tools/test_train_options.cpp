// graph-runner train's step control and fine-tuning options, as a user runs them: --max-steps
// stops inside an epoch and --resume continues there; --weights --partial loads what matches
// and lists the rest; a path the run could not write is refused before anything trains.
// (SIGINT and SIGTERM: interrupt_resume.sh.)
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runner.hpp"

using namespace gradflow::test;

namespace {

// XOR with `hidden` units in fc1, the output layer named `head`; 4 steps an epoch.
std::string xor_graph(int hidden, const std::string& head) {
  return "graph: xor\nseed: 7\ninputs:\n  x: {shape: [2]}\n  y: {shape: [1]}\nnodes:\n"
         "  - {name: fc1, op: linear, inputs: [x], units: " + std::to_string(hidden) + "}\n"
         "  - {name: h1, op: sigmoid, inputs: [fc1]}\n"
         "  - {name: " + head + ", op: linear, inputs: [h1], units: 1}\n"
         "  - {name: out, op: sigmoid, inputs: [" + head + "]}\n"
         "  - {name: loss, op: mse, inputs: [out, y]}\n"
         "  - {name: opt, op: adam, inputs: [loss], lr: 0.1}\n"
         "data:\n  train:\n    x: [[0, 0], [0, 1], [1, 0], [1, 1]]\n    y: [[0], [1], [1], [0]]\n"
         "train: {epochs: 3, batch_size: 1}\n";
}

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir / name;
  std::ofstream(path) << text;
  return path;
}

// Each --metrics line's epoch, step and loss, bit for bit.
std::vector<std::string> metrics_losses(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    const auto json = nlohmann::json::parse(line);
    lines.push_back(json["epoch"].dump() + " " + json["step"].dump() + " " + json["loss"].dump());
  }
  return lines;
}

// What `train GRAPH --weights CHECKPOINT --partial` prints; it must succeed.
std::string partial_load(const std::string& graph, const std::string& checkpoint) {
  const RunResult run = run_graph_runner("train " + graph + " --weights " + checkpoint + " --partial");
  INFO(run.output);
  CHECK(run.status == 0);
  return run.output;
}

bool has(const std::string& output, const std::string& line) { return output.find(line) != std::string::npos; }

}  // namespace

TEST_CASE("train --max-steps stops inside an epoch and saves; --resume continues after that batch",
          "[e2e][checkpoint]") {
  TempDir dir;
  const std::string graph = write(dir, "g.yaml", xor_graph(4, "fc2"));
  const RunResult cut = run_graph_runner("train " + graph + " --max-steps 6 --save " + (dir / "part.st"));
  INFO(cut.output);
  CHECK(cut.status == 0);
  CHECK(has(cut.output, "\nstopped after step 6 (in epoch 2/3, batch 2 of 4): --max-steps\nsaved " + (dir / "part.st")));
  const RunResult rest = run_graph_runner("train " + graph + " --resume " + (dir / "part.st"));
  INFO(rest.output);
  CHECK(rest.status == 0);
  CHECK(has(rest.output, "resumed from " + (dir / "part.st") + " at epoch 1, step 6\n"));
  CHECK(has(rest.output, "\ncontinuing epoch 2 after its batch 2\n"));
  CHECK(has(rest.output, "\nepoch 3/3  loss "));
  CHECK(run_graph_runner("train " + graph + " --max-steps 0").status == 2);
  // --metrics across the stop: the epoch cut at batch 2 reports the loss of all its batches.
  REQUIRE(run_graph_runner("train " + graph + " --metrics " + (dir / "whole.jsonl")).status == 0);
  REQUIRE(run_graph_runner("train " + graph + " --max-steps 6 --save " + (dir / "p.st") + " --metrics " +
                           (dir / "p.jsonl")).status == 0);
  REQUIRE(run_graph_runner("train " + graph + " --resume " + (dir / "p.st") + " --metrics " + (dir / "p.jsonl")).status ==
          0);
  const auto whole = metrics_losses(dir / "whole.jsonl");
  CHECK(whole.size() == 3);
  CHECK(metrics_losses(dir / "p.jsonl") == whole);
}

TEST_CASE("train --weights --partial loads what matches and names every tensor it left or did not use",
          "[e2e][checkpoint]") {
  TempDir dir;
  const std::string source = write(dir, "source.yaml", xor_graph(4, "fc2"));
  REQUIRE(run_graph_runner("train " + source + " --save " + (dir / "a.st")).status == 0);
  const std::string renamed = write(dir, "renamed.yaml", xor_graph(4, "head"));
  const RunResult strict = run_graph_runner("train " + renamed + " --weights " + (dir / "a.st"));
  CHECK(strict.status == 1);
  CHECK(has(strict.output, "error: " + (dir / "a.st") + ": missing parameter 'head.weight'"));
  CHECK(has(partial_load(renamed, dir / "a.st"), "--partial: kept the initial head.weight [1, 4]: not in the checkpoint\n"
                            "--partial: kept the initial head.bias [1]: not in the checkpoint\n"
                            "--partial: did not use the checkpoint's fc2.bias [1]\n"
                            "--partial: did not use the checkpoint's fc2.weight [1, 4]\n"
                            "--partial: did not use the checkpoint's optimizer state opt.fc1.bias.exp_avg [4] (a fresh optimizer starts)\n"
                            "--partial: did not use the checkpoint's optimizer state opt.fc1.bias.exp_avg_sq [4] (a fresh optimizer starts)\n"
                            "--partial: did not use the checkpoint's optimizer state opt.fc1.weight.exp_avg [4, 2] (a fresh optimizer starts)\n"
                            "--partial: did not use the checkpoint's optimizer state opt.fc1.weight.exp_avg_sq [4, 2] (a fresh optimizer starts)\n"
                            "--partial: did not use the checkpoint's optimizer state opt.fc2.bias.exp_avg [1] (a fresh optimizer starts)\n"
                            "--partial: did not use the checkpoint's optimizer state opt.fc2.bias.exp_avg_sq [1] (a fresh optimizer starts)\n"
                            "--partial: did not use the checkpoint's optimizer state opt.fc2.weight.exp_avg [1, 4] (a fresh optimizer starts)\n"
                            "--partial: did not use the checkpoint's optimizer state opt.fc2.weight.exp_avg_sq [1, 4] (a fresh optimizer starts)\n"
                            "--partial: loaded 2 of 4 parameters and buffers\n"
                            "starting from the weights of " + (dir / "a.st") + "\n"));
  const std::string wider = write(dir, "wider.yaml", xor_graph(3, "fc2"));
  CHECK(has(partial_load(wider, dir / "a.st"), "--partial: kept the initial fc1.weight [3, 2]: the checkpoint's is [4, 2]\n"
                           "--partial: kept the initial fc1.bias [3]: the checkpoint's is [4]\n"
                           "--partial: kept the initial fc2.weight [1, 3]: the checkpoint's is [1, 4]\n"
                           "--partial: did not use the checkpoint's optimizer state opt.fc1.bias.exp_avg [4] (a fresh optimizer starts)\n"
                           "--partial: did not use the checkpoint's optimizer state opt.fc1.bias.exp_avg_sq [4] (a fresh optimizer starts)\n"
                           "--partial: did not use the checkpoint's optimizer state opt.fc1.weight.exp_avg [4, 2] (a fresh optimizer starts)\n"
                           "--partial: did not use the checkpoint's optimizer state opt.fc1.weight.exp_avg_sq [4, 2] (a fresh optimizer starts)\n"
                           "--partial: did not use the checkpoint's optimizer state opt.fc2.bias.exp_avg [1] (a fresh optimizer starts)\n"
                           "--partial: did not use the checkpoint's optimizer state opt.fc2.bias.exp_avg_sq [1] (a fresh optimizer starts)\n"
                           "--partial: did not use the checkpoint's optimizer state opt.fc2.weight.exp_avg [1, 4] (a fresh optimizer starts)\n"
                           "--partial: did not use the checkpoint's optimizer state opt.fc2.weight.exp_avg_sq [1, 4] (a fresh optimizer starts)\n"
                           "--partial: loaded 1 of 4 parameters and buffers\n"));
  CHECK(run_graph_runner("train " + renamed + " --partial").status == 2);  // --partial needs --weights
}

TEST_CASE("an unwritable --save, --metrics or --plot is refused before the graph loads, exit 1", "[e2e][errors]") {
  TempDir dir;
  const std::string graph = write(dir, "g.yaml", xor_graph(4, "fc2"));
  const std::string missing = dir / "no-such-dir";
  const struct {
    std::string option, what;
  } cases[] = {{"--save", "the checkpoint"}, {"--metrics", "the metrics file"}, {"--plot", "the plot"}};
  for (const auto& c : cases) {
    const RunResult run = run_graph_runner("train " + graph + " " + c.option + " " + missing + "/out");
    INFO(run.output);
    CHECK(run.status == 1);
    CHECK(run.output == "error: cannot write " + c.what + " " + missing + "/out: the directory " + missing +
                            " does not exist\n");
  }
  const RunResult directory = run_graph_runner("train " + graph + " --save " + std::string(dir / ""));
  CHECK(directory.status == 1);
  CHECK(directory.output == "error: cannot write the checkpoint " + std::string(dir / "") + ": it is a directory\n");
}
