// Graph files with image operators: a valid network loads and trains a step, and every bad
// node gets its own exact message, pinned to FILE:LINE:COLUMN.
#include <catch2/catch.hpp>

#include "framework/graph_fixtures.hpp"
#include "gradcheck.hpp"

using gradflow::test::errors_of;
using gradflow::test::replace;
using Lines = std::vector<std::string>;

namespace {

// A valid small CNN; tests replace parts of it to make it wrong.
const char* const kCnn = R"(graph: cnn
seed: 7
inputs:
  x: {shape: [1, 6, 6]}
  y: {shape: [1]}
nodes:
  - {name: conv, op: conv2d, inputs: [x], out_channels: 4, kernel_size: 3, padding: 1}
  - {name: act, op: relu, inputs: [conv]}
  - {name: pool, op: max_pool2d, inputs: [act], kernel_size: 2}
  - {name: flat, op: flatten, inputs: [pool]}
  - {name: logits, op: linear, inputs: [flat], units: 2}
  - {name: loss, op: cross_entropy, inputs: [logits, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
data:
  train:
    x: [[0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]]
    y: [[0], [1]]
)";

}  // namespace

TEST_CASE("a CNN graph loads and trains a step", "[images][graph]") {
  auto loaded = gradflow::test::load(kCnn);
  auto& model = *loaded.model;
  model.init_parameters(1);
  const std::vector<int64_t> batch{0, 1};
  model.load_batch(loaded.data.train, batch);
  model.forward();
  model.backward();
  model.optimizer_step();
  CHECK(errors_of(kCnn).empty());
}

namespace {
const std::string kConvNode = "g.yaml:7:5: error: node 'conv' (op conv2d): ";
const std::string kConvInput = "; its input is 'x' [1, 6, 6]";
const std::string kKernelAt = "g.yaml:7:73: error: node 'conv': attribute 'kernel_size' of op 'conv2d' ";
}  // namespace

TEST_CASE("an integer-pair attribute takes one integer or [h, w]", "[images][errors]") {
  CHECK(errors_of(replace(kCnn, "kernel_size: 3,", "kernel_size: [3, 2],")).empty());
  const std::string not_pair = "must be an integer or a list of 2 integers, got ";
  CHECK(errors_of(replace(kCnn, "kernel_size: 3,", "kernel_size: three,")) == Lines{kKernelAt + not_pair + "'three'"});
  CHECK(errors_of(replace(kCnn, "kernel_size: 3,", "kernel_size: 2.5,")) == Lines{kKernelAt + not_pair + "'2.5'"});
  CHECK(errors_of(replace(kCnn, "kernel_size: 3,", "kernel_size: [3, 2, 1],")) == Lines{kKernelAt + not_pair + "[3, 2, 1]"});
  CHECK(errors_of(replace(kCnn, "kernel_size: 3,", "kernel_size: [],")) == Lines{kKernelAt + not_pair + "[]"});
  CHECK(errors_of(replace(kCnn, "kernel_size: 3,", "kernel_size: [3, x],")) == Lines{kKernelAt + not_pair + "[3, x]"});
}

TEST_CASE("an integer-pair attribute out of range names the whole value", "[images][errors]") {
  CHECK(errors_of(replace(kCnn, "kernel_size: 3,", "kernel_size: 0,")) == Lines{kKernelAt + "must be >= 1, got '0'"});
  CHECK(errors_of(replace(kCnn, "kernel_size: 3,", "kernel_size: [3, 0],")) ==
        Lines{kKernelAt + "must have every value >= 1, got [3, 0]"});
  CHECK(errors_of(replace(kCnn, "kernel_size: 3,", "kernel_size: -2,")) == Lines{kKernelAt + "must be >= 1, got '-2'"});
  CHECK(errors_of(replace(kCnn, "padding: 1}", "padding: -1}")) ==
        Lines{"g.yaml:7:85: error: node 'conv': attribute 'padding' of op 'conv2d' must be >= 0, got '-1'"});
}

TEST_CASE("a missing integer-pair attribute names its type", "[images][errors]") {
  CHECK(errors_of(replace(kCnn, "kernel_size: 3,", "")) ==
        Lines{"g.yaml:7:5: error: node 'conv': op 'conv2d' needs attribute 'kernel_size' (integer or [h, w])"});
}

TEST_CASE("conv2d: a kernel larger than the padded input gives both sizes", "[images][errors]") {
  CHECK(errors_of(replace(kCnn, "kernel_size: 3, padding: 1}", "kernel_size: 9, padding: 1}")) ==
        Lines{kConvNode + "conv2d: kernel [9, 9] is larger than the padded input [8, 8] (input [H, W] [6, 6], padding [1, 1])" +
              kConvInput});
  CHECK(errors_of(replace(kCnn, "kernel_size: 3, padding: 1}", "kernel_size: 3, dilation: 4}")) ==
        Lines{kConvNode +
              "conv2d: kernel [3, 3] (spanning [9, 9] dilated) is larger than the padded input [6, 6] (input [H, W] [6, 6], "
              "padding [0, 0])" +
              kConvInput});
}

TEST_CASE("conv2d: channels that groups does not divide", "[images][errors]") {
  CHECK(errors_of(replace(kCnn, "out_channels: 4,", "out_channels: 4, groups: 3,")) ==
        Lines{kConvNode + "conv2d: out_channels 4 is not divisible by groups 3" + kConvInput});
  CHECK(errors_of(replace(kCnn, "out_channels: 4,", "out_channels: 3, groups: 3,")) ==
        Lines{kConvNode + "conv2d: in_channels 1 (the input's C) is not divisible by groups 3" + kConvInput});
}

TEST_CASE("conv2d: an input that is not an image [C, H, W]", "[images][errors]") {
  CHECK(errors_of(replace(kCnn, "{shape: [1, 6, 6]}", "{shape: [36]}")) ==
        Lines{kConvNode +
              "conv2d expects a sample image [C, H, W], got [36]; a flat input needs a reshape node to [C, H, W] first; "
              "its input is 'x' [36]"});
}

TEST_CASE("linear fed an image says that a flatten is missing", "[images][errors]") {
  CHECK(errors_of(replace(kCnn, "inputs: [flat]", "inputs: [pool]")) ==
        Lines{"g.yaml:11:5: error: node 'logits' (op linear): linear applies over the last axis of a sample [in] or "
              "[T, in], got [4, 3, 3]; to feed it a [C, H, W] image, put a flatten node before it; its input is 'pool' "
              "[4, 3, 3]"});
}

TEST_CASE("reshape: two -1, a changed number of values, a shape that is not a list", "[images][errors]") {
  const std::string flatten = "{name: flat, op: flatten, inputs: [pool]}";
  const std::string node = "g.yaml:10:5: error: node 'flat' (op reshape): reshape: ";
  const std::string input = "; its input is 'pool' [4, 3, 3]";
  CHECK(errors_of(replace(kCnn, flatten, "{name: flat, op: reshape, inputs: [pool], shape: [4, -1, -1]}")) ==
        Lines{node + "shape [4, -1, -1] has more than one -1" + input});
  CHECK(errors_of(replace(kCnn, flatten, "{name: flat, op: reshape, inputs: [pool], shape: [5, 7]}")) ==
        Lines{node + "cannot reshape [4, 3, 3] (36 values) to [5, 7] (35 values)" + input});
  CHECK(errors_of(replace(kCnn, flatten, "{name: flat, op: reshape, inputs: [pool], shape: 36}")) ==
        Lines{"g.yaml:10:54: error: node 'flat': attribute 'shape' of op 'reshape' must be a list of integers, got '36'"});
  CHECK(errors_of(replace(kCnn, flatten, "{name: flat, op: reshape, inputs: [pool], shape: [36]}")).empty());
}

TEST_CASE("pooling: too much padding, a kernel larger than the padded input", "[images][errors]") {
  const std::string pool = "op: max_pool2d, inputs: [act], kernel_size: 2";
  CHECK(errors_of(replace(kCnn, pool, pool + ", padding: 2")) ==
        Lines{"g.yaml:9:5: error: node 'pool' (op max_pool2d): max_pool2d: padding [2, 2] must be at most half of "
              "kernel_size [2, 2]; its input is 'act' [4, 6, 6]"});
  CHECK(errors_of(replace(kCnn, pool, "op: avg_pool2d, inputs: [act], kernel_size: 9")) ==
        Lines{"g.yaml:9:5: error: node 'pool' (op avg_pool2d): avg_pool2d: kernel [9, 9] is larger than the padded "
              "input [6, 6] (input [H, W] [6, 6], padding [0, 0]); its input is 'act' [4, 6, 6]"});
}
