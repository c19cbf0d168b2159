#include <catch2/catch.hpp>

#include <tbb/global_control.h>

#include "image_cases.hpp"
#include "torch_image_reference.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

using Pair = std::vector<int64_t>;

Shape shape_of(const std::string& op, const Overrides& attrs, const Shape& in) {
  return make_op(op, attrs)->infer_shape(std::vector<Shape>{in});
}

// Distinct values at least 0.05 apart, shuffled: a finite-difference step of 1e-2 never
// changes which element of a window is the largest.
Tensor distinct_values(const Shape& shape) {
  Tensor t(shape);
  const int64_t n = t.size();
  for (int64_t i = 0; i < n; ++i) t[i] = 0.05f * static_cast<float>((i * 7919) % n) - 0.025f * static_cast<float>(n);
  return t;
}

}  // namespace

TEST_CASE("pooling: output sizes follow torch, ceil_mode included", "[pooling]") {
  // stride defaults to kernel_size
  CHECK(shape_of("max_pool2d", {{"kernel_size", int64_t{2}}}, {3, 28, 28}) == Shape{3, 14, 14});
  CHECK(shape_of("avg_pool2d", {{"kernel_size", int64_t{2}}}, {3, 5, 7}) == Shape{3, 2, 3});
  CHECK(shape_of("avg_pool2d", {{"kernel_size", int64_t{2}}, {"ceil_mode", true}}, {3, 5, 7}) == Shape{3, 3, 4});
  // ceil_mode never starts a window in the right padding: (5+2-3+1)/2+1 = 3 but window 3 would
  // start at 2·2−1 = 3 < 5+1, kept; for 6: (6+2-3+1)/2+1 = 4, window 4 starts at 5 < 7, kept.
  const Overrides k3s2p1{{"kernel_size", int64_t{3}}, {"stride", int64_t{2}}, {"padding", int64_t{1}}, {"ceil_mode", true}};
  CHECK(shape_of("max_pool2d", k3s2p1, {1, 5, 6}) == Shape{1, 3, 4});
  // k2 s2 ceil on 5 with no padding: 3 windows, the last one holding a single column.
  CHECK(shape_of("max_pool2d", {{"kernel_size", int64_t{2}}, {"ceil_mode", true}}, {1, 4, 5}) == Shape{1, 2, 3});
  CHECK(shape_of("global_avg_pool", {}, {7, 3, 5}) == Shape{7});
}

TEST_CASE("pooling: forward and backward match PyTorch", "[pooling][torch]") {
  for (const TorchCase& c : kTorchPoolCases) check_against_torch(c);
}

TEST_CASE("pooling: gradients match finite differences", "[pooling][gradcheck]") {
  auto check = [](const std::string& op_name, const Overrides& attrs, const Tensor& input) {
    auto op = make_op(op_name, attrs);
    const std::vector<Tensor> inputs{input};
    prepare(*op, inputs);
    gradcheck(*op, inputs, {true});
  };
  SECTION("max, 2x2") { check("max_pool2d", {{"kernel_size", int64_t{2}}}, distinct_values({2, 2, 4, 6})); }
  SECTION("max, overlapping windows, padding, ceil_mode") {
    check("max_pool2d", {{"kernel_size", int64_t{3}}, {"stride", int64_t{2}}, {"padding", int64_t{1}}, {"ceil_mode", true}},
          distinct_values({2, 2, 6, 5}));
  }
  SECTION("max, rectangular") {
    check("max_pool2d", {{"kernel_size", Pair{3, 2}}, {"stride", Pair{1, 2}}, {"padding", Pair{1, 0}}},
          distinct_values({1, 2, 5, 5}));
  }
  SECTION("avg, count_include_pad, ceil_mode") {
    check("avg_pool2d", {{"kernel_size", int64_t{3}}, {"stride", int64_t{2}}, {"padding", int64_t{1}}, {"ceil_mode", true}},
          random_tensor({2, 2, 6, 5}, 1));
  }
  SECTION("avg, padding excluded from the divisor") {
    check("avg_pool2d",
          {{"kernel_size", int64_t{3}}, {"stride", int64_t{2}}, {"padding", int64_t{1}}, {"ceil_mode", true},
           {"count_include_pad", false}},
          random_tensor({2, 2, 6, 5}, 2));
  }
  SECTION("avg, rectangular") {
    check("avg_pool2d", {{"kernel_size", Pair{2, 3}}, {"stride", Pair{2, 1}}}, random_tensor({1, 2, 5, 6}, 3));
  }
  SECTION("global average") { check("global_avg_pool", {}, random_tensor({3, 4, 3, 5}, 4)); }
}

TEST_CASE("pooling: a NaN in a window wins the max, as in torch", "[pooling]") {
  auto op = make_op("max_pool2d", {{"kernel_size", int64_t{2}}});
  std::vector<Tensor> inputs{Tensor({1, 1, 2, 2}, {1.0f, std::nanf(""), 3.0f, 2.0f})};
  prepare(*op, inputs);
  Tensor y;
  op->forward(pointers(inputs), y);
  CHECK(std::isnan(y[0]));
}

TEST_CASE("pooling: padding over half the kernel is refused, as torch does", "[pooling]") {
  CHECK_THROWS_WITH(make_op("max_pool2d", {{"kernel_size", int64_t{3}}, {"padding", int64_t{2}}}),
                    "max_pool2d: padding [2, 2] must be at most half of kernel_size [3, 3]");
}

TEST_CASE("pooling: forward and backward are bit-identical for 1 and 2 threads", "[pooling][determinism]") {
  const std::vector<Tensor> inputs{random_tensor({32, 16, 20, 20}, 5)};
  for (const std::string name : {"max_pool2d", "avg_pool2d", "global_avg_pool"}) {
    INFO(name);
    const Overrides attrs = name == "global_avg_pool" ? Overrides{} : Overrides{{"kernel_size", int64_t{3}}, {"stride", int64_t{2}}, {"padding", int64_t{1}}};
    auto run = [&](size_t threads) {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
      auto op = make_op(name, attrs);
      prepare(*op, inputs);
      std::pair<Tensor, Tensor> r;
      op->forward(pointers(inputs), r.first);
      std::vector<Tensor*> grads{&r.second};
      size_gradients(pointers(inputs), grads);  // as the model does before backward
      op->backward(pointers(inputs), r.first, random_tensor(r.first.shape(), 6), grads);
      return r;
    };
    const auto one = run(1);
    const auto two = run(2);
    CHECK(bit_identical(one.first, two.first));
    CHECK(bit_identical(one.second, two.second));
  }
}

TEST_CASE("global_avg_pool: an input that is not an image [C, H, W] is refused", "[pooling]") {
  CHECK_THROWS_WITH(make_op("global_avg_pool")->infer_shape(std::vector<Shape>{{4, 5}}),
                    "global_avg_pool expects a sample image [C, H, W], got [4, 5]");
}
