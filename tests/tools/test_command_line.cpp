// graph-runner's messages where a user first meets them: a bad command line, a file that is not
// there or not what it should be, a checkpoint or a run that fails at a node of the graph file.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "tools/runner.hpp"

using namespace gradflow::test;

namespace {

const std::string kHelp = "Run with --help for more information.\n";

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// XOR's initial weights, written by `train --epochs 0`.
std::string xor_weights(const TempDir& dir) {
  const std::string weights = dir / "xor.safetensors";
  REQUIRE(run_graph_runner("train " + source_path("graphs/xor.yaml") + " --epochs 0 --save " + weights).status == 0);
  return weights;
}

}  // namespace

TEST_CASE("a count out of range says what was expected, in a few words", "[e2e][command_line]") {
  const std::string xor_graph = source_path("graphs/xor.yaml");
  const RunResult zero = run_graph_runner("train " + xor_graph + " --batch-size 0");
  CHECK(zero.status == 2);
  CHECK(zero.output == "error: --batch-size: expected a whole number of 1 or more, got 0\n" + kHelp);
  const RunResult negative = run_graph_runner("train " + xor_graph + " --epochs -1");
  CHECK(negative.status == 2);
  CHECK(negative.output == "error: --epochs: expected a whole number of 0 or more, got -1\n" + kHelp);
  const RunResult words = run_graph_runner("validate " + xor_graph + " --threads many");
  CHECK(words.status == 2);
  CHECK(words.output == "error: --threads: expected a whole number of 0 or more, got many\n" + kHelp);
}

TEST_CASE("a misspelt command gets the closest one", "[e2e][command_line]") {
  const RunResult r = run_graph_runner("trian " + source_path("graphs/xor.yaml"));
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::StartsWith("error: unknown command 'trian' (did you mean 'train'? commands: train, eval, "
                                         "predict, validate, "));
  CHECK_THAT(r.output, Catch::EndsWith(")\n" + kHelp));
  CHECK_THAT(run_graph_runner("Predict").output, Catch::StartsWith("error: unknown command 'Predict' (did you mean "
                                                                   "'predict'? commands: "));
  CHECK_THAT(run_graph_runner("").output, Catch::StartsWith("error: A subcommand is required (one of: train, eval, "));
}

TEST_CASE("a graph, checkpoint or input file that is not there is bad input: exit 1", "[e2e][command_line]") {
  TempDir dir("command-line-missing");
  const std::string xor_graph = source_path("graphs/xor.yaml");
  const std::string missing = dir / "missing";
  const RunResult graph = run_graph_runner("validate " + missing + ".yaml");
  CHECK(graph.status == 1);
  CHECK(graph.output == "error: " + missing + ".yaml: cannot open the graph file: No such file or directory\n");
  const RunResult weights = run_graph_runner("predict " + xor_graph + " --weights " + missing + ".safetensors");
  CHECK(weights.status == 1);
  CHECK(weights.output == "error: " + missing + ".safetensors: cannot open the checkpoint: No such file or directory\n");
  const RunResult input =
      run_graph_runner("predict " + xor_graph + " --weights " + xor_weights(dir) + " --input " + missing + ".csv");
  CHECK(input.status == 1);
  CHECK(input.output == "error: " + missing + ".csv: cannot open the input file: No such file or directory\n");
  const RunResult folder = run_graph_runner("validate " + dir.path.string());
  CHECK(folder.status == 1);
  CHECK(folder.output == "error: " + dir.path.string() + ": cannot open the graph file: it is a folder\n");
}

TEST_CASE("a truncated checkpoint says so, and a YAML file given as one is not a safetensors file", "[e2e][command_line]") {
  TempDir dir("command-line-checkpoints");
  const std::string xor_graph = source_path("graphs/xor.yaml");
  const std::string whole = read_all(xor_weights(dir));
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = header << 8 | static_cast<unsigned char>(whole[static_cast<size_t>(i)]);
  const std::string cut = dir / "cut.safetensors";
  write_file(cut, whole.substr(0, 100));
  const RunResult truncated = run_graph_runner("predict " + xor_graph + " --weights " + cut);
  CHECK(truncated.status == 1);
  CHECK(truncated.output == "error: " + cut + ": truncated: the header is " + std::to_string(header) +
                                " bytes long, but the file ends 92 bytes after its length field\n");
  const RunResult yaml = run_graph_runner("predict " + xor_graph + " --weights " + xor_graph);
  CHECK(yaml.status == 1);
  CHECK(yaml.output == "error: " + xor_graph +
                           ": not a safetensors file: it does not start with an 8-byte header length and a JSON header\n");
}

TEST_CASE("a checkpoint that does not fit a node is reported at the node's line", "[e2e][command_line]") {
  TempDir dir("command-line-fit");
  const std::string tower = dir / "tower.safetensors";
  REQUIRE(run_graph_runner("train " + source_path("graphs/two_tower.yaml") + " --epochs 0 --save " + tower).status == 0);
  const std::string xor_graph = source_path("graphs/xor.yaml");
  const RunResult r = run_graph_runner("eval " + xor_graph + " --weights " + tower);
  CHECK(r.status == 1);
  CHECK(r.output == xor_graph + ":11:5: error: " + tower + ": missing parameter 'fc1.weight'\n");
}

TEST_CASE("a run that fails at a node names its line, and leaves the old --metrics log as it was", "[e2e][command_line]") {
  TempDir dir("command-line-run");
  std::string yaml = read_all(source_path("graphs/xor_tanh.yaml"));
  yaml.replace(yaml.find("lr: 0.1, momentum: 0.9"), 22, "lr: 1.0e+30");
  const std::string graph = dir / "diverge.yaml";
  write_file(graph, yaml);
  const std::string metrics = dir / "m.jsonl";
  write_file(metrics, "{\"epoch\": 1, \"loss\": 0.5}\n");
  const RunResult r = run_graph_runner("train " + graph + " --check-numerics --batch-size 2 --metrics " + metrics);
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::EndsWith(graph + ":13:5: error: node 'loss' (op mse) failed in the forward pass: Inf at "
                                               "element 0 of its output (shape [])\n"));
  CHECK(read_all(metrics) == "{\"epoch\": 1, \"loss\": 0.5}\n");
  // A run that writes its first line replaces the old log.
  REQUIRE(run_graph_runner("train " + source_path("graphs/xor.yaml") + " --epochs 1 --metrics " + metrics).status == 0);
  CHECK(read_all(metrics).find("\"loss\": 0.5") == std::string::npos);
}
