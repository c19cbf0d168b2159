// standardize (issue 28, item 2): mean and biased std fitted to the training set once before
// the first step, in any batches, per feature of the chosen axis; y = (x - mean) / max(std, eps);
// the buffers the checkpoint carries; its gradient against finite differences.
#include <catch2/catch.hpp>

#include <cmath>
#include <utility>

#include "gradcheck.hpp"
#include "gradflow/training_run.hpp"
#include "framework/graph_fixtures.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

// Fits `op` to `x` in batches of `batch` samples, as a training run does.
void fit(Operator& op, const Tensor& x, int64_t batch) {
  auto& fitter = dynamic_cast<DataFitter&>(op);
  fitter.begin_fit();
  const int64_t per_sample = x.size() / x.shape()[0];
  for (int64_t begin = 0; begin < x.shape()[0]; begin += batch) {
    const int64_t n = std::min(batch, x.shape()[0] - begin);
    Shape shape = x.shape();
    shape[0] = n;
    Tensor part(shape, std::vector<float>(x.data() + begin * per_sample, x.data() + (begin + n) * per_sample));
    fitter.fit_batch(part);
  }
  fitter.end_fit();
}

}  // namespace

TEST_CASE("standardize fits each feature's mean and biased std, whatever the batches", "[standardize]") {
  // Feature 0: 1, 2, 3, 4, 5 (mean 3, biased std sqrt(2)); feature 1: constant 7 (std 0: eps).
  const Tensor x({5, 2}, {1, 7, 2, 7, 3, 7, 4, 7, 5, 7});
  for (int64_t batch : {1, 2, 5}) {
    INFO("batch " << batch);
    auto op = make_op("standardize");
    prepare(*op, {x});
    fit(*op, x, batch);
    const std::span<Buffer> buffers = op->buffers();
    REQUIRE(buffers.size() == 2);
    CHECK(buffers[0].name == "mean");
    CHECK(buffers[1].name == "std");
    CHECK(buffers[0].value[0] == Approx(3.0f));
    CHECK(buffers[0].value[1] == 7.0f);
    CHECK(buffers[1].value[0] == Approx(std::sqrt(2.0f)));
    CHECK(buffers[1].value[1] == 0.0f);
    Tensor y;
    op->forward(pointers({x}), y);
    CHECK(y[0] == Approx(-2.0 / std::sqrt(2.0)));
    CHECK(y[8] == Approx(2.0 / std::sqrt(2.0)));
    CHECK(y[1] == 0.0f);  // (7 - 7) / max(0, 1e-8)
  }
}

TEST_CASE("standardize takes the channels of an image by default, and any axis when told", "[standardize]") {
  // [2 samples, 2 channels, 1, 2]: channel 0 holds 0, 2, 4, 6; channel 1 holds 10, 10, 30, 30.
  const Tensor image({2, 2, 1, 2}, {0, 2, 10, 10, 4, 6, 30, 30});
  auto op = make_op("standardize");
  prepare(*op, {image});
  fit(*op, image, 2);
  CHECK(op->buffers()[0].value.shape() == Shape{2});
  CHECK(op->buffers()[0].value[0] == Approx(3.0f));
  CHECK(op->buffers()[0].value[1] == Approx(20.0f));
  CHECK(op->buffers()[1].value[1] == Approx(10.0f));
  auto last = make_op("standardize", {{"axis", int64_t{-1}}});
  prepare(*last, {image});
  CHECK(last->buffers()[0].value.shape() == Shape{2});  // W
  auto wrong = make_op("standardize", {{"axis", int64_t{3}}});
  CHECK_THROWS_WITH(prepare(*wrong, {image}), "axis 3 is outside a sample of shape [2, 1, 2] (axes -3 to 2)");
}

TEST_CASE("standardize's gradient matches finite differences once fitted", "[standardize][gradcheck]") {
  const Tensor x = random_tensor({4, 3, 2}, 5);
  auto op = make_op("standardize", {{"axis", int64_t{0}}});
  prepare(*op, {x});
  fit(*op, x, 4);
  gradcheck(*op, {x}, {true});
}

TEST_CASE("a training run fits standardize to the training set before the first step, never to the test set",
          "[standardize][training]") {
  const std::string yaml = R"(graph: s
inputs:
  x: {shape: [2]}
  y: {shape: [1]}
nodes:
  - {name: scaled, op: standardize, inputs: [x]}
  - {name: fc, op: linear, inputs: [scaled], units: 1}
  - {name: loss, op: mse, inputs: [fc, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
data:
  train:
    x: [[100, -1], [300, -1], [500, -1], [700, -1]]
    y: [[0], [1], [0], [1]]
  test:
    x: [[0, 9]]
    y: [[0]]
train: {epochs: 0, batch_size: 3}
)";
  LoadedGraph g = load(yaml);
  TrainingRun run(*g.model, g.data, RunOptions(g.model->spec().train));
  TrainingObserver quiet;
  run.run(quiet);
  std::vector<float> mean, stddev;
  for (const Model::BufferRef& b : g.model->buffers()) {
    const std::span<const float> v = std::as_const(b.buffer->value).values();
    if (b.name == "scaled.mean") mean.assign(v.begin(), v.end());
    if (b.name == "scaled.std") stddev.assign(v.begin(), v.end());
  }
  CHECK(mean == std::vector<float>{400.0f, -1.0f});
  REQUIRE(stddev.size() == 2);
  CHECK(stddev[0] == Approx(std::sqrt(50000.0f)));  // biased: sklearn's StandardScaler
  CHECK(stddev[1] == 0.0f);
}
