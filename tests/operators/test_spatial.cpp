// The spatial tensor operators (graph-format.md 2e): conv1d, max_pool1d, avg_pool1d,
// adaptive_avg_pool2d, global_avg_pool's keepdims, conv_transpose2d, upsample. Forward and
// every gradient against torch 1.13 (torch_spatial_reference.hpp), shapes and parameter layouts
// as torch's, and finite differences where torch's cases leave a path out.
#include <catch2/catch.hpp>

#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>

#include "image_cases.hpp"
#include "torch_spatial_reference.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

using Pair = std::vector<int64_t>;

Shape shape_of(const std::string& op, const Overrides& attrs, const Shape& in) {
  return make_op(op, attrs)->infer_shape(std::vector<Shape>{in});
}

std::vector<Shape> parameter_shapes(const std::string& op, const Overrides& attrs, const Shape& in) {
  auto made = make_op(op, attrs);
  made->infer_shape(std::vector<Shape>{in});
  std::vector<Shape> shapes;
  for (const Parameter& p : made->parameters()) shapes.push_back(p.value.shape());
  return shapes;
}

void check_gradients(const std::string& op, const Overrides& attrs, const Shape& input, uint64_t seed) {
  auto made = make_op(op, attrs);
  const std::vector<Tensor> inputs{random_tensor(input, seed)};
  prepare(*made, inputs);
  gradcheck(*made, inputs, {true});
}

}  // namespace

TEST_CASE("spatial operators: forward and every gradient match PyTorch", "[spatial][torch]") {
  for (const TorchCase& c : kTorchSpatialCases) check_against_torch(c);
}

TEST_CASE("conv1d: torch.nn.Conv1d's output length and parameter layout", "[spatial][conv1d]") {
  const Overrides attrs{{"out_channels", int64_t{6}}, {"kernel_size", int64_t{3}}, {"stride", int64_t{2}},
                        {"padding", int64_t{1}}, {"dilation", int64_t{2}}, {"groups", int64_t{2}}};
  CHECK(shape_of("conv1d", attrs, {4, 11}) == Shape{6, 5});  // (11+2-4-1)/2+1
  CHECK(parameter_shapes("conv1d", attrs, {4, 11}) == std::vector<Shape>{{6, 2, 3}, {6}});
  auto made = make_op("conv1d", attrs);
  made->infer_shape(std::vector<Shape>{{4, 11}});
  CHECK(made->flops_per_sample() == 2.0 * 6 * (2 * 3) * 5);
}

TEST_CASE("1-D pools: torch's output lengths, stride defaulting to kernel_size", "[spatial][pooling]") {
  CHECK(shape_of("max_pool1d", {{"kernel_size", int64_t{2}}}, {3, 9}) == Shape{3, 4});
  CHECK(shape_of("avg_pool1d", {{"kernel_size", int64_t{2}}, {"ceil_mode", true}}, {3, 9}) == Shape{3, 5});
  CHECK(shape_of("max_pool1d", {{"kernel_size", int64_t{3}}, {"stride", int64_t{1}}, {"padding", int64_t{1}}}, {2, 5}) ==
        Shape{2, 5});
}

TEST_CASE("adaptive_avg_pool2d and global_avg_pool keepdims: output shapes", "[spatial][pooling]") {
  CHECK(shape_of("adaptive_avg_pool2d", {{"output_size", int64_t{1}}}, {8, 7, 5}) == Shape{8, 1, 1});
  CHECK(shape_of("adaptive_avg_pool2d", {{"output_size", Pair{3, 2}}}, {8, 7, 5}) == Shape{8, 3, 2});
  // more outputs than inputs: windows repeat inputs, as torch's
  CHECK(shape_of("adaptive_avg_pool2d", {{"output_size", int64_t{4}}}, {1, 2, 3}) == Shape{1, 4, 4});
  CHECK(shape_of("global_avg_pool", {{"keepdims", true}}, {8, 7, 5}) == Shape{8, 1, 1});
  CHECK(shape_of("global_avg_pool", {}, {8, 7, 5}) == Shape{8});
}

TEST_CASE("conv_transpose2d: torch's output size and weight layout [C, out/groups, kh, kw]", "[spatial][convt]") {
  const Overrides attrs{{"out_channels", int64_t{6}}, {"kernel_size", Pair{3, 2}}, {"stride", Pair{2, 3}},
                        {"padding", Pair{1, 0}}, {"output_padding", Pair{1, 2}}, {"groups", int64_t{2}}};
  // (5-1)·2 − 2 + (3−1) + 1 + 1 = 10; (4-1)·3 − 0 + (2−1) + 2 + 1 = 13
  CHECK(shape_of("conv_transpose2d", attrs, {4, 5, 4}) == Shape{6, 10, 13});
  CHECK(parameter_shapes("conv_transpose2d", attrs, {4, 5, 4}) == std::vector<Shape>{{4, 3, 3, 2}, {6}});
}

