// Every activation on NaN and infinite inputs, forward and backward, against torch
// (tests/reference/torch_nonfinite_reference.py): relu(NaN) is NaN as torch's, gelu's gradient at
// ±inf is NaN as torch's, and so on, value by value (NaN where torch gives NaN, else equal).
#include <catch2/catch.hpp>

#include <cmath>

#include "gradcheck.hpp"
#include "torch_nonfinite_reference.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

struct Named {
  const char* reference;  // the key in kNonfiniteCases
  const char* op;
  Overrides attributes;
};

void check_values(const char* what, const Tensor& got, const std::vector<float>& torch) {
  REQUIRE(got.size() == static_cast<int64_t>(torch.size()));
  for (size_t i = 0; i < torch.size(); ++i) {
    INFO(what << " " << i << " (input " << kNonfiniteInputs[i] << "): gradflow " << got[static_cast<int64_t>(i)]
              << ", torch " << torch[i]);
    const float g = got[static_cast<int64_t>(i)];
    if (std::isnan(torch[i])) CHECK(std::isnan(g));
    else if (std::isinf(torch[i])) CHECK(g == torch[i]);
    else CHECK(g == Approx(torch[i]).margin(1e-6));
  }
}

}  // namespace

TEST_CASE("activations propagate NaN and infinity as torch does, forward and backward", "[activations][torch]") {
  const std::vector<Named> activations = {
      {"sigmoid", "sigmoid", {}},   {"tanh", "tanh", {}},
      {"relu", "relu", {}},         {"leaky_relu", "leaky_relu", {}},
      {"gelu", "gelu", {}},         {"gelu_tanh", "gelu", {{"approximate", std::string("tanh")}}},
      {"softmax", "softmax", {}},   {"step", "step", {}},
      // Issue 24's activations and unary math.
      {"log_softmax", "log_softmax", {}},
      {"clamp", "clamp", {{"min", -1.0}, {"max", 1.0}}}, {"relu6", "relu6", {}},
      {"hardsigmoid", "hardsigmoid", {}}, {"hardswish", "hardswish", {}}, {"silu", "silu", {}},
      {"mish", "mish", {}}, {"selu", "selu", {}}, {"elu", "elu", {}}, {"celu", "celu", {}},
      {"softplus", "softplus", {}}, {"exp", "exp", {}}, {"log", "log", {}}, {"sqrt", "sqrt", {}},
      {"abs", "abs", {}}, {"neg", "neg", {}}, {"reciprocal", "reciprocal", {}}, {"erf", "erf", {}},
      {"sin", "sin", {}}, {"cos", "cos", {}}, {"pow", "pow", {{"exponent", 3.0}}},
  };
  for (const Named& a : activations) {
    INFO(a.reference);
    const NonfiniteCase& torch = kNonfiniteCases.at(a.reference);
    auto op = make_op(a.op, a.attributes);
    const std::vector<Tensor> inputs{Tensor({3, 3}, kNonfiniteInputs)};
    prepare(*op, inputs);
    Tensor y;
    op->forward(pointers(inputs), y);
    check_values("output", y, torch.output);
    Tensor dx;
    std::vector<Tensor*> grads{&dx};
    size_gradients(pointers(inputs), grads);
    op->backward(pointers(inputs), y, Tensor({3, 3}, kNonfiniteWeights), grads);
    check_values("gradient", dx, torch.grad);
  }
}
