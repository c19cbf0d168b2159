// Graph files with the shape and structure operators: a small vision-transformer-like graph
// (patches, class token, position table, attention-like products, the class token's row) loads
// and trains a step, and each bad node gets its exact message, pinned to FILE:LINE:COLUMN.
#include <catch2/catch.hpp>

#include "framework/graph_fixtures.hpp"
#include "gradcheck.hpp"

using gradflow::test::errors_of;
using gradflow::test::replace;
using Lines = std::vector<std::string>;

namespace {

const char* const kTokens = R"(graph: tokens
seed: 7
inputs:
  x: {shape: [1, 4, 4]}
  y: {shape: [1]}
nodes:
  - {name: patch, op: conv2d, inputs: [x], out_channels: 3, kernel_size: 2, stride: 2}
  - {name: flat, op: flatten, inputs: [patch], start_axis: 1}
  - {name: tok, op: transpose, inputs: [flat], perm: [1, 0]}
  - {name: cls, op: parameter, shape: [1, 3], init: normal, std: 0.02}
  - {name: seq, op: concat, inputs: [cls, tok], axis: 0}
  - {name: pos, op: parameter, inputs: [], shape: [5, 3], init: normal}
  - {name: h, op: add, inputs: [seq, pos]}
  - {name: ht, op: transpose, inputs: [h], perm: [1, 0]}
  - {name: scores, op: matmul, inputs: [h, ht]}
  - {name: mix, op: matmul, inputs: [scores, h]}
  - {name: first, op: slice, inputs: [mix], axis: 0, end: 1}
  - {name: row, op: squeeze, inputs: [first], axes: [0]}
  - {name: padded, op: pad, inputs: [row], pads: [1, 1], mode: replicate}
  - {name: logits, op: linear, inputs: [padded], units: 2}
  - {name: loss, op: cross_entropy, inputs: [logits, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
data:
  train:
    x: [[0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]]
    y: [[0], [1]]
)";

std::vector<std::string> errors_with(const std::string& from, const std::string& to) {
  return errors_of(replace(kTokens, from, to));
}

}  // namespace

TEST_CASE("a graph of shape operators, parameters without inputs included, loads and trains a step",
          "[shape_ops][graph]") {
  CHECK(errors_of(kTokens).empty());
  auto loaded = gradflow::test::load(kTokens);
  auto& model = *loaded.model;
  model.init_parameters(1);
  const std::vector<int64_t> batch{0, 1};
  model.load_batch(loaded.data.train, batch);
  model.forward();
  model.backward();
  model.optimizer_step();
}

TEST_CASE("shape operators in a graph: each error names the file, line, node and shapes", "[shape_ops][errors]") {
  CHECK(errors_with("perm: [1, 0]}\n  - {name: cls", "perm: [0, 0]}\n  - {name: cls") ==
        Lines{"g.yaml:9:5: error: node 'tok' (op transpose): transpose: perm [0, 0] is not a permutation of the axes of "
              "a sample of shape [3, 4] (expected each of 0 to 1 once); its input is 'flat' [3, 4]"});
  CHECK(errors_with("inputs: [cls, tok], axis: 0", "inputs: [cls, tok], axis: 1") ==
        Lines{"g.yaml:11:5: error: node 'seq' (op concat): concat: input 1 has shape [4, 3] but input 0 has shape "
              "[1, 3]; all dimensions but axis 1 must be equal; its inputs are 'cls' [1, 3] and 'tok' [4, 3]"});
  CHECK(errors_with("axis: 0, end: 1}", "axis: 2, end: 1}") ==
        Lines{"g.yaml:17:5: error: node 'first' (op slice): slice: axis 2 is out of range for a sample of shape [5, 3] "
              "(axes -2 to 1); its input is 'mix' [5, 3]"});
  CHECK(errors_with("axes: [0]}", "axes: [1]}") ==
        Lines{"g.yaml:18:5: error: node 'row' (op squeeze): squeeze: axis 1 of a sample of shape [1, 3] has size 3, "
              "not 1; its input is 'first' [1, 3]"});
  CHECK(errors_with("start_axis: 1}", "start_axis: 1}\n  - {name: bad, op: reshape, inputs: [flat], shape: [0, 5]}") ==
        Lines{"g.yaml:9:5: error: node 'bad' (op reshape): reshape: cannot reshape [3, 4] (12 values) to [0, 5] "
              "(15 values); its input is 'flat' [3, 4]"});
  CHECK(errors_with("inputs: [h, ht]}", "inputs: [h, h]}") ==
        Lines{"g.yaml:15:5: error: node 'scores' (op matmul): matmul: a [5, 3] and b [5, 3] do not multiply: a has 3 "
              "columns, b 5 rows; its inputs are 'h' [5, 3] and 'h' [5, 3]"});
  CHECK(errors_with("{name: cls, op: parameter, shape: [1, 3]", "{name: cls, op: parameter, inputs: [x], shape: [1, 3]") ==
        Lines{"g.yaml:10:40: error: node 'cls': op 'parameter' takes exactly 0 inputs, got 1"});
}

TEST_CASE("constant: value is a number or a list nested as the shape, else an exact error", "[shape_ops][errors]") {
  const std::string pos = "{name: pos, op: parameter, inputs: [], shape: [5, 3], init: normal}";
  CHECK(errors_with(pos, "{name: pos, op: constant, shape: [5, 3], value: 0.5}").empty());
  CHECK(errors_with(pos, "{name: pos, op: constant, shape: [5, 3], value: [[1, 2, 3], [4, 5, 6], [7, 8, 9], "
                         "[1, 2, 3], [4, 5, 6]]}")
            .empty());
  CHECK(errors_with(pos, "{name: pos, op: constant, shape: [2, 2], value: [[1, 2], [3]]}") ==
        Lines{"g.yaml:12:53: error: node 'pos': attribute 'value' of op 'constant' must be a number or a list of numbers "
              "nested evenly (every row as long), got [[1, 2], [3]]"});
  CHECK(errors_with(pos, "{name: pos, op: constant, shape: [5, 3], value: [1, 2]}") ==
        Lines{"g.yaml:12:5: error: node 'pos' (op constant): constant: value has shape [2], but shape is [5, 3]"});
}
