// layer_norm: numbers against PyTorch (tests/reference/torch_sequence_reference.py), gradients against
// finite differences, accurate statistics for rows far from zero, bit-identical results at 1
// and 2 threads, and its shape errors.
#include <catch2/catch.hpp>

#include "sequence_cases.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

std::unique_ptr<Operator> layer_norm(const Shape& sample, bool affine = true) {
  auto op = make_op("layer_norm", {{"elementwise_affine", affine}});
  op->infer_shape(std::vector<Shape>{sample});
  Rng rng(1);
  op->init_parameters(rng);
  return op;
}

}  // namespace

TEST_CASE("layer_norm matches torch: output, input, weight and bias gradients, one SGD step", "[layer_norm][torch]") {
  auto op = layer_norm({3, 5});
  auto params = op->parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].name == "weight");
  CHECK(params[1].name == "bias");
  for (int64_t k = 0; k < 5; ++k) {  // torch's initial values first
    CHECK(params[0].value[k] == 1.0f);
    CHECK(params[1].value[k] == 0.0f);
    params[0].value[k] = static_cast<float>(0.5 + 0.25 * static_cast<double>(k));
    params[1].value[k] = static_cast<float>(-0.1 * static_cast<double>(k));
  }
  check_one_step(*op, formula({2, 3, 5}, input_at), kLayerNorm);
}

TEST_CASE("layer_norm without elementwise_affine matches torch and has no parameters", "[layer_norm][torch]") {
  auto op = layer_norm({3, 5}, false);
  CHECK(op->parameters().empty());
  check_one_step(*op, formula({2, 3, 5}, input_at), kLayerNormPlain);
}

TEST_CASE("layer_norm gradients match finite differences", "[layer_norm][gradcheck]") {
  for (bool affine : {true, false}) {
    INFO("elementwise_affine " << affine);
    auto op = make_op("layer_norm", {{"elementwise_affine", affine}});
    const Tensor x = random_tensor({3, 4, 7}, 11);
    prepare(*op, {x});
    for (Parameter& p : op->parameters())  // away from 1 and 0, so that a swapped term shows
      for (int64_t k = 0; k < p.value.size(); ++k) p.value[k] += 0.3f * static_cast<float>(k % 3) - 0.2f;
    gradcheck(*op, {x}, {true});
  }
}

TEST_CASE("layer_norm: rows with a large mean keep their variance (centred second pass)", "[layer_norm]") {
  auto op = layer_norm({64}, false);
  Tensor x({2, 64});
  for (int64_t i = 0; i < 128; ++i) x[i] = 10000.0f + static_cast<float>(i % 64) * 0.01f - (i < 64 ? 0.0f : 5000.0f);
  Tensor y;
  op->forward(std::vector<const Tensor*>{&x}, y);
  for (int64_t r = 0; r < 2; ++r) {
    double mean = 0.0, var = 0.0;
    for (int64_t j = 0; j < 64; ++j) mean += x[r * 64 + j];
    mean /= 64.0;
    for (int64_t j = 0; j < 64; ++j) var += (x[r * 64 + j] - mean) * (x[r * 64 + j] - mean);
    var /= 64.0;
    for (int64_t j = 0; j < 64; ++j) {
      const double expected = (x[r * 64 + j] - mean) / std::sqrt(var + 1e-5);
      CHECK(y[r * 64 + j] == Approx(expected).margin(1e-5));
    }
  }
}

TEST_CASE("layer_norm is bit-identical at 1 and 2 threads (transformer size [32, 128, 128])", "[layer_norm][threads]") {
  auto op = make_op("layer_norm");
  const Tensor x = random_tensor({32, 128, 128}, 12);
  prepare(*op, {x});
  for (Parameter& p : op->parameters())
    for (int64_t k = 0; k < p.value.size(); ++k) p.value[k] = 1.0f + 0.01f * static_cast<float>(k % 7);
  CHECK(bit_identical(pass_at(1, *op, x), pass_at(2, *op, x)));
}

TEST_CASE("layer_norm: shape errors say what was expected", "[layer_norm][errors]") {
  auto op = make_op("layer_norm");
  CHECK_THROWS_WITH(op->infer_shape(std::vector<Shape>{Shape{}}),
                    "layer_norm normalises over the last axis: it expects a sample [..., D] with D >= 1, got []");
  CHECK_THROWS_WITH(op->infer_shape(std::vector<Shape>{Shape{4, 0}}),
                    "layer_norm normalises over the last axis: it expects a sample [..., D] with D >= 1, got [4, 0]");
  CHECK(op->infer_shape(std::vector<Shape>{Shape{6}}) == Shape{6});
  CHECK(op->parameters()[0].value.shape() == Shape{6});
}
