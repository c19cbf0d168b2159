// max_pool2d, avg_pool2d (torch.nn.MaxPool2d / AvgPool2d), adaptive_avg_pool2d and
// global_avg_pool over [C, H, W] samples, and max_pool1d, avg_pool1d over [C, L] (the 2-D forms
// with height 1). Max and average pooling share their schema, their checks and their shapes
// here, and their window iteration in compute/pool.cpp.
#include <stdexcept>
#include <string>
#include <vector>

#include "compute/pool.hpp"
#include "families.hpp"
#include "image_util.hpp"
#include "schema_util.hpp"
#include "spatial_util.hpp"

namespace gradflow::ops {

namespace {

enum class PoolKind { Max, Average };

class Pool : public Operator, public OnnxExportable {
 public:
  static OpSchema schema(PoolKind kind, Spatial spatial) {
    const bool max = kind == PoolKind::Max, image = spatial == Spatial::Image;
    AttrSpec stride = window_attr(spatial, "stride", AttrValue{std::vector<int64_t>{}}, 1.0, "step between windows");
    stride.default_text = "kernel_size";
    const std::string sample = image ? "a [C, H, W] image" : "a [C, L] sequence";
    const std::string torch_name = std::string(max ? "torch.nn.MaxPool" : "torch.nn.AvgPool") + (image ? "2d" : "1d");
    OpSchema s{spatial_name(max ? "max_pool" : "avg_pool", spatial),
               OpKind::Layer,
               (max ? "largest value of each window of " : "mean of each window of ") + sample + " (" + torch_name + ")",
               1,
               1,
               {window_attr(spatial, "kernel_size", std::nullopt, 1.0, image ? "window height and width" : "window length"),
                stride,
                window_attr(spatial, "padding", AttrValue{int64_t{0}}, 0.0,
                            max ? "implicit -inf on each side, at most half the kernel"
                                : "implicit zeros on each side, at most half the kernel"),
                attr("ceil_mode", AttrType::Bool, AttrValue{false},
                     "round the output size up: a last, partial window where the input leaves one")}};
    if (!max)
      s.attributes.push_back(attr("count_include_pad", AttrType::Bool, AttrValue{true},
                                  "count the padding's zeros in each window's divisor"));
    return s;
  }

