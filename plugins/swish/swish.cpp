// swish: y = x·sigmoid(x), elementwise (also called SiLU). A parameter-free operator plugin,
// written against the same interface as the built-in activations (operators/activations.cpp).
#include <cmath>
#include <string>

#include "gradflow/plugin.hpp"

namespace {

using namespace gradflow;

float sigmoid(float x) {
  // Split by sign so exp never overflows.
  if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}

class Swish final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"swish", OpKind::Layer, "x * sigmoid(x), elementwise (SiLU); example plugin", 1, 1, {}};
  }
  explicit Swish(const Attributes&) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    if (input_shapes.size() != 1)
      throw ShapeError("swish takes exactly one input, got " + std::to_string(input_shapes.size()));
    sample_size_ = numel(input_shapes[0]);
    return input_shapes[0];
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(x.shape());
    for (int64_t i = 0; i < x.size(); ++i) output[i] = x[i] * sigmoid(x[i]);
  }

  // d/dx x·s(x) = s + x·s·(1 - s)
  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;  // no gradient needed for this input
    const Tensor& x = *inputs[0];
    for (int64_t i = 0; i < x.size(); ++i) {
      const float s = sigmoid(x[i]);
      (*gx)[i] = grad_output[i] * (s + x[i] * s * (1.0f - s));
    }
  }

  double flops_per_sample() const override { return 4.0 * static_cast<double>(sample_size_); }

  // graph-runner export: x * Sigmoid(x) in two standard ONNX nodes (docs/onnx.md).
  bool export_onnx(OnnxNodeWriter& writer) const override {
    const std::string gate = writer.unique_name("sigmoid");
    writer.add_node("Sigmoid", {writer.inputs()[0]}, {gate});
    writer.add_node("Mul", {writer.inputs()[0], gate}, {writer.output()});
    return true;
  }

 private:
  int64_t sample_size_ = 0;
};

}  // namespace

GRADFLOW_PLUGIN(registrar) { registrar.add<Swish>(); }