TEST_CASE("upsample: output floor(size · scale_factor)", "[spatial][upsample]") {
  CHECK(shape_of("upsample", {{"scale_factor", 2.0}}, {3, 4, 5}) == Shape{3, 8, 10});
  CHECK(shape_of("upsample", {{"scale_factor", 1.5}}, {3, 3, 5}) == Shape{3, 4, 7});
  CHECK(shape_of("upsample", {{"scale_factor", 0.5}, {"mode", std::string("bilinear")}}, {3, 5, 4}) == Shape{3, 2, 2});
  CHECK(shape_of("upsample", {{"scale_factor", std::vector<double>{2.0, 1.5}}}, {3, 3, 5}) == Shape{3, 6, 7});
  CHECK(to_string(AttrType::NumberPair) == std::string("number or [h, w]"));
  CHECK(to_string(AttrValue{std::vector<double>{2.0, 1.5}}) == "[2, 1.5]");
}

TEST_CASE("spatial operators: gradients match finite differences beyond torch's cases", "[spatial][gradcheck]") {
  SECTION("adaptive windows that overlap") { check_gradients("adaptive_avg_pool2d", {{"output_size", Pair{3, 4}}}, {2, 2, 5, 7}, 1); }
  SECTION("adaptive, more outputs than inputs") { check_gradients("adaptive_avg_pool2d", {{"output_size", int64_t{3}}}, {1, 2, 2, 2}, 2); }
  SECTION("conv_transpose2d, stride 3 and depthwise") {
    check_gradients("conv_transpose2d",
                    {{"out_channels", int64_t{3}}, {"kernel_size", int64_t{2}}, {"stride", int64_t{3}}, {"groups", int64_t{3}},
                     {"output_padding", int64_t{2}}},
                    {2, 3, 3, 2}, 3);
  }
  SECTION("conv1d, 1x1 kernel") { check_gradients("conv1d", {{"out_channels", int64_t{2}}, {"kernel_size", int64_t{1}}}, {2, 3, 5}, 4); }
  SECTION("upsample nearest by 2.5") { check_gradients("upsample", {{"scale_factor", 2.5}}, {2, 2, 3, 2}, 5); }
  SECTION("upsample bilinear down by 0.6") {
    check_gradients("upsample", {{"scale_factor", 0.6}, {"mode", std::string("bilinear")}}, {1, 2, 5, 6}, 6);
  }
}

TEST_CASE("conv_transpose2d: bit-identical for 1 and 2 threads over several tiles", "[spatial][convt][determinism]") {
  const std::vector<Tensor> inputs{random_tensor({48, 8, 10, 10}, 3)};
  const Tensor g = random_tensor({48, 6, 21, 21}, 4);
  auto run = [&](size_t threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    auto op = make_op("conv_transpose2d", {{"out_channels", int64_t{6}}, {"kernel_size", int64_t{3}},
                                           {"stride", int64_t{2}}, {"output_padding", int64_t{0}}});
    prepare(*op, inputs);
    Tensor y, gx;
    const auto in = pointers(inputs);
    op->forward(in, y);
    std::vector<Tensor*> grads{&gx};
    size_gradients(in, grads);
    op->backward(in, y, g, grads);
    std::vector<Tensor> results{y, gx};
    for (Parameter& p : op->parameters()) results.push_back(p.grad);
    return results;
  };
  const auto one = run(1), two = run(2);
  REQUIRE(one.size() == two.size());
  for (size_t i = 0; i < one.size(); ++i) CHECK(bit_identical(one[i], two[i]));
}

TEST_CASE("conv1d and conv_transpose2d: torch's default init bounds, from their fan_in", "[spatial][init]") {
  // torch reads axis 1 of the weight as the input: conv1d [out, C/g, k] has fan_in C/g·k,
  // conv_transpose2d [C, out/g, kh, kw] has fan_in out/g·kh·kw. Both draw U(±1/√fan_in).
  auto check_bound = [](const std::string& op, const Overrides& attrs, const Shape& input, double fan_in) {
    INFO(op);
    auto made = make_op(op, attrs);
    prepare(*made, {Tensor(input)}, 9);
    const double bound = 1.0 / std::sqrt(fan_in);
    for (Parameter& p : made->parameters()) {
      INFO(p.name);
      double sum_sq = 0.0, max_abs = 0.0;
      for (float v : p.value.values()) {
        sum_sq += static_cast<double>(v) * v;
        max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
      }
      CHECK(max_abs <= bound);
      if (p.name == "weight")
        CHECK(std::sqrt(sum_sq / static_cast<double>(p.value.size())) == Approx(bound / std::sqrt(3.0)).epsilon(0.06));
    }
  };
  check_bound("conv1d", {{"out_channels", int64_t{64}}, {"kernel_size", int64_t{3}}, {"groups", int64_t{2}}}, {1, 32, 9},
              16.0 * 3.0);
  check_bound("conv_transpose2d", {{"out_channels", int64_t{8}}, {"kernel_size", int64_t{3}}, {"groups", int64_t{2}}},
              {1, 64, 4, 4}, 4.0 * 9.0);
}
