// batch_norm and dropout: numbers against PyTorch (tests/reference/torch_batch_norm_reference.py),
// gradients against finite differences, the running statistics as buffers, and dropout's
// masks fixed by (seed, node, step, value position).
#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <cmath>

#include "framework/graph_fixtures.hpp"
#include "gradcheck.hpp"
#include "support/compare.hpp"
#include "torch_batch_norm_reference.hpp"

using namespace gradflow;
using namespace gradflow::test;
using Lines = std::vector<std::string>;

namespace {

Tensor formula(const Shape& shape, double (*f)(int64_t)) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(f(i));
  return t;
}
double input_at(int64_t i) { return std::sin(0.7 * static_cast<double>(i)) * 2.0 + 0.1 * static_cast<double>(i); }
double r_at(int64_t i) { return std::cos(1.3 * static_cast<double>(i)); }

RunContext context(bool training, int64_t step = 0, int64_t first_sample = 0) {
  return pass_context("drop", training, step, first_sample);
}

// PyTorch's numbers agree within float round-off.
constexpr double kTorchTolerance = 2e-5;

// A batch_norm over `shape` (batch first) with torch's test weight and bias, as the script sets them.
std::unique_ptr<Operator> batch_norm(const Shape& shape, double momentum) {
  auto op = make_op("batch_norm", {{"momentum", momentum}});
  op->infer_shape(std::vector<Shape>{Shape(shape.begin() + 1, shape.end())});
  auto params = op->parameters();
  for (int64_t c = 0; c < params[0].value.size(); ++c) {
    params[0].value[c] = static_cast<float>(0.5 + 0.25 * static_cast<double>(c));
    params[1].value[c] = static_cast<float>(-0.1 * static_cast<double>(c));
  }
  return op;
}

}  // namespace

TEST_CASE("batch_norm 1d and 2d match torch in training (output, gradients, running statistics) and evaluation",
          "[normalization][torch]") {
  const std::vector<std::pair<Shape, double>> setups{{{3, 2, 2, 2}, 0.2}, {{4, 3}, 0.1}};
  for (size_t k = 0; k < kBatchNormTorchTraining.size(); ++k) {
    const BatchNormTorchTraining& t = kBatchNormTorchTraining[k];
    INFO(t.name);
    auto op = batch_norm(setups[k].first, setups[k].second);
    const Tensor x = formula(setups[k].first, input_at);
    const Tensor r = formula(setups[k].first, r_at);
    op->begin_pass(context(true));
    Tensor y, gx;
    op->forward(std::vector<const Tensor*>{&x}, y);
    check_close(y, t.output, kTorchTolerance);
    std::vector<Tensor*> grads{&gx};
    size_gradients(std::vector<const Tensor*>{&x}, grads);  // as the model does before backward
    op->backward(std::vector<const Tensor*>{&x}, y, r, grads);
    check_close(gx, t.grad_x, kTorchTolerance);
    check_close(op->parameters()[0].grad, t.grad_weight, kTorchTolerance);
    check_close(op->parameters()[1].grad, t.grad_bias, kTorchTolerance);
    const auto buffers = op->buffers();
    REQUIRE(buffers.size() == 3);
    CHECK(buffers[0].name == "running_mean");
    CHECK(buffers[1].name == "running_var");
    CHECK(buffers[2].name == "num_batches_tracked");
    CHECK(buffers[2].integer);
    check_close(buffers[0].value, t.running_mean, kTorchTolerance);
    check_close(buffers[1].value, t.running_var, kTorchTolerance);
    CHECK(buffers[2].value[0] == 1.0f);
    op->begin_pass(context(false));
    op->forward(std::vector<const Tensor*>{&x}, y);
    check_close(y, kBatchNormTorchEval[k].output, kTorchTolerance);
    CHECK(buffers[2].value[0] == 1.0f);  // evaluation leaves the statistics alone
  }
}

TEST_CASE("batch_norm: gradients match finite differences in training and in evaluation", "[normalization][gradcheck]") {
  for (const bool training : {true, false}) {
    INFO((training ? "training" : "evaluation"));
    auto op = make_op("batch_norm");
    const std::vector<Tensor> inputs{random_tensor({4, 3, 2, 2}, 5)};
    prepare(*op, inputs);
    op->begin_pass(context(training));
    gradcheck(*op, inputs, {true});
  }
  auto no_affine = make_op("batch_norm", {{"affine", false}});
  const std::vector<Tensor> inputs{random_tensor({5, 4}, 6)};
  prepare(*no_affine, inputs);
  CHECK(no_affine->parameters().empty());
  no_affine->begin_pass(context(true));
  gradcheck(*no_affine, inputs, {true});
}

