// The training schedule against PyTorch: every epoch's learning rate of every schedule kind
// (tests/reference/torch_lr_schedules.py), clipped gradients and clipped one-step updates
// (tests/reference/torch_clipping.py), and the early-stopping rule.
#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <cmath>
#include <numeric>

#include "gradflow/epoch_schedule.hpp"
#include "gradflow/gradient_clipping.hpp"
#include "gradflow/lr_schedule.hpp"
#include "gradflow/trainer.hpp"
#include "graph_fixtures.hpp"

using namespace gradflow;

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

struct TorchLrs {
  std::string schedule;
  size_t group;
  std::vector<double> per_epoch;
};

// Printed by tests/reference/torch_lr_schedules.py (torch 1.13), pasted verbatim.
const std::vector<TorchLrs> kTorchLrs{
    {"step", 0, {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.0125}},
    {"step", 1, {0.003, 0.003, 0.003, 0.0015, 0.0015, 0.0015, 0.00075, 0.00075, 0.00075, 0.000375, 0.000375, 0.000375}},
    {"multistep", 0, {0.1, 0.1, 0.03, 0.03, 0.03, 0.0026999999999999997, 0.0026999999999999997, 0.0026999999999999997, 0.0026999999999999997, 0.0008099999999999998, 0.0008099999999999998, 0.0008099999999999998}},
    {"multistep", 1, {0.003, 0.003, 0.0009, 0.0009, 0.0009, 8.099999999999999e-05, 8.099999999999999e-05, 8.099999999999999e-05, 8.099999999999999e-05, 2.4299999999999998e-05, 2.4299999999999998e-05, 2.4299999999999998e-05}},
    {"exponential", 0, {0.1, 0.09000000000000001, 0.08100000000000002, 0.07290000000000002, 0.06561000000000002, 0.05904900000000002, 0.05314410000000002, 0.04782969000000002, 0.043046721000000024, 0.03874204890000002, 0.03486784401000002, 0.03138105960900001}},
    {"exponential", 1, {0.003, 0.0027, 0.0024300000000000003, 0.002187, 0.0019683, 0.00177147, 0.0015943230000000001, 0.0014348907, 0.00129140163, 0.001162261467, 0.0010460353203000001, 0.0009414317882700001}},
    {"cosine", 0, {0.1, 0.0905463412215599, 0.06579634122155989, 0.035203658778440096, 0.010453658778440105, 0.001, 0.010453658778440102, 0.03520365877844012, 0.06579634122155993, 0.09054634122155995, 0.10000000000000005, 0.09054634122155998}},
    {"cosine", 1, {0.003, 0.0028090169943749475, 0.0023090169943749475, 0.0016909830056250526, 0.0011909830056250526, 0.001, 0.0011909830056250526, 0.0016909830056250528, 0.002309016994374948, 0.0028090169943749484, 0.003000000000000001, 0.002809016994374949}},
    {"cosine_rest", 0, {0.1, 0.09829629131445342, 0.09330127018922195, 0.08535533905932738, 0.07500000000000001, 0.06294095225512605, 0.05000000000000001, 0.03705904774487397, 0.025000000000000015, 0.01464466094067263, 0.006698729810778066, 0.0017037086855465904}},
    {"cosine_rest", 1, {0.003, 0.0029488887394336022, 0.002799038105676658, 0.002560660171779821, 0.00225, 0.001888228567653781, 0.0014999999999999998, 0.0011117714323462188, 0.0007500000000000002, 0.00043933982822017876, 0.0002009618943233419, 5.1111260566397695e-05}},
    {"cosine_warmup", 0, {0.010000000000000002, 0.04, 0.07, 0.1, 0.09699970788409895, 0.08836071104516915, 0.07512500000000001, 0.0588889968389298, 0.04161100316107022, 0.025375000000000012, 0.01213928895483085, 0.0035002921159010617}},
    {"cosine_warmup", 1, {0.00030000000000000003, 0.0012, 0.0021, 0.003, 0.0029246157759823858, 0.0027075555538987224, 0.0023750000000000004, 0.0019670602220836636, 0.0015329397779163373, 0.0011250000000000006, 0.0007924444461012778, 0.0005753842240176146}},
    {"step_warmup", 0, {0.025, 0.0625, 0.1, 0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002, 0.0010000000000000002}},
    {"step_warmup", 1, {0.00075, 0.001875, 0.003, 0.003, 0.003, 0.003, 0.00030000000000000003, 0.00030000000000000003, 0.00030000000000000003, 0.00030000000000000003, 3.0000000000000004e-05, 3.0000000000000004e-05}},
    {"plateau", 0, {0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.00625}},
    {"plateau", 1, {0.003, 0.003, 0.003, 0.003, 0.0015, 0.0015, 0.00075, 0.00075, 0.00075, 0.000375, 0.000375, 0.0001875}},
};

// The learning rate of group `group` in each of `epochs` epochs.
std::vector<double> run_schedule(LrSchedule schedule, size_t group, size_t epochs) {
  std::vector<double> lrs;
  for (size_t e = 0; e < epochs; ++e) {
    lrs.push_back(schedule.lrs()[group]);
    schedule.step(kPlateauLosses[e]);
  }
  return lrs;
}

// ((i * 7919) % 1000 - 500) / 1000, as tests/reference/torch_clipping.py builds it.
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
  struct Case {
    double max_norm;
    float total;
    std::vector<float> a, b;  // a after clipping; b[0], b[12345], b[39999]
  };
  // Printed by tests/reference/torch_clipping.py (torch 1.13).
  const std::vector<Case> cases{
      {1.0, 57.7457657f, {0.00173172879f, -0.00692691514f, 0.00432932191f, 0.0173172876f}, {-0.00865864381f, -0.00770619279f, -0.00725594349f}},
      {100.0, 57.7457657f, {0.100000001f, -0.400000006f, 0.25f, 1.f}, {-0.5f, -0.444999993f, -0.419f}},
  };
  for (const Case& c : cases) {
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
  CHECK(std::vector<float>(a.data(), a.data() + 4) == std::vector<float>{0.100000001f, -0.300000012f, 0.25f, 0.300000012f});
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
  struct Case {
    std::string train;  // the train: keys
    std::vector<float> weight, bias;
  };
  // Printed by tests/reference/torch_clipping.py (torch 1.13): nn.Linear(3, 2) from zeros, MSE, SGD lr 0.5.
  const std::vector<Case> cases{
      {"clip_grad_norm: 0.5",
       {0.0565847382f, 0.00870534312f, -0.00725445338f, 0.101562351f, 0.104464129f, -0.171205103f},
       {0.07254453f, 0.058035627f}},
      {"clip_grad_value: 0.4",
       {0.200000003f, 0.037499994f, -0.03125f, 0.200000003f, 0.200000003f, -0.200000003f},
       {0.200000003f, 0.200000003f}},
  };
  for (const Case& c : cases) {
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
