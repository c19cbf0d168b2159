// Each bad graph gets its own exact message, pinned to FILE:LINE:COLUMN.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "framework/graph_fixtures.hpp"
#include "support/temp_dir.hpp"

using gradflow::test::errors_of;
using gradflow::test::kXor;
using gradflow::test::replace;
using Lines = std::vector<std::string>;

TEST_CASE("a valid graph has no errors", "[errors]") { CHECK(errors_of(kXor).empty()); }

TEST_CASE("malformed YAML", "[errors]") {
  CHECK(errors_of(replace(kXor, "units: 4}", "units: 4")) == Lines{"g.yaml:9:3: error: malformed YAML: illegal block entry"});
}

TEST_CASE("an empty or blank graph file is an error at 1:1", "[errors]") {
  const Lines expected{"g.yaml:1:1: error: the graph file is empty: a graph file is a mapping with keys graph, seed, "
                       "plugins, inputs, nodes, data, train, outputs, labels"};
  CHECK(errors_of("") == expected);
  CHECK(errors_of("  \n\n\t\n") == expected);
  CHECK(errors_of("# only a comment\n") == expected);
}

TEST_CASE("unknown top-level key", "[errors]") {
  CHECK(errors_of(replace(kXor, "seed: 7", "sed: 7")) ==
        Lines{"g.yaml:2:1: error: unknown top-level key 'sed' (did you mean 'seed'? expected one of: graph, seed, plugins, "
              "inputs, nodes, data, train, outputs, labels)"});
}

TEST_CASE("unknown op lists the known ones and the closest", "[errors]") {
  const Lines errors = errors_of(replace(kXor, "op: sigmoid, inputs: [fc1]", "op: sigmod, inputs: [fc1]"));
  REQUIRE(errors.size() == 1);
  // Sorted: the list's start, and names from each family (it grows with every operator added).
  CHECK_THAT(errors[0], Catch::StartsWith("g.yaml:8:20: error: node 'h1': unknown op 'sigmod' (did you mean 'sigmoid'? "
                                          "known ops: abs, adam, adamw, adaptive_avg_pool2d, add, "));
  CHECK_THAT(errors[0], Catch::Contains(", bce, bce_with_logits, "));
  CHECK_THAT(errors[0], Catch::Contains(", concat, ") && Catch::Contains(", conv2d, ") && Catch::Contains(", cross_entropy, "));
  CHECK_THAT(errors[0], Catch::Contains(", tanh") && Catch::EndsWith(")"));
}

// What "did you mean" offers for an op name written in another case, with a typo, or as PyTorch's class.
std::string op_suggestion(const std::string& from, const std::string& to) {
  const Lines errors = errors_of(replace(kXor, from, to));
  REQUIRE(errors.size() == 1);
  const std::string start = "(did you mean '";
  const auto at = errors[0].find(start);
  if (at == std::string::npos) return "(none) " + errors[0];
  const auto end = errors[0].find('\'', at + start.size());
  return errors[0].substr(at + start.size(), end - at - start.size());
}

