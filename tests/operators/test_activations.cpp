#include <catch2/catch.hpp>

#include <cmath>

#include "gradcheck.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

Tensor run_forward(Operator& op, const Tensor& x) {
  const std::vector<Tensor> inputs{x};
  prepare(op, inputs);
  Tensor y;
  op.forward(pointers(inputs), y);
  return y;
}

}  // namespace

TEST_CASE("activations: forward values", "[activations]") {
  const Tensor x({1, 4}, {-2.0f, -0.5f, 0.0f, 1.5f});
  auto values = [&](const std::string& name, const Overrides& o = {}) {
    auto op = make_op(name, o);
    return run_forward(*op, x);
  };
  const Tensor sig = values("sigmoid");
  const Tensor tanh = values("tanh");
  for (int i = 0; i < 4; ++i) {
    CHECK(sig[i] == Approx(1.0 / (1.0 + std::exp(-x[i]))));
    CHECK(tanh[i] == Approx(std::tanh(x[i])));
  }
  CHECK(values("relu").values()[0] == 0.0f);
  CHECK(values("relu").values()[3] == 1.5f);
  const Tensor leaky = values("leaky_relu");
  CHECK(leaky[0] == Approx(-0.02));  // default slope 0.01
  CHECK(values("leaky_relu", {{"negative_slope", 0.2}}).values()[1] == Approx(-0.1));
  const Tensor step = values("step");
  CHECK(std::vector<float>(step.values().begin(), step.values().end()) ==
        std::vector<float>{0, 0, 1, 1});  // 1 where x >= 0, including 0
}

TEST_CASE("activations: sigmoid saturates without overflow", "[activations]") {
  auto op = make_op("sigmoid");
  const Tensor y = run_forward(*op, Tensor({1, 2}, {-200.0f, 200.0f}));
  CHECK(y[0] == 0.0f);
  CHECK(y[1] == 1.0f);
}

TEST_CASE("activations: elementwise gradients match finite differences",
          "[activations][gradcheck]") {
  // Inputs stay 0.1 away from 0 so no difference straddles a relu kink.
  const std::vector<Tensor> inputs{random_tensor({3, 5}, 11, -2.0, 2.0, 0.1)};
  for (const std::string name : {"sigmoid", "tanh", "relu", "leaky_relu"}) {
    SECTION(name) {
      auto op = make_op(name);
      prepare(*op, inputs);
      gradcheck(*op, inputs, {true});
    }
  }
  SECTION("leaky_relu with slope 0.3") {
    auto op = make_op("leaky_relu", {{"negative_slope", 0.3}});
    prepare(*op, inputs);
    gradcheck(*op, inputs, {true});
  }
}

TEST_CASE("softmax: rows sum to 1, large logits stay finite, gradient checks",
          "[activations][gradcheck]") {
  auto op = make_op("softmax");
  const Tensor y = run_forward(*op, Tensor({2, 3}, {1000.0f, 1001.0f, 1002.0f, 0.0f, 0.0f, 0.0f}));
  // softmax(0, 1, 2) = e^k / (1 + e + e²)
  const double z = 1.0 + std::exp(1.0) + std::exp(2.0);
  CHECK(y[0] == Approx(1.0 / z));
  CHECK(y[2] == Approx(std::exp(2.0) / z));
  CHECK(y[3] == Approx(1.0 / 3.0));

  auto fresh = make_op("softmax");
  const std::vector<Tensor> inputs{random_tensor({4, 2, 5}, 12)};
  prepare(*fresh, inputs);
  gradcheck(*fresh, inputs, {true});
}

TEST_CASE("step: backward is exactly the identity", "[activations]") {
  auto op = make_op("step");
  const std::vector<Tensor> inputs{random_tensor({3, 4}, 13)};
  prepare(*op, inputs);
  const auto in = pointers(inputs);
  Tensor y;
  op->forward(in, y);
  const Tensor g = random_tensor({3, 4}, 14);
  Tensor gx;
  std::vector<Tensor*> grads{&gx};
  size_gradients(in, grads);  // as the model does before backward
  op->backward(in, y, g, grads);
  REQUIRE(gx.shape() == g.shape());
  for (int64_t i = 0; i < g.size(); ++i) CHECK(gx[i] == g[i]);
}