TEST_CASE("batch_norm: training on one value per channel is refused, naming the node", "[normalization]") {
  auto op = make_op("batch_norm");
  const std::vector<Tensor> inputs{random_tensor({1, 3}, 1)};
  prepare(*op, inputs);
  RunContext c = context(true);
  c.node = "bn1";
  op->begin_pass(c);
  Tensor y;
  CHECK_THROWS_WITH(op->forward(pointers(inputs), y),
                    "batch_norm 'bn1': training needs more than one value per channel, got a batch of 1 sample of "
                    "shape [3]");
  CHECK_THROWS_WITH(make_op("batch_norm")->infer_shape(std::vector<Shape>{Shape{}}),
                    "batch_norm expects a sample [C] or [C, ...] (channels first), got []");
}

TEST_CASE("dropout: zeroes about p of the values in training, scales the rest by 1/(1-p), identity in evaluation",
          "[dropout]") {
  auto op = make_op("dropout", {{"p", 0.25}});
  const std::vector<Tensor> inputs{random_tensor({64, 100}, 3, 0.5, 1.5)};
  prepare(*op, inputs);
  Tensor y;
  op->begin_pass(context(true));
  op->forward(pointers(inputs), y);
  int64_t zeros = 0;
  for (int64_t i = 0; i < y.size(); ++i) {
    if (y[i] == 0.0f) ++zeros;
    else CHECK(y[i] == inputs[0][i] * (1.0f / 0.75f));
  }
  CHECK(static_cast<double>(zeros) / static_cast<double>(y.size()) == Approx(0.25).margin(0.02));
  // The backward applies the same mask.
  const Tensor g = random_tensor({64, 100}, 4);
  Tensor gx;
  std::vector<Tensor*> grads{&gx};
  size_gradients(pointers(inputs), grads);  // as the model does before backward
  op->backward(pointers(inputs), y, g, grads);
  for (int64_t i = 0; i < y.size(); ++i) CHECK(gx[i] == (y[i] == 0.0f ? 0.0f : g[i] * (1.0f / 0.75f)));
  op->begin_pass(context(false));
  op->forward(pointers(inputs), y);
  for (int64_t i = 0; i < y.size(); ++i) CHECK(y[i] == inputs[0][i]);
}

TEST_CASE("dropout: the mask follows (seed, node, step) and the sample, not the thread count or the shard",
          "[dropout]") {
  auto mask_of = [](int threads, int64_t step, int64_t first_sample, int64_t batch) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    auto op = make_op("dropout");
    Tensor x({batch, 50000});
    x.fill(1.0f);
    op->infer_shape(std::vector<Shape>{Shape{50000}});
    op->begin_pass(context(true, step, first_sample));
    Tensor y;
    op->forward(std::vector<const Tensor*>{&x}, y);
    return std::vector<float>(y.data(), y.data() + y.size());
  };
  const auto whole = mask_of(1, 3, 0, 4);
  CHECK(whole == mask_of(2, 3, 0, 4));
  CHECK(whole != mask_of(1, 4, 0, 4));  // another step, another mask
  // Samples 2 and 3 on a second rank (first_sample 2) get the masks they get in one process.
  const auto second_half = mask_of(2, 3, 2, 2);
  CHECK(std::vector<float>(whole.begin() + 100000, whole.end()) == second_half);
}

TEST_CASE("dropout p outside [0, 1) and a bad batch_norm momentum are graph errors naming the node",
          "[dropout][normalization]") {
  const std::string graph = R"(graph: g
inputs:
  x: {shape: [4]}
nodes:
  - {name: drop, op: dropout, inputs: [x], p: P}
  - {name: bn, op: batch_norm, inputs: [drop], momentum: M}
)";
  CHECK(errors_of(replace(replace(graph, "P", "1.0"), "M", "0.1")) ==
        Lines{"g.yaml:5:47: error: node 'drop': attribute 'p' of op 'dropout' must be >= 0 and < 1, got '1.0'"});
  CHECK(errors_of(replace(replace(graph, "P", "-0.5"), "M", "1.5")) ==
        Lines{"g.yaml:5:47: error: node 'drop': attribute 'p' of op 'dropout' must be >= 0 and < 1, got '-0.5'",
              "g.yaml:6:58: error: node 'bn': attribute 'momentum' of op 'batch_norm' must be >= 0 and <= 1, got "
              "'1.5'"});
  CHECK(errors_of(replace(replace(graph, "P", "0"), "M", "0.1")).empty());
}
