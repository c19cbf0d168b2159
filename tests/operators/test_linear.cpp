#include <catch2/catch.hpp>

#include <cmath>

#include <tbb/global_control.h>

#include "gradcheck.hpp"
#include "support/compare.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

struct Moments {
  double mean = 0, stddev = 0, max_abs = 0, min = 0, max = 0;
};

Moments moments(const Tensor& t) {
  Moments m;
  m.min = m.max = t[0];
  for (float v : t.values()) {
    m.mean += v;
    m.max_abs = std::max(m.max_abs, std::abs(static_cast<double>(v)));
    m.min = std::min(m.min, static_cast<double>(v));
    m.max = std::max(m.max, static_cast<double>(v));
  }
  m.mean /= static_cast<double>(t.size());
  for (float v : t.values()) m.stddev += (v - m.mean) * (v - m.mean);
  m.stddev = std::sqrt(m.stddev / static_cast<double>(t.size()));
  return m;
}

bool all_zero(const Tensor& t) {
  for (float v : t.values())
    if (v != 0.0f) return false;
  return true;
}

}  // namespace

TEST_CASE("linear: parameters use torch.nn.Linear's layout", "[linear]") {
  auto op = make_op("linear", {{"units", int64_t{4}}});
  CHECK(op->infer_shape(std::vector<Shape>{{3}}) == Shape{4});
  REQUIRE(op->parameters().size() == 2);
  CHECK(param(*op, "weight").value.shape() == Shape{4, 3});
  CHECK(param(*op, "bias").value.shape() == Shape{4});
  CHECK(op->flops_per_sample() == 2.0 * 3 * 4);

  auto no_bias = make_op("linear", {{"units", int64_t{4}}, {"bias", false}});
  CHECK(no_bias->infer_shape(std::vector<Shape>{{2, 3}}) == Shape{2, 4});
  REQUIRE(no_bias->parameters().size() == 1);
  CHECK(no_bias->parameters()[0].name == "weight");
}

TEST_CASE("linear: forward on fixed weights matches hand-computed values", "[linear]") {
  auto op = make_op("linear", {{"units", int64_t{2}}});
  const std::vector<Tensor> inputs{Tensor({2, 3}, {1, 2, 3, -1, 0.5f, 2})};
  prepare(*op, inputs);
  param(*op, "weight").value = Tensor({2, 3}, {0.1f, 0.2f, 0.3f, -0.5f, 0.4f, 0.0f});
  param(*op, "bias").value = Tensor({2}, {0.5f, -1.0f});
  Tensor y;
  op->forward(pointers(inputs), y);
  REQUIRE(y.shape() == Shape{2, 2});
  // y = x·Wᵀ + b: [1·0.1 + 2·0.2 + 3·0.3 + 0.5, 1·(−0.5) + 2·0.4 − 1] and likewise row 2.
  CHECK(y[0] == Approx(1.9));
  CHECK(y[1] == Approx(-0.7));
  CHECK(y[2] == Approx(1.1));
  CHECK(y[3] == Approx(-0.3));
}

TEST_CASE("linear: a sample of rank 3 is refused, naming the missing flatten", "[linear]") {
  auto op = make_op("linear", {{"units", int64_t{2}}});
  CHECK_THROWS_WITH(op->infer_shape(std::vector<Shape>{{8, 5, 5}}),
                    "linear applies over the last axis of a sample [in] or [T, in], got [8, 5, 5]; to feed it a "
                    "[C, H, W] image, put a flatten node before it");
}

TEST_CASE("linear: gradients match finite differences", "[linear][gradcheck]") {
  SECTION("with bias, matrix input") {
    auto op = make_op("linear", {{"units", int64_t{3}}});
    const std::vector<Tensor> inputs{random_tensor({4, 5}, 1)};
    prepare(*op, inputs);
    gradcheck(*op, inputs, {true});
  }
  SECTION("without bias, rank-3 input") {
    auto op = make_op("linear", {{"units", int64_t{2}}, {"bias", false}});
    const std::vector<Tensor> inputs{random_tensor({3, 2, 4}, 2)};
    prepare(*op, inputs);
    gradcheck(*op, inputs, {true});
  }
}

TEST_CASE("linear: init schemes draw from the right distributions", "[linear][init]") {
  constexpr int64_t n = 256;
  const double fan = n;
  auto init = [&](const std::string& scheme) {
    auto op = make_op("linear", {{"units", n}, {"init", scheme}});
    prepare(*op, {Tensor({1, n})}, 123);
    return std::pair{moments(param(*op, "weight").value), param(*op, "bias").value};
  };
  // A uniform draw on [−b, b] has std b/√3.
  auto check_uniform = [](const Moments& m, double bound) {
    CHECK(m.max_abs <= bound);
    CHECK(m.stddev == Approx(bound / std::sqrt(3.0)).epsilon(0.05));
  };

  SECTION("torch_default: weight and bias U(±1/sqrt(fan_in))") {
    auto [w, bias] = init("torch_default");
    check_uniform(w, 1.0 / std::sqrt(fan));
    CHECK(moments(bias).max_abs <= 1.0 / std::sqrt(fan));
    CHECK_FALSE(all_zero(bias));
  }
  SECTION("xavier_uniform") {
    auto [w, bias] = init("xavier_uniform");
    check_uniform(w, std::sqrt(6.0 / (fan + fan)));
    CHECK(all_zero(bias));
  }
  SECTION("he_uniform") {
    auto [w, bias] = init("he_uniform");
    check_uniform(w, std::sqrt(6.0 / fan));
    CHECK(all_zero(bias));
  }
  SECTION("xavier_normal") {
    auto [w, bias] = init("xavier_normal");
    CHECK(w.stddev == Approx(std::sqrt(2.0 / (fan + fan))).epsilon(0.05));
    CHECK(std::abs(w.mean) < 0.1 * w.stddev);
    CHECK(all_zero(bias));
  }
  SECTION("he_normal") {
    auto [w, bias] = init("he_normal");
    CHECK(w.stddev == Approx(std::sqrt(2.0 / fan)).epsilon(0.05));
    CHECK(all_zero(bias));
  }
  SECTION("normal: N(0, 1)") {
    auto [w, bias] = init("normal");
    CHECK(w.stddev == Approx(1.0).epsilon(0.05));
    CHECK(std::abs(w.mean) < 0.05);
    CHECK(all_zero(bias));
  }
  SECTION("uniform: U(0, 1)") {
    auto [w, bias] = init("uniform");
    CHECK(w.min >= 0.0);
    CHECK(w.max <= 1.0);
    CHECK(w.mean == Approx(0.5).epsilon(0.05));
    CHECK(w.stddev == Approx(1.0 / std::sqrt(12.0)).epsilon(0.05));
    CHECK(all_zero(bias));
  }
  SECTION("zeros") {
    auto [w, bias] = init("zeros");
    CHECK(w.max_abs == 0.0);
    CHECK(all_zero(bias));
  }
}

TEST_CASE("linear: forward and backward are bit-identical for 1 and 2 threads",
          "[linear][determinism]") {
  const std::vector<Tensor> inputs{random_tensor({300, 128}, 3)};
  const Tensor g = random_tensor({300, 200}, 4);
  check_layer_bit_identical("linear", {{"units", int64_t{200}}}, inputs, g);
}
