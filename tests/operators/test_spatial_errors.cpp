// Graph files with the spatial tensor operators: valid networks load and train a step, and
// every bad node gets its own exact message, pinned to FILE:LINE:COLUMN, naming the node and
// the shapes involved.
#include <catch2/catch.hpp>

#include "framework/graph_fixtures.hpp"
#include "gradcheck.hpp"

using gradflow::test::errors_of;
using gradflow::test::replace;
using Lines = std::vector<std::string>;

namespace {

// A small 1-D CNN over [C=2, L=8] sequences; tests replace parts of it to make it wrong.
const char* const kSequenceNet = R"(graph: seq
seed: 7
inputs:
  x: {shape: [2, 8]}
  y: {shape: [1]}
nodes:
  - {name: conv, op: conv1d, inputs: [x], out_channels: 4, kernel_size: 3, padding: 1}
  - {name: act, op: relu, inputs: [conv]}
  - {name: pool, op: max_pool1d, inputs: [act], kernel_size: 2}
  - {name: flat, op: flatten, inputs: [pool]}
  - {name: logits, op: linear, inputs: [flat], units: 2}
  - {name: loss, op: cross_entropy, inputs: [logits, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
data:
  train:
    x: [[0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]]
    y: [[0], [1]]
)";

// An image decoder: [2, 4, 4] up to [3, 8, 8] by conv_transpose2d, to 16x16 by upsample, back
// to [3, 2, 2] by adaptive pooling.
const char* const kImageNet = R"(graph: img
seed: 7
inputs:
  x: {shape: [2, 4, 4]}
  y: {shape: [1]}
nodes:
  - {name: up, op: conv_transpose2d, inputs: [x], out_channels: 3, kernel_size: 2, stride: 2}
  - {name: big, op: upsample, inputs: [up], scale_factor: 2, mode: bilinear}
  - {name: pool, op: adaptive_avg_pool2d, inputs: [big], output_size: 2}
  - {name: flat, op: flatten, inputs: [pool]}
  - {name: logits, op: linear, inputs: [flat], units: 2}
  - {name: loss, op: cross_entropy, inputs: [logits, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
data:
  train:
    x: [[0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1], [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]]
    y: [[0], [1]]
)";

void trains_a_step(const char* yaml) {
  CHECK(errors_of(yaml).empty());
  auto loaded = gradflow::test::load(yaml);
  auto& model = *loaded.model;
  model.init_parameters(1);
  const std::vector<int64_t> batch{0, 1};
  model.load_batch(loaded.data.train, batch);
  model.forward();
  model.backward();
  model.optimizer_step();
}

const std::string kConv = "g.yaml:7:5: error: node 'conv' (op conv1d): ";
const std::string kConvInput = "; its input is 'x' [2, 8]";
const std::string kPool = "g.yaml:9:5: error: node 'pool' (op max_pool1d): ";
const std::string kPoolInput = "; its input is 'act' [4, 8]";
const std::string kUp = "g.yaml:7:5: error: node 'up' (op conv_transpose2d): ";
const std::string kUpInput = "; its input is 'x' [2, 4, 4]";
const std::string kBig = "g.yaml:8:5: error: node 'big' (op upsample): ";
const std::string kBigInput = "; its input is 'up' [3, 8, 8]";

}  // namespace

TEST_CASE("a 1-D CNN and an image decoder load and train a step", "[spatial][graph]") {
  trains_a_step(kSequenceNet);
  trains_a_step(kImageNet);
}

TEST_CASE("conv1d: an input that is not a sequence [C, L]", "[spatial][errors]") {
  CHECK(errors_of(replace(kSequenceNet, "{shape: [2, 8]}", "{shape: [16]}")) ==
        Lines{kConv + "conv1d expects a sample sequence [C, L], got [16]; a flat input needs a reshape node to [C, L] "
                      "first; its input is 'x' [16]"});
  CHECK(errors_of(replace(kSequenceNet, "{shape: [2, 8]}", "{shape: [2, 2, 4]}")) ==
        Lines{kConv + "conv1d expects a sample sequence [C, L], got [2, 2, 4]; its input is 'x' [2, 2, 4]"});
}

TEST_CASE("conv1d: a kernel larger than the padded input, groups that do not divide", "[spatial][errors]") {
  CHECK(errors_of(replace(kSequenceNet, "kernel_size: 3, padding: 1}", "kernel_size: 11, padding: 1}")) ==
        Lines{kConv + "conv1d: kernel [11] is larger than the padded input [10] (input [L] [8], padding [1])" + kConvInput});
  CHECK(errors_of(replace(kSequenceNet, "kernel_size: 3, padding: 1}", "kernel_size: 3, dilation: 4}")) ==
        Lines{kConv + "conv1d: kernel [3] (spanning [9] dilated) is larger than the padded input [8] (input [L] [8], "
                      "padding [0])" + kConvInput});
  CHECK(errors_of(replace(kSequenceNet, "out_channels: 4,", "out_channels: 3, groups: 3,")) ==
        Lines{kConv + "conv1d: in_channels 2 (the input's C) is not divisible by groups 3" + kConvInput});
  CHECK(errors_of(replace(kSequenceNet, "kernel_size: 3, padding: 1}", "kernel_size: [3, 3], padding: 1}")) ==
        Lines{"g.yaml:7:73: error: node 'conv': attribute 'kernel_size' of op 'conv1d' must be an integer, got a list"});
}

TEST_CASE("1-D pools: too much padding, a kernel larger than the padded input", "[spatial][errors]") {
  CHECK(errors_of(replace(kSequenceNet, "kernel_size: 2}", "kernel_size: 2, padding: 2}")) ==
        Lines{kPool + "max_pool1d: padding [2] must be at most half of kernel_size [2]" + kPoolInput});
  CHECK(errors_of(replace(kSequenceNet, "op: max_pool1d, inputs: [act], kernel_size: 2}",
                          "op: avg_pool1d, inputs: [act], kernel_size: 9}")) ==
        Lines{"g.yaml:9:5: error: node 'pool' (op avg_pool1d): avg_pool1d: kernel [9] is larger than the padded input "
              "[8] (input [L] [8], padding [0])" + kPoolInput});
}

TEST_CASE("conv_transpose2d: output_padding not below stride, an empty output, a non-image input", "[spatial][errors]") {
  CHECK(errors_of(replace(kImageNet, "stride: 2}", "stride: 2, output_padding: 2}")) ==
        Lines{kUp + "conv_transpose2d: output_padding [2, 2] must be smaller than stride [2, 2]" + kUpInput});
  CHECK(errors_of(replace(kImageNet, "kernel_size: 2, stride: 2}", "kernel_size: 1, padding: 2}")) ==
        Lines{kUp + "conv_transpose2d: the output [H, W] would be [0, 0] (input [H, W] [4, 4], kernel [1, 1], stride "
                    "[1, 1], padding [2, 2], dilation [1, 1], output_padding [0, 0])" + kUpInput});
  CHECK(errors_of(replace(kImageNet, "{shape: [2, 4, 4]}", "{shape: [2, 16]}")) ==
        Lines{kUp + "conv_transpose2d expects a sample image [C, H, W], got [2, 16]; its input is 'x' [2, 16]"});
  CHECK(errors_of(replace(kImageNet, "out_channels: 3,", "out_channels: 3, groups: 2,")) ==
        Lines{kUp + "conv_transpose2d: out_channels 3 is not divisible by groups 2" + kUpInput});
}

TEST_CASE("upsample: an empty output, align_corners with nearest", "[spatial][errors]") {
  CHECK(errors_of(replace(kImageNet, "scale_factor: 2,", "scale_factor: 0.1,")) ==
        Lines{kBig + "upsample: scale_factor 0.1 gives an empty output [H, W] [0, 0] from the input [H, W] [8, 8]" +
              kBigInput});
  CHECK(errors_of(replace(kImageNet, "mode: bilinear}", "align_corners: true}")) ==
        Lines{kBig + "upsample: align_corners applies to mode bilinear only, not nearest (as torch)" + kBigInput});
  CHECK(errors_of(replace(kImageNet, "mode: bilinear}", "mode: bicubic}")) ==
        Lines{"g.yaml:8:68: error: node 'big': attribute 'mode' of op 'upsample' must be one of nearest, bilinear, got "
              "'bicubic'"});
}

TEST_CASE("upsample: scale_factor is a number > 0 or a list of 2", "[spatial][errors]") {
  CHECK(errors_of(replace(kImageNet, "scale_factor: 2,", "scale_factor: [2, 1.5],")).empty());
  const std::string at = "g.yaml:8:59: error: node 'big': attribute 'scale_factor' of op 'upsample' ";
  CHECK(errors_of(replace(kImageNet, "scale_factor: 2,", "scale_factor: [2, x],")) ==
        Lines{at + "must be a number or a list of 2 numbers, got [2, x]"});
  CHECK(errors_of(replace(kImageNet, "scale_factor: 2,", "scale_factor: [2, 2, 2],")) ==
        Lines{at + "must be a number or a list of 2 numbers, got [2, 2, 2]"});
  CHECK(errors_of(replace(kImageNet, "scale_factor: 2,", "scale_factor: [2, 0],")) ==
        Lines{at + "must have every value > 0, got [2, 0]"});
  CHECK(errors_of(replace(kImageNet, "scale_factor: 2,", "scale_factor: 0,")) == Lines{at + "must be > 0, got '0'"});
  CHECK(errors_of(replace(kImageNet, "scale_factor: 2,", "scale_factor: [0.1, 2],")) ==
        Lines{kBig + "upsample: scale_factor [0.1, 2] gives an empty output [H, W] [0, 16] from the input [H, W] [8, 8]" +
              kBigInput});
}

TEST_CASE("adaptive_avg_pool2d: an input that is not an image", "[spatial][errors]") {
  CHECK(errors_of(replace(kSequenceNet, "op: max_pool1d, inputs: [act], kernel_size: 2}",
                          "op: adaptive_avg_pool2d, inputs: [act], output_size: 2}")) ==
        Lines{"g.yaml:9:5: error: node 'pool' (op adaptive_avg_pool2d): adaptive_avg_pool2d expects a sample image "
              "[C, H, W], got [4, 8]; its input is 'act' [4, 8]"});
}
