// Mish, x·tanh(softplus(x)), twice: `test_mish` with the whole derivative and
// `test_mish_broken`, whose backward misses the term x·sech²(softplus(x))·sigmoid(x) (issue 28,
// item 10): what gradcheck must tell apart at its defaults (test_gradcheck_mish.cpp).
#include <cmath>

#include "gradflow/plugin.hpp"

namespace {

using namespace gradflow;

template <bool Broken>
class Mish final : public Operator {
 public:
  static OpSchema schema() {
    return {Broken ? "test_mish_broken" : "test_mish", OpKind::Layer,
            Broken ? "mish whose backward misses a term (tests)" : "mish, x*tanh(softplus(x)) (tests)", 1, 1, {}};
  }
  explicit Mish(const Attributes&) {}
  Shape infer_shape(std::span<const Shape> shapes) override { return shapes[0]; }
  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(x.shape());
    for (int64_t i = 0; i < x.size(); ++i) output[i] = x[i] * std::tanh(std::log1p(std::exp(x[i])));
  }
  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    if (!grad_inputs[0]) return;
    const Tensor& x = *inputs[0];
    for (int64_t i = 0; i < x.size(); ++i) {
      const float t = std::tanh(std::log1p(std::exp(x[i])));
      const float sigmoid = 1.0f / (1.0f + std::exp(-x[i]));
      const float missing = x[i] * (1.0f - t * t) * sigmoid;
      (*grad_inputs[0])[i] = grad_output[i] * (Broken ? t : t + missing);
    }
  }
};

}  // namespace

GRADFLOW_PLUGIN(registrar) {
  registrar.add<Mish<false>>();
  registrar.add<Mish<true>>();
}
