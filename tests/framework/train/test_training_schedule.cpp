// The training schedule against PyTorch: every epoch's learning rate of every schedule kind
// (torch_lr_schedule_reference.hpp), clipped gradients and clipped one-step updates
// (torch_clipping_reference.hpp), and the early-stopping rule. tests/reference/ generates both.
#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <cmath>
#include <numeric>

#include "framework/graph_fixtures.hpp"
#include "gradflow/epoch_schedule.hpp"
#include "gradflow/gradient_clipping.hpp"
#include "gradflow/lr_schedule.hpp"
#include "gradflow/trainer.hpp"
#include "torch_clipping_reference.hpp"
#include "torch_lr_schedule_reference.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

const std::vector<double> kBaseLrs{0.1, 0.003};
const std::vector<double> kPlateauLosses{1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.85, 0.85, 0.86, 0.87, 0.88, 0.80};

LrScheduleSpec schedule_case(const std::string& name) {
  LrScheduleSpec s;
  if (name == "step") s.kind = ScheduleKind::Step, s.step_size = 3, s.gamma = 0.5;
  if (name == "multistep") s.kind = ScheduleKind::MultiStep, s.milestones = {2, 5, 5, 9}, s.gamma = 0.3;
  if (name == "exponential") s.kind = ScheduleKind::Exponential, s.gamma = 0.9;
  if (name == "cosine") s.kind = ScheduleKind::Cosine, s.t_max = 5, s.eta_min = 0.001;
  if (name == "cosine_rest") s.kind = ScheduleKind::Cosine;
  if (name == "cosine_warmup") s.kind = ScheduleKind::Cosine, s.warmup_epochs = 3, s.eta_min = 0.0005;
  if (name == "step_warmup")
    s.kind = ScheduleKind::Step, s.warmup_epochs = 2, s.warmup_start_factor = 0.25, s.step_size = 4, s.gamma = 0.1;
  if (name == "plateau") s.kind = ScheduleKind::Plateau, s.factor = 0.5, s.patience = 1, s.threshold = 1e-4;
  return s;
}

// The learning rate of group `group` in each of `epochs` epochs.
std::vector<double> run_schedule(LrSchedule schedule, size_t group, size_t epochs) {
  std::vector<double> lrs;
  for (size_t e = 0; e < epochs; ++e) {
    lrs.push_back(schedule.lrs()[group]);
    schedule.step(kPlateauLosses[e]);
  }
  return lrs;
}

