#include <catch2/catch.hpp>

#include <map>

#include "gradcheck.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

// The fixed parameter and gradients of tests/reference/torch_reference.py.
const std::vector<float> kParam{0.5f, -1.2f, 0.3f, 2.0f};
const std::vector<std::vector<float>> kGrads{
    {0.1f, -0.4f, 0.25f, 1.0f}, {-0.3f, 0.2f, 0.05f, 0.8f}, {0.6f, -0.1f, -0.2f, 0.5f}};

struct OptimizerCase {
  std::string label;
  std::string op;
  Overrides attrs;
  std::vector<std::vector<float>> after_step;  // parameter after steps 1, 2, 3
};

// Printed by tests/reference/torch_reference.py (torch 1.13), pasted verbatim.
std::vector<OptimizerCase> optimizer_cases() {
  return {
      {"sgd", "sgd", {{"lr", 0.1}},
       {{0.49000001f, -1.16000009f, 0.275000006f, 1.89999998f}, {0.520000041f, -1.18000007f, 0.270000011f, 1.81999993f}, {0.460000038f, -1.17000008f, 0.290000021f, 1.76999998f}}},
      {"sgd momentum", "sgd", {{"lr", 0.1}, {"momentum", 0.9}},
       {{0.49000001f, -1.16000009f, 0.275000006f, 1.89999998f}, {0.511000037f, -1.14400005f, 0.247500002f, 1.73000002f}, {0.469900042f, -1.11960006f, 0.242750004f, 1.52700007f}}},
      {"sgd nesterov", "sgd", {{"lr", 0.1}, {"momentum", 0.9}, {"nesterov", true}},
       {{0.481000006f, -1.12400007f, 0.252499998f, 1.80999994f}, {0.529900014f, -1.12960005f, 0.222749993f, 1.5769999f}, {0.432910025f, -1.09764004f, 0.238474995f, 1.34429991f}}},
      {"sgd momentum weight_decay", "sgd", {{"lr", 0.1}, {"momentum", 0.9}, {"weight_decay", 0.1}},
       {{0.484999985f, -1.148f, 0.272000015f, 1.88f}, {0.496649981f, -1.10971999f, 0.239080012f, 1.67320001f}, {0.442168474f, -1.05417085f, 0.227061212f, 1.42034805f}}},
      {"sgd weight_decay", "sgd", {{"lr", 0.1}, {"weight_decay", 0.01}},
       {{0.489499986f, -1.15880001f, 0.274700016f, 1.898f}, {0.519010484f, -1.17764115f, 0.269425303f, 1.81610203f}, {0.458491474f, -1.16646349f, 0.289155871f, 1.76428592f}}},
      {"adam", "adam", {{"lr", 0.1}},
       {{0.400000006f, -1.10000002f, 0.200000018f, 1.89999998f}, {0.449418992f, -1.07336628f, 0.119695917f, 1.8011874f}, {0.410703123f, -1.03932333f, 0.110325977f, 1.70679379f}}},
      {"adam weight_decay", "adam", {{"lr", 0.1}, {"weight_decay", 0.1}},
       {{0.400000036f, -1.10000002f, 0.200000018f, 1.89999998f}, {0.430992395f, -1.04667354f, 0.116940267f, 1.80095422f}, {0.383226991f, -0.985127747f, 0.0981134549f, 1.70520544f}}},
      {"adam betas eps", "adam", {{"lr", 0.05}, {"beta1", 0.5}, {"beta2", 0.9}, {"eps", 1e-3}},
       {{0.450495064f, -1.15012479f, 0.250199199f, 1.95005f}, {0.48684299f, -1.15012479f, 0.217213407f, 1.90197086f}, {0.453586757f, -1.13894451f, 0.234482914f, 1.85973668f}}},
      {"adamw default decay", "adamw", {{"lr", 0.1}},
       {{0.399500012f, -1.09880006f, 0.199700028f, 1.898f}, {0.448519498f, -1.07106757f, 0.119196236f, 1.79728949f}, {0.409355104f, -1.03595352f, 0.109707102f, 1.70109856f}}},
      {"adamw weight_decay", "adamw", {{"lr", 0.1}, {"weight_decay", 0.1}},
       {{0.395000011f, -1.08800006f, 0.197000027f, 1.88f}, {0.440468997f, -1.05048633f, 0.114725932f, 1.76238739f}, {0.397348434f, -1.00593853f, 0.104208738f, 1.65036988f}}},
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
          CHECK(value[i] == Approx(c.after_step[s][static_cast<size_t>(i)]).epsilon(1e-6).margin(1e-7));
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