TEST_CASE("op suggestions ignore case and underscores, take PyTorch's class names and swapped letters", "[errors]") {
  const std::string h1 = "op: sigmoid, inputs: [fc1]";
  CHECK(errors_of(replace(kXor, h1, "op: ReLU, inputs: [fc1]"))[0].starts_with(
      "g.yaml:8:20: error: node 'h1': unknown op 'ReLU' (did you mean 'relu'? known ops: abs, "));
  CHECK(op_suggestion(h1, "op: Relu, inputs: [fc1]") == "relu");  // not gelu, one letter away
  CHECK(op_suggestion(h1, "op: reul, inputs: [fc1]") == "relu");
  CHECK(op_suggestion(h1, "op: GELU, inputs: [fc1]") == "gelu");
  CHECK(op_suggestion(h1, "op: LeakyReLU, inputs: [fc1]") == "leaky_relu");
  CHECK(op_suggestion(h1, "op: Sigmoid, inputs: [fc1]") == "sigmoid");
  CHECK(op_suggestion(h1, "op: BatchNorm1d, inputs: [fc1]") == "batch_norm");
  CHECK(op_suggestion(h1, "op: LayerNorm, inputs: [fc1]") == "layer_norm");
  CHECK(op_suggestion(h1, "op: MaxPool2d, inputs: [fc1]") == "max_pool2d");
  const std::string loss = "op: mse, inputs: [out, y]";
  CHECK(op_suggestion(loss, "op: CrossEntropyLoss, inputs: [out, y]") == "cross_entropy");
  CHECK(op_suggestion(loss, "op: BCEWithLogitsLoss, inputs: [out, y]") == "bce_with_logits");
  CHECK(op_suggestion(loss, "op: MSELoss, inputs: [out, y]") == "mse");
  CHECK(op_suggestion("op: sgd,", "op: AdamW,") == "adamw");
  CHECK(op_suggestion("op: sgd,", "op: SGD,") == "sgd");
}

TEST_CASE("unknown attribute", "[errors]") {
  CHECK(errors_of(replace(kXor, "units: 4}", "units: 4, unit: 3}")) ==
        Lines{"g.yaml:7:52: error: node 'fc1': unknown attribute 'unit' for op 'linear' (did you mean 'units'? known: "
              "units, bias, init)"});
}

TEST_CASE("ill-typed attribute", "[errors]") {
  CHECK(errors_of(replace(kXor, "units: 4}", "units: four}")) ==
        Lines{"g.yaml:7:49: error: node 'fc1': attribute 'units' of op 'linear' must be an integer, got 'four'"});
  CHECK(errors_of(replace(kXor, "lr: 0.5", "lr: -1")) ==
        Lines{"g.yaml:12:46: error: node 'opt': attribute 'lr' of op 'sgd' must be > 0, got '-1'"});
}

TEST_CASE("missing required attribute", "[errors]") {
  CHECK(errors_of(replace(kXor, ", units: 4}", "}")) ==
        Lines{"g.yaml:7:5: error: node 'fc1': op 'linear' needs attribute 'units' (integer)"});
}

TEST_CASE("duplicate node name", "[errors]") {
  CHECK(errors_of(replace(kXor, "name: h1, op: sigmoid, inputs: [fc1]", "name: fc1, op: sigmoid, inputs: [fc1]")) ==
        Lines{"g.yaml:8:5: error: duplicate node name 'fc1' (first defined at line 7, column 5)",
              "g.yaml:9:38: error: input 'h1' of node 'fc2' is not a graph input or a node"});
}

TEST_CASE("an input that names nothing", "[errors]") {
  CHECK(errors_of(replace(kXor, "inputs: [h1]", "inputs: [h2]")) ==
        Lines{"g.yaml:9:38: error: input 'h2' of node 'fc2' is not a graph input or a node (did you mean 'h1'?)"});
}

TEST_CASE("a cycle names the nodes on it", "[errors]") {
  CHECK(errors_of(replace(kXor, "op: linear, inputs: [x], units: 4", "op: linear, inputs: [out], units: 4")) ==
        Lines{"g.yaml:7:5: error: the graph has a cycle: fc1 -> h1 -> fc2 -> out -> fc1"});
}

TEST_CASE("a shape mismatch names both nodes and both shapes", "[errors]") {
  CHECK(errors_of(replace(kXor, "inputs: [h1], units: 1", "inputs: [h1], units: 3")) ==
        Lines{"g.yaml:11:5: error: node 'loss' (op mse): prediction has shape [3] but target has shape [1]; expected "
              "equal shapes; its inputs are 'out' [3] and 'y' [1]"});
}

