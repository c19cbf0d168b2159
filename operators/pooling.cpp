// max_pool2d, avg_pool2d (torch.nn.MaxPool2d / AvgPool2d) and global_avg_pool over [C, H, W]
// samples. Max and average pooling share their schema, their checks and their shapes here,
// and their window iteration in compute/pool.cpp.
#include <stdexcept>
#include <string>
#include <vector>

#include "compute/pool.hpp"
#include "families.hpp"
#include "image_util.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

enum class PoolKind { Max, Average };

class Pool2d : public Operator, public OnnxExportable {
 public:
  static OpSchema schema(PoolKind kind) {
    const bool max = kind == PoolKind::Max;
    AttrSpec stride = pair_attr("stride", AttrValue{std::vector<int64_t>{}}, 1.0, "step between windows");
    stride.default_text = "kernel_size";
    OpSchema s{max ? "max_pool2d" : "avg_pool2d",
               OpKind::Layer,
               max ? "largest value of each window of a [C, H, W] image (torch.nn.MaxPool2d)"
                   : "mean of each window of a [C, H, W] image (torch.nn.AvgPool2d)",
               1,
               1,
               {pair_attr("kernel_size", std::nullopt, 1.0, "window height and width"), stride,
                pair_attr("padding", AttrValue{int64_t{0}}, 0.0,
                          max ? "implicit -inf on each side, at most half the kernel"
                              : "implicit zeros on each side, at most half the kernel"),
                attr("ceil_mode", AttrType::Bool, AttrValue{false},
                     "round the output size up: a last, partial window where the input leaves one")}};
    if (!max)
      s.attributes.push_back(attr("count_include_pad", AttrType::Bool, AttrValue{true},
                                  "count the padding's zeros in each window's divisor"));
    return s;
  }

  Pool2d(PoolKind kind, const Attributes& attrs) : kind_(kind), name_(kind == PoolKind::Max ? "max_pool2d" : "avg_pool2d") {
    shape_.kernel = attrs.get_pair("kernel_size");
    shape_.stride = attrs.get_optional_pair("stride").value_or(shape_.kernel);
    shape_.padding = attrs.get_pair("padding");
    shape_.ceil_mode = attrs.get_bool("ceil_mode");
    shape_.count_include_pad = kind == PoolKind::Average && attrs.get_bool("count_include_pad");
    // torch refuses more padding: a window could then lie wholly in the padding.
    if (2 * shape_.padding[0] > shape_.kernel[0] || 2 * shape_.padding[1] > shape_.kernel[1])
      throw std::invalid_argument(name_ + ": padding " + pair_text(shape_.padding) +
                                  " must be at most half of kernel_size " + pair_text(shape_.kernel));
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = image_input(input_shapes, name_.c_str());
    const std::array<int64_t, 2> padded{in[1] + 2 * shape_.padding[0], in[2] + 2 * shape_.padding[1]};
    if (shape_.kernel[0] > padded[0] || shape_.kernel[1] > padded[1])
      throw ShapeError(name_ + ": kernel " + pair_text(shape_.kernel) + " is larger than the padded input " +
                       pair_text(padded) + " (input [H, W] " + pair_text({in[1], in[2]}) + ", padding " +
                       pair_text(shape_.padding) + ")");
    shape_.channels = in[0];
    shape_.height = in[1];
    shape_.width = in[2];
    const Shape sample{in[0], shape_.out_height(), shape_.out_width()};
    output_shape_.set_sample(sample);
    return sample;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    const int64_t batch = x.dim(0);
    output.resize(output_shape_.with_batch(batch));
    if (kind_ == PoolKind::Average) return kernels::avg_pool_forward(shape_, x.data(), batch, output.data());
    argmax_.resize(static_cast<size_t>(output.size()));  // grows only with the batch
    kernels::max_pool_forward(shape_, x.data(), batch, output.data(), argmax_.data());
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;
    const Tensor& x = *inputs[0];
    if (kind_ == PoolKind::Average)
      return kernels::avg_pool_backward(shape_, grad_output.data(), x.dim(0), gx->data());
    kernels::max_pool_backward(shape_, grad_output.data(), argmax_.data(), x.dim(0), gx->data());
  }

