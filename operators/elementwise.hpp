// The operator template of elementwise functions of one input (activations, unary math):
// parameterised by a functor that gives the value and the derivative, shared by every family
// file that defines such functions. Each file instantiates it with functors of its own
// (anonymous namespace), so every loop is compiled in that file, per instruction set.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "gradflow/kernels.hpp"
#include "gradflow/operator.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

// The ONNX operator of the same meaning applied to the node's input.
inline bool export_unary(OnnxNodeWriter& w, const char* op_type, const std::vector<OnnxAttribute>& attributes = {}) {
  w.add_node(op_type, {w.inputs()[0]}, {w.output()}, attributes);
  return true;
}

inline OpSchema activation_schema(std::string name, std::string summary,
                           std::vector<AttrSpec> attributes = {}) {
  return {std::move(name), OpKind::Layer, std::move(summary), 1, 1, std::move(attributes)};
}

// The elementwise loops, compiled per instruction set (GRADFLOW_CPU_DISPATCH_TEMPLATE, kernels.hpp);
// distinct (__restrict) buffers let them vectorise.
template <class Fn>
GRADFLOW_CPU_DISPATCH_TEMPLATE void apply_values(const Fn& fn, const float* __restrict x, float* __restrict y,
                                                 int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] = fn.value(x[i]);
}

template <class Fn>
GRADFLOW_CPU_DISPATCH_TEMPLATE void apply_derivatives(const Fn& fn, const float* __restrict x,
                                                      const float* __restrict y, const float* __restrict dy,
                                                      float* __restrict dx, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) dx[i] = dy[i] * fn.derivative(x[i], y[i]);
}

// Fn provides: static OpSchema schema(); Fn(const Attributes&); float value(float x) const;
// float derivative(float x, float y) const, where y = value(x) (sigmoid and tanh are
// cheapest from y, relu from x); bool export_onnx(OnnxNodeWriter&) const, its ONNX nodes;
// optionally static constexpr bool kDecisions = true when every value is 0 or 1. A function
// with forms chosen by an attribute (gelu) instead provides visit(body), which calls body with
// the chosen form's functor: the choice is made once per call, and each form's loop is
// branch-free, so it vectorises.
template <class Fn>
class Elementwise final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    OpSchema schema = Fn::schema();
    if constexpr (requires { Fn::kDecisions; }) schema.outputs_decisions = Fn::kDecisions;
    return schema;
  }
  explicit Elementwise(const Attributes& attrs) : fn_(attrs) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& shape = single_input(input_shapes, Fn::kName);
    sample_size_ = numel(shape);
    return shape;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(x.shape());
    const float* in = x.data();
    float* out = output.data();
    with_form([&](const auto& form) {
      kernels::for_tiles(x.size(), kernels::kElementwiseGrain,
                         [&](int64_t begin, int64_t end) { apply_values(form, in, out, begin, end); });
    });
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& output,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;
    const Tensor& x = *inputs[0];
    const float* in = x.data();
    const float* out = output.data();
    const float* g = grad_output.data();
    float* dx = gx->data();
    with_form([&](const auto& form) {
      kernels::for_tiles(x.size(), kernels::kElementwiseGrain,
                         [&](int64_t begin, int64_t end) { apply_derivatives(form, in, out, g, dx, begin, end); });
    });
  }

  double flops_per_sample() const override { return static_cast<double>(sample_size_); }

  bool export_onnx(OnnxNodeWriter& writer) const override { return fn_.export_onnx(writer); }

 private:
  template <class Body>
  void with_form(const Body& body) const {
    if constexpr (requires { fn_.visit(body); }) fn_.visit(body);
    else body(fn_);
  }

  Fn fn_;
  int64_t sample_size_ = 0;
};

}  // namespace gradflow::ops