TEST_CASE("data whose sample shape does not match its input", "[errors]") {
  CHECK(errors_of(replace(kXor, "[[0, 0], [0, 1], [1, 0], [1, 1]]", "[[0, 0], [0, 1, 1], [1, 0], [1, 1]]")) ==
        Lines{"g.yaml:15:17: error: data.train.x: sample 2 has 3 values, expected 2 (input 'x' has shape [2])"});
}

TEST_CASE("an optimizer fed by something other than a loss", "[errors]") {
  CHECK(errors_of(replace(kXor, "inputs: [loss], lr", "inputs: [out], lr")) ==
        Lines{"g.yaml:12:35: error: optimizer 'opt': input 'out' is a sigmoid node, not a loss; an optimizer minimises "
              "losses"});
}

TEST_CASE("wrong input count", "[errors]") {
  CHECK(errors_of(replace(kXor, "inputs: [out, y]", "inputs: [out]")) ==
        Lines{"g.yaml:11:35: error: node 'loss': op 'mse' takes exactly 2 inputs, got 1"});
}

TEST_CASE("labels out of range for cross_entropy", "[errors]") {
  std::string yaml = replace(kXor, "{name: loss, op: mse, inputs: [out, y]}", "{name: loss, op: cross_entropy, inputs: [fc2, y]}");
  yaml = replace(yaml, "inputs: [h1], units: 1", "inputs: [h1], units: 2");
  yaml = replace(yaml, "y: [[0], [1], [1], [0]]", "y: [[0], [1], [2], [0]]");
  CHECK(errors_of(yaml) ==
        Lines{"g.yaml:14:3: error: data.train.y: sample 3 has label 2, but node 'loss' (op cross_entropy) expects a "
              "class index in [0, 2)"});
}

TEST_CASE("a file with several problems reports all of them", "[errors]") {
  std::string yaml = replace(kXor, "seed: 7", "sed: 7");
  yaml = replace(yaml, "units: 4}", "units: 4, unit: 3}");
  yaml = replace(yaml, "op: sigmoid, inputs: [fc1]", "op: sigmod, inputs: [fc1]");
  yaml = replace(yaml, "lr: 0.5", "lr: fast");
  CHECK(errors_of(yaml).size() == 4);
}

// What building `yaml` (written as `path`, so that its data files resolve) with the data checks reports.
gradflow::Diagnostics data_check_errors(const std::string& yaml, const std::string& path) {
  gradflow::Diagnostics diagnostics;
  auto file = gradflow::parse_graph_text(yaml, path, gradflow::default_registry(), diagnostics);
  REQUIRE(diagnostics.empty());
  gradflow::Model::build(file.graph, gradflow::default_registry(), diagnostics,
                         [&](const gradflow::Model& model, gradflow::Diagnostics& found) {
                           gradflow::check_targets(model, file.data, found);
                         });
  return diagnostics;
}

TEST_CASE("a label out of range in a data file names the file and its row", "[errors]") {
  gradflow::test::TempDir dir("gradflow-labels");
  std::ofstream(dir / "d.csv") << "x,label\n0.5,1\n0.25,0\n0.75,7\n";
  const std::string yaml = R"(
inputs: {x: {shape: [1]}, y: {shape: [1]}}
nodes:
  - {name: logits, op: linear, inputs: [x], units: 3}
  - {name: loss, op: cross_entropy, inputs: [logits, y]}
data:
  train:
    x: {csv: d.csv, header: true, columns: [0]}
    y: {csv: d.csv, header: true, columns: [1]}
)";
  const gradflow::Diagnostics diagnostics = data_check_errors(yaml, dir / "g.yaml");
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics.list()[0].format() ==
        dir / "g.yaml" + ":7:3: error: data.train.y (" + dir / "d.csv" +
            ": row 4) has label 7, but node 'loss' (op cross_entropy) expects a class index in [0, 3)");
}

