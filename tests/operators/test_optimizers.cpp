#include <catch2/catch.hpp>

#include <map>

#include "gradcheck.hpp"
#include "torch_loss_optimizer_reference.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

// The fixed parameter and gradients of tests/reference/torch_loss_optimizer_reference.py.
const std::vector<float> kParam{0.5f, -1.2f, 0.3f, 2.0f};
const std::vector<std::vector<float>> kGrads{
    {0.1f, -0.4f, 0.25f, 1.0f}, {-0.3f, 0.2f, 0.05f, 0.8f}, {0.6f, -0.1f, -0.2f, 0.5f}};

struct OptimizerCase {
  std::string label;
  std::string op;
  Overrides attrs;
  std::string reference;  // the case's name in kTorchOptimizerSteps: the parameter after steps 1, 2, 3
};

// The reference numbers are kTorchOptimizerSteps (tests/reference/torch_loss_optimizer_reference.py).
std::vector<OptimizerCase> optimizer_cases() {
  return {
      {"sgd", "sgd", {{"lr", 0.1}}, "sgd"},
      {"sgd momentum", "sgd", {{"lr", 0.1}, {"momentum", 0.9}}, "sgd_momentum"},
      {"sgd nesterov", "sgd", {{"lr", 0.1}, {"momentum", 0.9}, {"nesterov", true}}, "sgd_nesterov"},
      {"sgd momentum weight_decay", "sgd", {{"lr", 0.1}, {"momentum", 0.9}, {"weight_decay", 0.1}}, "sgd_momentum_wd"},
      {"sgd weight_decay", "sgd", {{"lr", 0.1}, {"weight_decay", 0.01}}, "sgd_wd"},
      {"adam", "adam", {{"lr", 0.1}}, "adam"},
      {"adam weight_decay", "adam", {{"lr", 0.1}, {"weight_decay", 0.1}}, "adam_wd"},
      {"adam betas eps", "adam", {{"lr", 0.05}, {"beta1", 0.5}, {"beta2", 0.9}, {"eps", 1e-3}}, "adam_betas"},
      {"adamw default decay", "adamw", {{"lr", 0.1}}, "adamw"},
      {"adamw weight_decay", "adamw", {{"lr", 0.1}, {"weight_decay", 0.1}}, "adamw_wd"},
  };
}

// Records what visit_state exposes, by name.
class Recorder final : public StateVisitor {
 public:
  void tensor(const std::string& name, Tensor& value) override { tensors[name] = value; }
  void counter(const std::string& name, int64_t& value) override { counters[name] = value; }
  std::map<std::string, Tensor> tensors;
  std::map<std::string, int64_t> counters;
};

}  // namespace

TEST_CASE("optimizers match torch.optim over 3 steps", "[optimizers][torch]") {
  for (const OptimizerCase& c : optimizer_cases()) {
    DYNAMIC_SECTION(c.label) {
      const std::vector<std::vector<float>>& after_step = kTorchOptimizerSteps.at(c.reference);
      auto opt = make_optimizer(c.op, c.attrs);
      Tensor value({4}, kParam);
      Tensor grad({4});
      const std::vector<ParamRef> params{{"fc.weight", &value, &grad}};
      opt->setup(params);
      for (size_t s = 0; s < kGrads.size(); ++s) {
        grad = Tensor({4}, kGrads[s]);
        opt->step();
        for (int64_t i = 0; i < 4; ++i) {
          INFO("step " << s + 1 << " element " << i);
          CHECK(value[i] == Approx(after_step[s][static_cast<size_t>(i)]).epsilon(1e-6).margin(1e-7));
        }
      }
    }
  }
}

TEST_CASE("optimizers: large parameters update like small ones", "[optimizers]") {
  // 100000 elements span several update chunks; every element gets the same gradient as the
  // first element of the small case, so all must equal its reference.
  auto opt = make_optimizer("adam", {{"lr", 0.1}});
  Tensor big({100000});
  big.fill(kParam[0]);
  Tensor grad({100000});
  Tensor small({1}, {kParam[0]});
  Tensor small_grad({1});
  auto small_opt = make_optimizer("adam", {{"lr", 0.1}});
  opt->setup(std::vector<ParamRef>{{"big", &big, &grad}});
  small_opt->setup(std::vector<ParamRef>{{"small", &small, &small_grad}});
  for (const auto& g : kGrads) {
    grad.fill(g[0]);
    small_grad.fill(g[0]);
    opt->step();
    small_opt->step();
  }
  for (int64_t i = 0; i < big.size(); i += 997) REQUIRE(big[i] == small[0]);
}

