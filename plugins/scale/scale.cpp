// scale: y = x · weight over the last axis, one learnable factor per feature (a diagonal
// linear layer). An operator plugin with a trainable parameter: the optimizer updates it like
// a built-in's, and checkpoints store it as "<node>.weight".
#include <string>
#include <vector>

#include "gradflow/plugin.hpp"

namespace {

using namespace gradflow;

class Scale final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    AttrSpec init;
    init.name = "init";
    init.type = AttrType::Float;
    init.default_value = AttrValue{1.0};
    init.help = "initial value of every factor";
    return {"scale", OpKind::Layer,
            "y = x * weight over the last axis, weight [features] learnable; example plugin", 1, 1,
            {init}};
  }
  explicit Scale(const Attributes& attrs) : init_(static_cast<float>(attrs.get_float("init"))) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    if (input_shapes.size() != 1)
      throw ShapeError("scale takes exactly one input, got " + std::to_string(input_shapes.size()));
    const Shape& in = input_shapes[0];
    if (in.empty())
      throw ShapeError("scale expects an input of shape [..., features], got a scalar");
    features_ = in.back();
    params_.clear();
    params_.push_back({"weight", Tensor({features_}), Tensor({features_})});
    return in;
  }

  std::span<Parameter> parameters() override { return params_; }

  void init_parameters(Rng& /*rng*/) override { params_[0].value.fill(init_); }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    const Tensor& w = params_[0].value;
    output.resize(x.shape());
    for (int64_t i = 0; i < x.size(); ++i) output[i] = x[i] * w[i % features_];
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    const Tensor& x = *inputs[0];
    const Tensor& w = params_[0].value;
    Tensor& gw = params_[0].grad;
    if (Tensor* gx = grad_inputs[0]) {
      for (int64_t i = 0; i < x.size(); ++i) (*gx)[i] = grad_output[i] * w[i % features_];
    }
    gw.zero();  // assigned, not accumulated: sum over rows in a fixed order
    for (int64_t i = 0; i < x.size(); ++i) gw[i % features_] += grad_output[i] * x[i];
  }

  double flops_per_sample() const override { return static_cast<double>(features_); }

  // graph-runner export: Mul broadcasts the [features] weight over the leading axes, and the
  // weight becomes an initializer named as in checkpoints ("<node>.weight").
  bool export_onnx(OnnxNodeWriter& writer) const override {
    writer.add_node("Mul", {writer.inputs()[0], writer.parameter(params_[0])}, {writer.output()});
    return true;
  }

 private:
  float init_;
  int64_t features_ = 0;
  std::vector<Parameter> params_;
};

}  // namespace

GRADFLOW_PLUGIN(registrar) { registrar.add<Scale>(); }