TEST_CASE("a sequence's label out of range in a data file names the file's row and the position", "[errors]") {
  // Three class indices per sample ([T] targets for [T, C] logits): the bad value is the 8th of
  // the file, in its third row, at position 1 (the row was once found from the value's index).
  gradflow::test::TempDir dir("gradflow-sequence-labels");
  std::ofstream(dir / "d.csv") << "a,b,c\n0,1,2\n2,1,0\n1,5,1\n0,0,0\n";
  const std::string yaml = R"(
inputs: {x: {shape: [3]}, y: {shape: [3]}}
nodes:
  - {name: embed, op: embedding, inputs: [x], num_embeddings: 3, embedding_dim: 2}
  - {name: logits, op: linear, inputs: [embed], units: 3}
  - {name: loss, op: cross_entropy, inputs: [logits, y]}
data:
  train:
    x: {csv: d.csv, header: true}
    y: {csv: d.csv, header: true}
)";
  const gradflow::Diagnostics diagnostics = data_check_errors(yaml, dir / "g.yaml");
  REQUIRE(diagnostics.size() == 2);
  CHECK(diagnostics.list()[0].format() == dir / "g.yaml" + ":8:3: error: data.train.y (" + dir / "d.csv" +
                                              ": row 4), position 1, has label 5, but node 'loss' (op cross_entropy) "
                                              "expects a class index in [0, 3)");
  CHECK(diagnostics.list()[1].format() == dir / "g.yaml" + ":8:3: error: data.train.x (" + dir / "d.csv" +
                                              ": row 4), position 1, has value 5, but node 'embed' (op embedding) "
                                              "expects integer token ids in [0, 3)");
}

TEST_CASE("a column range with trailing text, reversed or beyond any table is refused", "[errors]") {
  const std::string expected =
      "g.yaml:15:30: error: data for input 'x': 'columns' must be a range like \"0:64\" (at most 16777216 columns) or a "
      "list of column numbers";
  for (const std::string range : {"92plugins:8547758070", "0:2x", "5:3", "0:16777217"}) {
    INFO(range);
    CHECK(errors_of(replace(kXor, "x: [[0, 0], [0, 1], [1, 0], [1, 1]]", "x: {csv: d.csv, columns: \"" + range + "\"}")) ==
          Lines{expected});
  }
}

TEST_CASE("a misspelt key in a file source gets a suggestion, as in a text source", "[errors]") {
  CHECK(errors_of(replace(kXor, "x: [[0, 0], [0, 1], [1, 0], [1, 1]]", "x: {csv: d.csv, colums: \"0:2\"}")) ==
        Lines{"g.yaml:15:21: error: data for input 'x': unknown key 'colums' in a file source (did you mean "
              "'columns'? expected one of: csv, idx, columns, header, delimiter, scale, normalize)"});
}

TEST_CASE("a missing data file's error shows where it was looked for", "[errors]") {
  const std::string looked_for = (std::filesystem::current_path() / "nowhere/d.csv").string();
  CHECK(errors_of(replace(kXor, "x: [[0, 0], [0, 1], [1, 0], [1, 1]]", "x: {csv: nowhere/d.csv}")) ==
        Lines{"g.yaml:15:14: error: data for input 'x': nowhere/d.csv: cannot open: No such file or directory (looked "
              "for " + looked_for + ": a relative path starts at the graph file's folder)"});
}

TEST_CASE("bce and bce_with_logits refuse a target outside [0, 1] when the file loads", "[errors]") {
  for (const std::string op : {"bce", "bce_with_logits"}) {
    const std::string yaml = replace(replace(kXor, "op: mse", "op: " + op), "[[0], [1], [1], [0]]", "[[0], [1], [1], [2]]");
    CHECK(errors_of(yaml) == Lines{"g.yaml:14:3: error: data.train.y: sample 4 has label 2, but node 'loss' (op " + op +
                                   ") expects a target probability in [0, 1]"});
  }
  CHECK(errors_of(replace(replace(kXor, "op: mse", "op: bce"), "[[0], [1], [1], [0]]", "[[0], [1], [0.25], [1]]")).empty());
}