// ((i * 7919) % 1000 - 500) / 1000, as tests/reference/torch_clipping_reference.py builds it.
Tensor large_gradient(int64_t n) {
  Tensor t({n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<float>(static_cast<double>((i * 7919) % 1000 - 500) / 1000.0);
  return t;
}

Tensor small_gradient() {
  Tensor t({4});
  const float values[] = {0.1f, -0.4f, 0.25f, 1.0f};
  std::copy(values, values + 4, t.data());
  return t;
}

}  // namespace

TEST_CASE("every schedule kind gives torch's learning rate in every epoch, bit for bit", "[schedule][torch]") {
  for (const TorchLrs& expected : kTorchLrs) {
    INFO(expected.schedule << ", group " << expected.group);
    const LrSchedule schedule(schedule_case(expected.schedule), kBaseLrs, 12);
    CHECK(run_schedule(schedule, expected.group, 12) == expected.per_epoch);
  }
}

TEST_CASE("a schedule restored from its state continues exactly", "[schedule]") {
  for (const std::string name : {"cosine_warmup", "plateau", "multistep"}) {
    INFO(name);
    LrSchedule first(schedule_case(name), kBaseLrs, 12);
    for (size_t e = 0; e < 5; ++e) first.step(kPlateauLosses[e]);
    LrSchedule resumed(schedule_case(name), kBaseLrs, 12);
    resumed.restore(first.state());
    for (size_t e = 5; e < 12; ++e) {
      CHECK(resumed.lrs() == first.lrs());
      first.step(kPlateauLosses[e]);
      resumed.step(kPlateauLosses[e]);
    }
  }
}

TEST_CASE("early stopping: improvement by more than min_delta, stop after patience epochs without", "[schedule]") {
  EarlyStopping stopping({2, 0.05, {}});
  const std::vector<double> losses{1.0, 0.9, 0.87, 0.8, 0.79, 0.78, 0.5};
  std::vector<bool> best;
  for (size_t e = 0; e < losses.size() && !stopping.should_stop(); ++e)
    best.push_back(stopping.observe(static_cast<int64_t>(e + 1), losses[e]));
  // 0.87 is not 0.05 below 0.9; 0.8 is; 0.79 and 0.78 are not, and that is 2 epochs: stop.
  CHECK(best == std::vector<bool>{true, true, false, true, false, false});
  CHECK(stopping.should_stop());
  CHECK(stopping.best_epoch() == 4);
  CHECK(stopping.best_loss() == 0.8);
  EarlyStopping zero_patience({0, 0.0, {}});
  CHECK(zero_patience.observe(1, 1.0));
  CHECK_FALSE(zero_patience.should_stop());  // an improving epoch never stops
  CHECK_FALSE(zero_patience.observe(2, 1.0));
  CHECK(zero_patience.should_stop());
}

TEST_CASE("clip_grad_norm matches torch.nn.utils.clip_grad_norm_", "[clipping][torch]") {
  for (const TorchClipGradNorm& c : kTorchClipGradNorm) {
    INFO("max_norm " << c.max_norm);
    Tensor a = small_gradient(), b = large_gradient(40000);
    std::vector<Tensor*> grads{&a, &b};
    CHECK(clip_grad_norm(grads, c.max_norm) == Approx(c.total).epsilon(1e-6));
    for (size_t i = 0; i < 4; ++i) CHECK(a.data()[i] == Approx(c.a[i]).epsilon(1e-6));
    CHECK(b.data()[0] == Approx(c.b[0]).epsilon(1e-6));
    CHECK(b.data()[12345] == Approx(c.b[1]).epsilon(1e-6));
    CHECK(b.data()[39999] == Approx(c.b[2]).epsilon(1e-6));
  }
}

TEST_CASE("clip_grad_value matches torch.nn.utils.clip_grad_value_, NaN included", "[clipping][torch]") {
  Tensor a = small_gradient();
  std::vector<Tensor*> grads{&a};
  clip_grad_value(grads, 0.3);
  CHECK(std::vector<float>(a.data(), a.data() + 4) == kTorchClipGradValue);
  a.data()[0] = std::nanf("");
  clip_grad_value(grads, 0.3);
  CHECK(std::isnan(a.data()[0]));
}

TEST_CASE("clip_grad_norm is bit-identical at 1 and 2 threads", "[clipping]") {
  auto clipped = [](int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
    Tensor a = large_gradient(100003), b = small_gradient();
    std::vector<Tensor*> grads{&a, &b};
    const float total = clip_grad_norm(grads, 0.5);
    std::vector<float> values(a.data(), a.data() + a.size());
    values.push_back(total);
    return values;
  };
  CHECK(clipped(1) == clipped(2));
}

TEST_CASE("one training step with clipped gradients matches torch's", "[clipping][torch]") {
  for (const TorchClippedStep& c : kTorchClippedSteps) {
    INFO(c.train);
    const LoadedGraph g = test::load(R"(graph: clip
inputs:
  x: {shape: [3]}
  y: {shape: [2]}
nodes:
  - {name: fc, op: linear, inputs: [x], units: 2, init: zeros}
  - {name: loss, op: mse, inputs: [fc, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.5}
data:
  train:
    x: [[0.5, -1.0, 2.0], [1.5, 0.2, -0.3], [-0.7, 0.8, 0.1], [0.0, 1.0, -1.0]]
    y: [[1.0, -2.0], [0.5, 3.0], [-1.0, 0.0], [2.0, 1.0]]
train:
  )" + c.train + "\n");
    Model& model = *g.model;
    model.init_parameters(0);
    TrainOptions options = TrainOptions::batches(4, false);
    options.clip_grad_norm = model.spec().train.clip_grad_norm;
    options.clip_grad_value = model.spec().train.clip_grad_value;
    Trainer(model, options).train_epoch(g.data.train, 0);
    const auto params = model.parameters();
    const Tensor& weight = *params[0].value;
    const Tensor& bias = *params[1].value;
    for (size_t i = 0; i < 6; ++i) CHECK(weight.data()[i] == Approx(c.weight[i]).epsilon(1e-6));
    for (size_t i = 0; i < 2; ++i) CHECK(bias.data()[i] == Approx(c.bias[i]).epsilon(1e-6));
  }
}

TEST_CASE("evaluation batches: at least the training batch, at most 1024 samples or about 64 MiB of activations",
          "[trainer]") {
  CHECK(evaluation_batch(64, 10000, 5 * 1024) == 1024);            // an MLP: 1024 at a time
  CHECK(evaluation_batch(64, 500, 5 * 1024) == 500);               // never more than the data
  CHECK(evaluation_batch(64, 10000, 504 * 1024) == 130);           // a CNN: what 64 MiB holds
  CHECK(evaluation_batch(256, 10000, 4 * 1024 * 1024) == 256);     // never below the training batch
}