  double flops_per_sample() const override {
    return static_cast<double>(shape_.channels * shape_.out_height() * shape_.out_width() * shape_.kernel[0] *
                               shape_.kernel[1]);
  }

  // ONNX MaxPool pads with -inf and AveragePool with zeros, as torch does; pads list
  // [top, left, bottom, right].
  bool export_onnx(OnnxNodeWriter& w) const override {
    const auto& k = shape_.kernel;
    const auto& s = shape_.stride;
    const auto& p = shape_.padding;
    std::vector<OnnxAttribute> attributes{{"kernel_shape", std::vector<int64_t>{k[0], k[1]}},
                                          {"strides", std::vector<int64_t>{s[0], s[1]}},
                                          {"pads", std::vector<int64_t>{p[0], p[1], p[0], p[1]}},
                                          {"ceil_mode", int64_t{shape_.ceil_mode ? 1 : 0}}};
    if (kind_ == PoolKind::Average)
      attributes.push_back({"count_include_pad", int64_t{shape_.count_include_pad ? 1 : 0}});
    w.add_node(kind_ == PoolKind::Max ? "MaxPool" : "AveragePool", {w.inputs()[0]}, {w.output()}, attributes);
    return true;
  }

 private:
  PoolKind kind_;
  std::string name_;
  kernels::PoolShape shape_;
  BatchedShape output_shape_;
  std::vector<int32_t> argmax_;  // max only: each output's source within its plane
};

// The registrar builds an operator from its type alone; these fix the kind.
struct MaxPool2d final : Pool2d {
  static OpSchema schema() { return Pool2d::schema(PoolKind::Max); }
  explicit MaxPool2d(const Attributes& attrs) : Pool2d(PoolKind::Max, attrs) {}
};

struct AvgPool2d final : Pool2d {
  static OpSchema schema() { return Pool2d::schema(PoolKind::Average); }
  explicit AvgPool2d(const Attributes& attrs) : Pool2d(PoolKind::Average, attrs) {}
};

class GlobalAvgPool final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"global_avg_pool", OpKind::Layer, "mean over H and W of a [C, H, W] image, output [C]", 1, 1, {}};
  }
  explicit GlobalAvgPool(const Attributes& /*attrs*/) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = image_input(input_shapes, "global_avg_pool");
    channels_ = in[0];
    area_ = in[1] * in[2];
    batched_.set_sample({channels_});
    return {channels_};
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(batched_.with_batch(x.dim(0)));
    kernels::global_avg_pool_forward(x.data(), x.dim(0) * channels_, area_, output.data());
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;
    const Tensor& x = *inputs[0];
    kernels::global_avg_pool_backward(grad_output.data(), x.dim(0) * channels_, area_, gx->data());
  }

  double flops_per_sample() const override { return static_cast<double>(channels_ * area_); }

  // GlobalAveragePool keeps [N, C, 1, 1]; our output is [N, C].
  bool export_onnx(OnnxNodeWriter& w) const override {
    const std::string pooled = w.unique_name("pooled");
    w.add_node("GlobalAveragePool", {w.inputs()[0]}, {pooled});
    w.add_node("Flatten", {pooled}, {w.output()}, {{"axis", int64_t{1}}});
    return true;
  }

 private:
  int64_t channels_ = 0, area_ = 0;
  BatchedShape batched_;
};

}  // namespace

void register_pooling(Registrar& registrar) {
  registrar.add<MaxPool2d>();
  registrar.add<AvgPool2d>();
  registrar.add<GlobalAvgPool>();
}

}  // namespace gradflow::ops