TEST_CASE("an optimizer's params must name a node it can train", "[errors]") {
  CHECK(errors_of(replace(kXor, "lr: 0.5}", "lr: 0.5, params: [fc1, h1]}")) ==
        Lines{"g.yaml:12:5: error: optimizer 'opt': params names node 'h1' (op sigmoid), which has no parameters; it "
              "would train nothing (nodes it can train: fc1, fc2)"});
  const std::string aside = replace(kXor, "  - {name: opt,", "  - {name: aside, op: linear, inputs: [x], units: 3}\n  - {name: opt,");
  CHECK(errors_of(replace(aside, "lr: 0.5}", "lr: 0.5, params: [aside]}")) ==
        Lines{"g.yaml:13:5: error: optimizer 'opt': params names node 'aside' (op linear), which its losses do not "
              "depend on; it would train nothing (nodes it can train: fc1, fc2)"});
}

TEST_CASE("a tab in the indentation is reported at the tab", "[errors]") {
  CHECK(errors_of(replace(kXor, "  x: {shape: [2]}", "\tx: {shape: [2]}")) ==
        Lines{"g.yaml:4:1: error: malformed YAML: a tab indents this line, and YAML indents with spaces only (the parser "
              "stopped at line 4, column 3: illegal map value)"});
}

namespace {

// Three classes from logits, with whatever `labels:` line is appended.
std::string classifier_with(const std::string& labels_line) {
  return R"(inputs:
  x: {shape: [2]}
  y: {shape: [1]}
nodes:
  - {name: logits, op: linear, inputs: [x], units: 3}
  - {name: loss, op: cross_entropy, inputs: [logits, y]}
)" + labels_line + "\n";
}

}  // namespace

TEST_CASE("labels: a list of unique non-empty names", "[errors][labels]") {
  CHECK(errors_of(classifier_with("labels: [a, b, c]")).empty());
  CHECK(errors_of(classifier_with("labels: abc")) ==
        Lines{"g.yaml:7:9: error: 'labels' must be a list of class names, one per class, got 'abc'"});
  CHECK(errors_of(classifier_with("labels: []")) ==
        Lines{"g.yaml:7:9: error: 'labels' must be a list of class names, one per class, got an empty list"});
  CHECK(errors_of(classifier_with("labels: [a, [b], '', a]")) ==
        Lines{"g.yaml:7:13: error: a label must be a non-empty string, got a list",
              "g.yaml:7:18: error: a label must be a non-empty string, got ''",
              "g.yaml:7:22: error: label 'a' is already the name of class 0: labels must be unique"});
}

TEST_CASE("labels: as many as the classifier's classes", "[errors][labels]") {
  CHECK(errors_of(classifier_with("labels: [a, b]")) ==
        Lines{"g.yaml:7:9: error: 'labels' names 2 classes, but node 'loss' (op cross_entropy) classifies into 3"});
  CHECK(errors_of(std::string(kXor) + "labels: [no, yes]\n") ==
        Lines{"g.yaml:17:9: error: 'labels' names 2 classes, but no loss classifies its prediction (losses that do: "
              "bce, bce_with_logits, cross_entropy)"});
}

TEST_CASE("inline data refuses NaN and infinity, and values beyond float range, at their line and column",
          "[errors][data]") {
  const std::string yaml = replace(kXor, "x: [[0, 0], [0, 1], [1, 0], [1, 1]]", "x: [[0, 0], [.nan, 1], [1, -.inf], [1, 1e39]]");
  CHECK(errors_of(yaml) == Lines{"g.yaml:15:18: error: a sample value must be a finite number, got '.nan'",
                                 "g.yaml:15:32: error: a sample value must be a finite number, got '-.inf'",
                                 "g.yaml:15:44: error: a sample value must be a finite number, got '1e39' (out of float range)"});
}
