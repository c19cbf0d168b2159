// graph-runner generate: a byte-level graph (embedding -> linear, a position-wise and so causal
// model) with untrained weights, whose next-byte distribution is far from degenerate.
#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "runner.hpp"

using namespace gradflow::test;

namespace {

constexpr int kT = 8;

std::string byte_graph(const std::string& extra = "") {
  return R"(graph: bytes
seed: 3
inputs:
  x: {shape: [8]}
  y: {shape: [8]}
nodes:
  - {name: emb, op: embedding, inputs: [x], num_embeddings: 256, embedding_dim: 16}
  - {name: logits, op: linear, inputs: [emb], units: 256}
  - {name: loss, op: cross_entropy, inputs: [logits, y]}
  - {name: opt, op: adam, inputs: [loss]}
data:
  train:
    x: {text: corpus.txt, length: 8}
    y: {text: corpus.txt, length: 8, offset: 1}
)" + extra;
}

// A folder with the graph `yaml` as g.yaml, its corpus, and its initial weights as w.st.
struct Fixture {
  TempDir dir{"gradflow-generate"};
  std::string graph = dir / "g.yaml";
  std::string weights = dir / "w.st";

  explicit Fixture(const std::string& yaml = byte_graph()) {
    write_file(dir / "corpus.txt", "the quick brown fox jumps over the lazy dog, again and again.\n");
    write_file(graph, yaml);
    const RunResult r = run_graph_runner("train " + graph + " --epochs 0 --save " + weights);
    INFO(r.output);
    REQUIRE(r.status == 0);
  }

  RunResult generate(const std::string& options) const {
    return run_graph_runner("generate " + graph + " --weights " + weights + " " + options);
  }
};

// The argmax of the logits that predict prints for the window `ids` at `position`.
int predicted_argmax(const Fixture& f, const std::vector<int>& ids, int position) {
  std::string row;
  for (int i = 0; i < kT; ++i) row += (i ? "," : "") + std::to_string(i < static_cast<int>(ids.size()) ? ids[i] : 0);
  write_file(f.dir / "window.csv", row + "\n");
  const RunResult r = run_graph_runner("predict " + f.graph + " --weights " + f.weights + " --input " + (f.dir / "window.csv"));
  REQUIRE(r.status == 0);
  std::istringstream lines(r.output);
  std::string line;
  std::getline(lines, line);  // header
  std::getline(lines, line);
  std::vector<double> logits;
  std::istringstream fields(line);
  for (std::string v; std::getline(fields, v, ',');) logits.push_back(std::stod(v));
  REQUIRE(logits.size() == kT * 256);
  const auto begin = logits.begin() + position * 256;
  return static_cast<int>(std::max_element(begin, begin + 256) - begin);
}

}  // namespace

TEST_CASE("generate: the same seed gives the same text, another seed other text", "[generate]") {
  const Fixture f;
  const RunResult a = f.generate("--prompt 'the ' --length 40 --seed 1");
  const RunResult b = f.generate("--prompt 'the ' --length 40 --seed 1");
  const RunResult c = f.generate("--prompt 'the ' --length 40 --seed 2");
  REQUIRE(a.status == 0);
  CHECK(a.output.size() == 4 + 40);
  CHECK(a.output.substr(0, 4) == "the ");  // the prompt is echoed first
  CHECK(a.output == b.output);
  CHECK(a.output != c.output);
  // The default temperature (1) samples: 40 draws from a near-flat distribution over 256 bytes
  // are not all the same byte.
  const std::string drawn = a.output.substr(4);
  CHECK(std::count(drawn.begin(), drawn.end(), drawn[0]) < 40);
  CHECK(f.generate("--prompt 'the ' --length 40").output == f.generate("--prompt 'the ' --length 40 --seed 0").output);
}

TEST_CASE("generate --temperature 0 takes predict's argmax at the last real position", "[generate]") {
  const Fixture f;
  // A prompt shorter than T: the window is padded with zeros, the byte read at position 1.
  const RunResult short_prompt = f.generate("--prompt ab --length 1 --temperature 0");
  REQUIRE(short_prompt.status == 0);
  REQUIRE(short_prompt.output.size() == 3);
  CHECK(static_cast<unsigned char>(short_prompt.output[2]) == predicted_argmax(f, {'a', 'b'}, 1));
  // A prompt longer than T: the last T bytes, read at position T - 1.
  const std::string prompt = "0123456789abcdefghij";
  const RunResult long_prompt = f.generate("--prompt " + prompt + " --length 1 --temperature 0");
  REQUIRE(long_prompt.output.size() == prompt.size() + 1);
  std::vector<int> last(prompt.end() - kT, prompt.end());
  CHECK(static_cast<unsigned char>(long_prompt.output.back()) == predicted_argmax(f, last, kT - 1));
  // Greedy decoding ignores the seed.
  CHECK(f.generate("--prompt ab --length 20 --temperature 0 --seed 5").output ==
        f.generate("--prompt ab --length 20 --temperature 0 --seed 9").output);
}

TEST_CASE("generate with an empty prompt starts after a line break and prints only what it draws", "[generate]") {
  const Fixture f;
  const RunResult r = f.generate("--length 1 --temperature 0");
  REQUIRE(r.status == 0);
  REQUIRE(r.output.size() == 1);
  CHECK(static_cast<unsigned char>(r.output[0]) == predicted_argmax(f, {'\n'}, 0));
  CHECK(f.generate("--length 0 --prompt xyz").output == "xyz");
}

TEST_CASE("generate refuses bad options and graphs that are not byte-level sequence models", "[generate]") {
  const Fixture f;
  CHECK(f.generate("--temperature -1").status == 2);
  CHECK(f.generate("--length -3").status == 2);
  CHECK(f.generate("--length many").status == 2);

  // Weights of another graph (embedding_dim 8, not 16).
  Fixture other([] {
    std::string yaml = byte_graph();
    yaml.replace(yaml.find("embedding_dim: 16"), 17, "embedding_dim: 8");
    return yaml;
  }());
  const RunResult mismatch = run_graph_runner("generate " + f.graph + " --weights " + other.weights);
  CHECK(mismatch.status == 1);
  CHECK_THAT(mismatch.output, Catch::Contains("emb.weight"));

  // Not [T] -> [T, C]: an image-like input, and logits of one position.
  Fixture matrix_input(R"(graph: m
inputs:
  x: {shape: [2, 3]}
  y: {shape: [2, 4]}
nodes:
  - {name: fc, op: linear, inputs: [x], units: 4}
  - {name: loss, op: mse, inputs: [fc, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
data:
  train:
    x: [[[1, 2, 3], [4, 5, 6]]]
    y: [[[1, 2, 3, 4], [5, 6, 7, 8]]]
)");
  const RunResult bad_input = matrix_input.generate("");
  CHECK(bad_input.status == 1);
  CHECK(bad_input.output == matrix_input.graph +
                                ": error: generate needs an input of ids [T]; input 'x' has shape [2, 3]\n");
  Fixture one_position(R"(graph: v
inputs:
  x: {shape: [3]}
  y: {shape: [1]}
nodes:
  - {name: fc, op: linear, inputs: [x], units: 1}
  - {name: loss, op: mse, inputs: [fc, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
data:
  train:
    x: [[1, 2, 3]]
    y: [[1]]
)");
  const RunResult bad_output = one_position.generate("");
  CHECK(bad_output.status == 1);
  CHECK(bad_output.output == one_position.graph +
                                 ": error: generate needs logits [T, C] with T = 3 (input 'x'); output 'fc' has shape [1]\n");
}