  Pool(PoolKind kind, Spatial spatial, const Attributes& attrs)
      : kind_(kind), spatial_(spatial), name_(spatial_name(kind == PoolKind::Max ? "max_pool" : "avg_pool", spatial)) {
    shape_.kernel = window_value(attrs, "kernel_size", spatial, 1);
    const auto stride = attrs.get_optional_pair("stride");
    shape_.stride = stride ? window_value(attrs, "stride", spatial, 1) : shape_.kernel;
    shape_.padding = window_value(attrs, "padding", spatial, 0);
    shape_.ceil_mode = attrs.get_bool("ceil_mode");
    shape_.count_include_pad = kind == PoolKind::Average && attrs.get_bool("count_include_pad");
    // torch refuses more padding: a window could then lie wholly in the padding.
    if (2 * shape_.padding[0] > shape_.kernel[0] || 2 * shape_.padding[1] > shape_.kernel[1])
      throw std::invalid_argument(name_ + ": padding " + window_text(shape_.padding, spatial) +
                                  " must be at most half of kernel_size " + window_text(shape_.kernel, spatial));
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const auto [channels, height, width] = spatial_input(input_shapes, name_, spatial_);
    const std::array<int64_t, 2> size{height, width};
    const std::array<int64_t, 2> padded{height + 2 * shape_.padding[0], width + 2 * shape_.padding[1]};
    if (shape_.kernel[0] > padded[0] || shape_.kernel[1] > padded[1])
      throw ShapeError(name_ + ": kernel " + window_text(shape_.kernel, spatial_) + " is larger than the padded input " +
                       window_text(padded, spatial_) + " (input " + axes_name(spatial_) + " " +
                       window_text(size, spatial_) + ", padding " + window_text(shape_.padding, spatial_) + ")");
    shape_.channels = channels;
    shape_.height = height;
    shape_.width = width;
    const Shape sample = spatial_shape(channels, shape_.out_height(), shape_.out_width(), spatial_);
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

  // ONNX MaxPool pads with -inf and AveragePool with zeros, as torch does, in 1-D and 2-D;
  // pads list every axis' start, then every axis' end ([top, left, bottom, right]).
  bool export_onnx(OnnxNodeWriter& w) const override {
    std::vector<OnnxAttribute> attributes{{"kernel_shape", onnx_axes(shape_.kernel, spatial_)},
                                          {"strides", onnx_axes(shape_.stride, spatial_)},
                                          {"pads", onnx_pads(shape_.padding, spatial_)},
                                          {"ceil_mode", int64_t{shape_.ceil_mode ? 1 : 0}}};
    if (kind_ == PoolKind::Average)
      attributes.push_back({"count_include_pad", int64_t{shape_.count_include_pad ? 1 : 0}});
    w.add_node(kind_ == PoolKind::Max ? "MaxPool" : "AveragePool", {w.inputs()[0]}, {w.output()}, attributes);
    return true;
  }

 private:
  PoolKind kind_;
  Spatial spatial_;
  std::string name_;
  kernels::PoolShape shape_;
  BatchedShape output_shape_;
  std::vector<int32_t> argmax_;  // max only: each output's source within its plane
};

// The registrar builds an operator from its type alone; these fix the kind.
template <PoolKind kind, Spatial spatial>
struct PoolOf final : Pool {
  static OpSchema schema() { return Pool::schema(kind, spatial); }
  explicit PoolOf(const Attributes& attrs) : Pool(kind, spatial, attrs) {}
};

class GlobalAvgPool final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"global_avg_pool",
            OpKind::Layer,
            "mean over H and W of a [C, H, W] image, output [C] (or [C, 1, 1] with keepdims)",
            1,
            1,
            {attr("keepdims", AttrType::Bool, AttrValue{false}, "keep H and W as axes of size 1: output [C, 1, 1]")}};
  }
  explicit GlobalAvgPool(const Attributes& attrs) : keepdims_(attrs.get_bool("keepdims")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = image_input(input_shapes, "global_avg_pool");
    channels_ = in[0];
    area_ = in[1] * in[2];
    const Shape sample = keepdims_ ? Shape{channels_, 1, 1} : Shape{channels_};
    batched_.set_sample(sample);
    return sample;
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

  // GlobalAveragePool keeps [N, C, 1, 1]; without keepdims our output is [N, C].
  bool export_onnx(OnnxNodeWriter& w) const override {
    if (keepdims_) {
      w.add_node("GlobalAveragePool", {w.inputs()[0]}, {w.output()});
      return true;
    }
    const std::string pooled = w.unique_name("pooled");
    w.add_node("GlobalAveragePool", {w.inputs()[0]}, {pooled});
    w.add_node("Flatten", {pooled}, {w.output()}, {{"axis", int64_t{1}}});
    return true;
  }

 private:
  bool keepdims_;
  int64_t channels_ = 0, area_ = 0;
  BatchedShape batched_;
};

class AdaptiveAvgPool2d final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"adaptive_avg_pool2d",
            OpKind::Layer,
            "mean of each adaptive window of a [C, H, W] image, output [C, OH, OW] (torch.nn.AdaptiveAvgPool2d)",
            1,
            1,
            {pair_attr("output_size", std::nullopt, 1.0, "output height and width")}};
  }
  explicit AdaptiveAvgPool2d(const Attributes& attrs) {
    const auto size = attrs.get_pair("output_size");
    shape_.out_height = size[0];
    shape_.out_width = size[1];
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = image_input(input_shapes, "adaptive_avg_pool2d");
    shape_.channels = in[0];
    shape_.height = in[1];
    shape_.width = in[2];
    const Shape sample{in[0], shape_.out_height, shape_.out_width};
    batched_.set_sample(sample);
    return sample;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(batched_.with_batch(x.dim(0)));
    kernels::adaptive_avg_pool_forward(shape_, x.data(), x.dim(0), output.data());
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;
    kernels::adaptive_avg_pool_backward(shape_, grad_output.data(), inputs[0]->dim(0), gx->data());
  }

  double flops_per_sample() const override {
    return static_cast<double>(shape_.channels * std::max(shape_.height * shape_.width, shape_.out_height * shape_.out_width));
  }

  // ONNX has no adaptive pooling: an output of 1x1 is GlobalAveragePool, one that divides the
  // input is an AveragePool of equal windows; overlapping windows have no ONNX form.
  bool export_onnx(OnnxNodeWriter& w) const override {
    if (shape_.out_height == 1 && shape_.out_width == 1) {
      w.add_node("GlobalAveragePool", {w.inputs()[0]}, {w.output()});
      return true;
    }
    if (shape_.height % shape_.out_height != 0 || shape_.width % shape_.out_width != 0)
      throw std::runtime_error("output_size " + pair_text({shape_.out_height, shape_.out_width}) +
                               " does not divide the input [H, W] " + pair_text({shape_.height, shape_.width}) +
                               ": its windows overlap or differ in size, which no ONNX pooling computes; an "
                               "output_size that divides the input exports as AveragePool");
    const std::vector<int64_t> window{shape_.height / shape_.out_height, shape_.width / shape_.out_width};
    w.add_node("AveragePool", {w.inputs()[0]}, {w.output()}, {{"kernel_shape", window}, {"strides", window}});
    return true;
  }

 private:
  kernels::AdaptiveShape shape_;
  BatchedShape batched_;
};

}  // namespace

void register_pooling(Registrar& registrar) {
  registrar.add<PoolOf<PoolKind::Max, Spatial::Image>>();
  registrar.add<PoolOf<PoolKind::Average, Spatial::Image>>();
  registrar.add<PoolOf<PoolKind::Max, Spatial::Sequence>>();
  registrar.add<PoolOf<PoolKind::Average, Spatial::Sequence>>();
  registrar.add<GlobalAvgPool>();
  registrar.add<AdaptiveAvgPool2d>();
}

}  // namespace gradflow::ops