TEST_CASE("optimizers: state is visible under documented names", "[optimizers][state]") {
  Tensor a({2}), ga({2}), b({3}), gb({3});
  const std::vector<ParamRef> params{{"fc1.weight", &a, &ga}, {"fc1.bias", &b, &gb}};
  SECTION("sgd without momentum has no state") {
    auto opt = make_optimizer("sgd", {{"lr", 0.1}});
    opt->setup(params);
    Recorder r;
    opt->visit_state(r);
    CHECK(r.tensors.empty());
    CHECK(r.counters.empty());
  }
  SECTION("sgd with momentum: one buffer per parameter") {
    auto opt = make_optimizer("sgd", {{"lr", 0.1}, {"momentum", 0.9}});
    opt->setup(params);
    Recorder r;
    opt->visit_state(r);
    CHECK(r.tensors.count("fc1.weight.momentum_buffer") == 1);
    CHECK(r.tensors.at("fc1.bias.momentum_buffer").shape() == Shape{3});
  }
  SECTION("adam/adamw: moments and a per-parameter step") {
    for (const std::string name : {"adam", "adamw"}) {
      auto opt = make_optimizer(name);
      opt->setup(params);
      opt->step();
      opt->step();
      Recorder r;
      opt->visit_state(r);
      CHECK(r.tensors.size() == 4);
      CHECK(r.tensors.count("fc1.weight.exp_avg") == 1);
      CHECK(r.tensors.count("fc1.bias.exp_avg_sq") == 1);
      CHECK(r.counters.at("fc1.weight.step") == 2);
      CHECK(r.counters.at("fc1.bias.step") == 2);
    }
  }
}

TEST_CASE("optimizers: restored state continues the run exactly", "[optimizers][state]") {
  // Run 3 steps straight, versus 1 step, copy the state into a fresh optimizer, 2 more steps.
  class Copier final : public StateVisitor {
   public:
    explicit Copier(Recorder& from) : from_(from) {}
    void tensor(const std::string& name, Tensor& value) override { value = from_.tensors.at(name); }
    void counter(const std::string& name, int64_t& value) override { value = from_.counters.at(name); }

   private:
    Recorder& from_;
  };
  for (const std::string name : {"sgd", "adam"}) {
    const Overrides attrs{{"lr", 0.1}, {"momentum", 0.9}};
    auto make = [&] { return make_optimizer(name, name == "sgd" ? attrs : Overrides{{"lr", 0.1}}); };
    Tensor straight({4}, kParam), grad({4});
    auto opt = make();
    opt->setup(std::vector<ParamRef>{{"p", &straight, &grad}});
    for (const auto& g : kGrads) {
      grad = Tensor({4}, g);
      opt->step();
    }

    Tensor resumed({4}, kParam);
    auto first = make();
    first->setup(std::vector<ParamRef>{{"p", &resumed, &grad}});
    grad = Tensor({4}, kGrads[0]);
    first->step();
    Recorder saved;
    first->visit_state(saved);
    auto second = make();
    second->setup(std::vector<ParamRef>{{"p", &resumed, &grad}});
    Copier copier(saved);
    second->visit_state(copier);
    for (size_t s = 1; s < kGrads.size(); ++s) {
      grad = Tensor({4}, kGrads[s]);
      second->step();
    }
    for (int64_t i = 0; i < 4; ++i) CHECK(resumed[i] == straight[i]);
  }
}

TEST_CASE("optimizer schemas", "[optimizers]") {
  const OpSchema sgd = entry("sgd").schema;
  CHECK(sgd.kind == OpKind::Optimizer);
  CHECK(sgd.min_inputs == 1);
  CHECK(sgd.max_inputs == -1);
  CHECK(sgd.attributes.at(0).name == "lr");
  CHECK(sgd.attributes.at(0).required());
  CHECK(sgd.attributes.at(0).min_exclusive);
  for (const AttrSpec& spec : entry("adamw").schema.attributes)
    if (spec.name == "weight_decay") CHECK(std::get<double>(*spec.default_value) == 0.01);
  CHECK_THROWS_AS(make_optimizer("sgd", {{"lr", 0.1}, {"nesterov", true}}), std::invalid_argument);
  CHECK_THROWS_AS(make_optimizer("adam", {{"beta1", 1.0}}), std::invalid_argument);
}
