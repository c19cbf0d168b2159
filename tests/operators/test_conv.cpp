#include <catch2/catch.hpp>

#include <tbb/global_control.h>

#include <cmath>

#include "image_cases.hpp"
#include "torch_image_reference.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

using Pair = std::vector<int64_t>;

}  // namespace

TEST_CASE("conv2d: parameters use torch.nn.Conv2d's layout", "[conv]") {
  auto op = make_op("conv2d", {{"out_channels", int64_t{6}}, {"kernel_size", Pair{3, 2}}, {"groups", int64_t{2}}});
  CHECK(op->infer_shape(std::vector<Shape>{{4, 8, 9}}) == Shape{6, 6, 8});
  REQUIRE(op->parameters().size() == 2);
  CHECK(param(*op, "weight").value.shape() == Shape{6, 2, 3, 2});
  CHECK(param(*op, "bias").value.shape() == Shape{6});
  CHECK(op->flops_per_sample() == 2.0 * 6 * (2 * 3 * 2) * (6 * 8));

  auto no_bias = make_op("conv2d", {{"out_channels", int64_t{2}}, {"kernel_size", int64_t{3}}, {"bias", false}});
  CHECK(no_bias->infer_shape(std::vector<Shape>{{1, 5, 5}}) == Shape{2, 3, 3});
  REQUIRE(no_bias->parameters().size() == 1);
}

TEST_CASE("conv2d: output size follows stride, padding and dilation as torch computes it", "[conv]") {
  auto shape_of = [](const Overrides& attrs, const Shape& in) { return make_op("conv2d", attrs)->infer_shape(std::vector<Shape>{in}); };
  const Overrides base{{"out_channels", int64_t{1}}, {"kernel_size", int64_t{3}}};
  Overrides strided = base;
  strided.push_back({"stride", Pair{2, 3}});
  strided.push_back({"padding", Pair{1, 0}});
  CHECK(shape_of(strided, {1, 28, 28}) == Shape{1, 14, 9});  // (28+2-3)/2+1, (28-3)/3+1
  Overrides dilated = base;
  dilated.push_back({"dilation", int64_t{2}});
  CHECK(shape_of(dilated, {1, 7, 5}) == Shape{1, 3, 1});  // a 5x5 span
}

TEST_CASE("conv2d: forward and backward match PyTorch", "[conv][torch]") {
  for (const TorchCase& c : kTorchConvCases) check_against_torch(c);
}

TEST_CASE("conv2d: gradients match finite differences", "[conv][gradcheck]") {
  auto check = [](const Overrides& attrs, const Shape& input, uint64_t seed) {
    auto op = make_op("conv2d", attrs);
    const std::vector<Tensor> inputs{random_tensor(input, seed)};
    prepare(*op, inputs);
    gradcheck(*op, inputs, {true});
  };
  SECTION("plain 3x3") { check({{"out_channels", int64_t{2}}, {"kernel_size", int64_t{3}}}, {2, 2, 5, 5}, 1); }
  SECTION("stride, padding, dilation") {
    check({{"out_channels", int64_t{3}},
           {"kernel_size", Pair{3, 2}},
           {"stride", Pair{2, 1}},
           {"padding", Pair{1, 2}},
           {"dilation", Pair{1, 2}}},
          {2, 2, 6, 5}, 2);
  }
  SECTION("groups") {
    check({{"out_channels", int64_t{4}}, {"kernel_size", int64_t{2}}, {"groups", int64_t{2}}}, {2, 4, 4, 4}, 3);
  }
  SECTION("depthwise, no bias") {
    check({{"out_channels", int64_t{3}}, {"kernel_size", int64_t{3}}, {"groups", int64_t{3}}, {"padding", int64_t{1}},
           {"bias", false}},
          {2, 3, 4, 4}, 4);
  }
  SECTION("1x1 kernel (no im2col)") { check({{"out_channels", int64_t{3}}, {"kernel_size", int64_t{1}}}, {3, 2, 3, 4}, 5); }
  SECTION("1x1 kernel with stride") {
    check({{"out_channels", int64_t{2}}, {"kernel_size", int64_t{1}}, {"stride", int64_t{2}}}, {2, 2, 5, 5}, 6);
  }
}

TEST_CASE("conv2d: init draws from torch's default bounds", "[conv][init]") {
  // fan_in = C/groups·kh·kw = 32/2·3·3 = 144: weight and bias from U(±1/12).
  auto op = make_op("conv2d", {{"out_channels", int64_t{64}}, {"kernel_size", int64_t{3}}, {"groups", int64_t{2}}});
  prepare(*op, {Tensor({1, 32, 5, 5})}, 9);
  const double bound = 1.0 / 12.0;
  double sum_sq = 0.0, max_abs = 0.0;
  const Tensor& w = param(*op, "weight").value;
  for (float v : w.values()) {
    sum_sq += static_cast<double>(v) * v;
    max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
  }
  CHECK(max_abs <= bound);
  CHECK(std::sqrt(sum_sq / static_cast<double>(w.size())) == Approx(bound / std::sqrt(3.0)).epsilon(0.05));
  bool bias_nonzero = false;
  for (float v : param(*op, "bias").value.values()) {
    CHECK(std::abs(v) <= bound);
    bias_nonzero = bias_nonzero || v != 0.0f;
  }
  CHECK(bias_nonzero);

  auto zeros = make_op("conv2d", {{"out_channels", int64_t{2}}, {"kernel_size", int64_t{3}}, {"init", std::string("zeros")}});
  prepare(*zeros, {Tensor({1, 1, 5, 5})}, 9);
  for (Parameter& p : zeros->parameters())
    for (float v : p.value.values()) CHECK(v == 0.0f);
}

TEST_CASE("conv2d: a larger batch after a smaller one, and back, gives the same samples", "[conv]") {
  auto op = make_op("conv2d", {{"out_channels", int64_t{4}}, {"kernel_size", int64_t{3}}, {"padding", int64_t{1}}});
  const std::vector<Tensor> big{random_tensor({5, 2, 6, 6}, 11)};
  std::vector<Tensor> small{Tensor({2, 2, 6, 6})};
  std::copy(big[0].data(), big[0].data() + small[0].size(), small[0].data());
  prepare(*op, small);
  Tensor y_small, y_big, y_again;
  op->forward(pointers(small), y_small);
  op->forward(pointers(big), y_big);
  op->forward(pointers(small), y_again);
  CHECK(bit_identical(y_small, y_again));
  for (int64_t i = 0; i < y_small.size(); ++i) CHECK(y_small[i] == y_big[i]);
}

TEST_CASE("conv2d: forward and backward are bit-identical for 1 and 2 threads", "[conv][determinism]") {
  // 64 samples of 16x14x14 into 32 channels: several sample tiles, so the weight gradient is
  // reduced from per-tile partial sums.
  const std::vector<Tensor> inputs{random_tensor({64, 16, 14, 14}, 3)};
  const Tensor g = random_tensor({64, 32, 14, 14}, 4);
  check_layer_bit_identical("conv2d", {{"out_channels", int64_t{32}}, {"kernel_size", int64_t{3}}, {"padding", int64_t{1}}},
                            inputs, g);
  // Depthwise, stride 2 (compute/depthwise.cpp, tap by tap): the same sample tiles and partials.
  check_layer_bit_identical("conv2d",
                            {{"out_channels", int64_t{16}}, {"kernel_size", int64_t{3}}, {"stride", int64_t{2}},
                             {"padding", int64_t{1}}, {"groups", int64_t{16}}},
                            inputs, random_tensor({64, 16, 7, 7}, 5));
}
