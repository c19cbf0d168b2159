// softsign: y = x / (1 + |x|), elementwise; dy/dx = 1 / (1 + |x|)^2.
#include <cmath>
#include <string>

#include <gradflow/plugin.hpp>

namespace {

using namespace gradflow;

class Softsign final : public Operator {
 public:
  static OpSchema schema() {
    return {"softsign", OpKind::Layer, "x / (1 + |x|), elementwise", 1, 1, {}};
  }
  explicit Softsign(const Attributes&) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override { return input_shapes[0]; }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(x.shape());
    for (int64_t i = 0; i < x.size(); ++i) output[i] = x[i] / (1.0f + std::fabs(x[i]));
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;
    const Tensor& x = *inputs[0];
    gx->resize(x.shape());
    for (int64_t i = 0; i < x.size(); ++i) {
      const float d = 1.0f + std::fabs(x[i]);
      (*gx)[i] = grad_output[i] / (d * d);
    }
  }
};

}  // namespace

GRADFLOW_PLUGIN(registrar) { registrar.add<Softsign>(); }
