// batch_norm and dropout: numbers against PyTorch (scripts/torch_normalization_reference.py),
// gradients against finite differences, the running statistics as buffers, and dropout's
// masks fixed by (seed, node, step, value position).
#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <cmath>

#include "framework/graph_fixtures.hpp"
#include "gradcheck.hpp"
#include "support/compare.hpp"

using namespace gradflow;
using namespace gradflow::test;
using Lines = std::vector<std::string>;

namespace {

struct TrainingCase {
  std::string name;
  std::vector<float> output, grad_x, grad_weight, grad_bias, running_mean, running_var;
};
struct EvalCase {
  std::string name;
  std::vector<float> output;
};

// Printed by scripts/torch_normalization_reference.py (torch 1.13), pasted verbatim.
const std::vector<TrainingCase> kTraining{
    {"batch_norm_2d", {-0.569180787f, 7.89489277e-05f, 0.32088989f, 0.261652678f, -0.207313731f, -0.7548666f, -1.1603328f, -1.21276248f, -0.758819818f, -0.186392561f, 0.379550278f, 0.692119896f, 0.584693432f, 0.166560128f, -0.380825788f, -0.779767275f, -0.716106832f, -0.379052818f, 0.196391791f, 0.75886929f, 1.04632628f, 0.964628458f, 0.540356278f, -0.00669569476f}, {0.475898564f, 0.113133028f, -0.383055121f, -0.322865397f, 0.191152275f, 0.350752592f, -0.0903794616f, -0.527389705f, -0.143305719f, 0.289426535f, 0.333889842f, -0.138915509f, -0.353105396f, -0.129418224f, 0.313570082f, 0.270216554f, -0.0699302703f, -0.362530857f, -0.0841820687f, 0.292436957f, 0.403483689f, -0.125812173f, -0.3377707f, 0.0347004943f}, {1.60514712f, -2.25911283f}, {-0.101471066f, -0.0278359056f}, {0.277648568f, 0.263836682f}, {1.12447858f, 1.46183467f}},
    {"batch_norm_1d", {-0.194397077f, 0.191040412f, 0.476678044f, 0.672862411f, 0.00986230653f, -1.08938515f, -0.68363899f, -1.31850135f, -1.26164925f, 0.205173641f, 0.717598498f, 1.07435644f}, {0.274765193f, -0.0958682895f, -0.347751349f, -0.24606812f, 0.111311704f, 0.588728547f, -0.252999961f, -0.013901908f, -0.456338853f, 0.224302843f, -0.00154151907f, 0.21536161f}, {-1.17373192f, 2.70140338f, -1.05942357f}, {0.975619495f, 0.6957407f, -0.603399813f}, {0.0454223752f, 0.0876869932f, 0.114578404f}, {1.08198512f, 1.13171518f, 1.20599771f}},
};
const std::vector<EvalCase> kEval{
    {"batch_norm_2d eval", {-0.130914539f, 0.523748994f, 0.892689884f, 0.824565589f, 0.400058597f, -0.388695449f, -0.972772539f, -1.04829788f, -0.349004388f, 0.309301883f, 0.960150898f, 1.31961405f, 1.54095089f, 0.938626707f, 0.150113165f, -0.424565077f, -0.299883336f, 0.0877375826f, 0.749513865f, 1.39637768f, 2.20593667f, 2.08825016f, 1.47708285f, 0.689050376f}},
    {"batch_norm_1d eval", {-0.0218336917f, 0.817031085f, 1.67247427f, 0.952228129f, 0.592516601f, -0.487879723f, -0.571325362f, -1.05358112f, -0.72551465f, 0.426943839f, 1.46953773f, 2.49696016f}},
};

Tensor formula(const Shape& shape, double (*f)(int64_t)) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(f(i));
  return t;
}
double input_at(int64_t i) { return std::sin(0.7 * static_cast<double>(i)) * 2.0 + 0.1 * static_cast<double>(i); }
double r_at(int64_t i) { return std::cos(1.3 * static_cast<double>(i)); }

RunContext context(bool training, int64_t step = 0, int64_t first_sample = 0) {
  RunContext c;
  c.training = training;
  c.step = step;
  c.seed = 11;
  c.first_sample = first_sample;
  c.node = "drop";
  return c;
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
  for (size_t k = 0; k < kTraining.size(); ++k) {
    const TrainingCase& t = kTraining[k];
    INFO(t.name);
    auto op = batch_norm(setups[k].first, setups[k].second);
    const Tensor x = formula(setups[k].first, input_at);
    const Tensor r = formula(setups[k].first, r_at);
    op->begin_pass(context(true));
    Tensor y, gx;
    op->forward(std::vector<const Tensor*>{&x}, y);
    check_close(y, t.output, kTorchTolerance);
    std::vector<Tensor*> grads{&gx};
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
    check_close(y, kEval[k].output, kTorchTolerance);
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
