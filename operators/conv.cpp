// conv2d and conv1d: torch.nn.Conv2d over [C, H, W] samples and torch.nn.Conv1d over [C, L];
// weight [out, C/groups, kh, kw] (1-D: [out, C/groups, k]) and bias [out] in torch's layout, so
// a checkpoint's "<node>.weight" loads straight into PyTorch. The arithmetic is
// compute/conv.cpp's (im2col and sgemm, bit-identical for any thread count); a 1-D conv is the
// 2-D one with height 1.
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "compute/conv.hpp"
#include "conv_weights.hpp"
#include "families.hpp"
#include "image_util.hpp"
#include "schema_util.hpp"
#include "spatial_util.hpp"

namespace gradflow::ops {

namespace {

class Conv : public Operator, public OnnxExportable {
 public:
  static OpSchema schema(Spatial spatial) {
    const bool image = spatial == Spatial::Image;
    return {spatial_name("conv", spatial),
            OpKind::Layer,
            image ? "2-D convolution over a [C, H, W] image (torch.nn.Conv2d)"
                  : "1-D convolution over a [C, L] sequence (torch.nn.Conv1d)",
            1,
            1,
            {bounded(attr("out_channels", AttrType::Int, std::nullopt, "number of output channels"), 1.0, false),
             window_attr(spatial, "kernel_size", std::nullopt, 1.0, image ? "window height and width" : "window length"),
             window_attr(spatial, "stride", AttrValue{int64_t{1}}, 1.0, "step between windows"),
             window_attr(spatial, "padding", AttrValue{int64_t{0}}, 0.0, "zeros added on each side"),
             window_attr(spatial, "dilation", AttrValue{int64_t{1}}, 1.0, "spacing between the kernel's taps"),
             bounded(attr("groups", AttrType::Int, AttrValue{int64_t{1}},
                          "channel groups convolved separately; divides in and out channels"),
                     1.0, false),
             attr("bias", AttrType::Bool, AttrValue{true}, "learn an additive bias per output channel"),
             init_attr()}};
  }

  Conv(Spatial spatial, const Attributes& attrs)
      : spatial_(spatial), name_(spatial_name("conv", spatial)),
        weights_(attrs.get_bool("bias"), attrs.get_string("init")) {
    shape_.out_channels = attrs.get_int("out_channels");
    shape_.kernel = window_value(attrs, "kernel_size", spatial, 1);
    shape_.stride = window_value(attrs, "stride", spatial, 1);
    shape_.padding = window_value(attrs, "padding", spatial, 0);
    shape_.dilation = window_value(attrs, "dilation", spatial, 1);
    shape_.groups = attrs.get_int("groups");
    if (shape_.out_channels % shape_.groups != 0)
      throw std::invalid_argument(name_ + ": out_channels " + std::to_string(shape_.out_channels) +
                                  " is not divisible by groups " + std::to_string(shape_.groups));
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const auto [channels, height, width] = spatial_input(input_shapes, name_, spatial_);
    check_fits(channels, {height, width});
    shape_.channels = channels;
    shape_.height = height;
    shape_.width = width;
    const int64_t out = shape_.out_channels;
    Shape weight{out, channels / shape_.groups, shape_.kernel[0], shape_.kernel[1]};
    if (spatial_ == Spatial::Sequence) weight.erase(weight.begin() + 2);  // torch's [out, C/g, k]
    const Shape sample = spatial_shape(out, shape_.out_height(), shape_.out_width(), spatial_);
    weights_.reset(weight, out, shape_, sample);
    return sample;
  }
  std::span<Parameter> parameters() override { return weights_.parameters(); }

  void init_parameters(Rng& rng) override {
    // torch's fans for a weight [out, C/g, kh, kw]: fan_in C/g·kh·kw, fan_out out·kh·kw.
    const double taps = static_cast<double>(shape_.kernel[0] * shape_.kernel[1]);
    weights_.init(static_cast<double>(shape_.group_rows()), static_cast<double>(shape_.out_channels) * taps, rng);
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override { weights_.forward(*inputs[0], output); }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    weights_.backward(*inputs[0], grad_output, grad_inputs[0]);
  }

  double flops_per_sample() const override { return 2.0 * shape_.macs_per_sample(); }

  // ONNX Conv has torch's layout and meaning, in 1-D and 2-D; its pads list every axis' start,
  // then every axis' end ([top, left, bottom, right]).
  bool export_onnx(OnnxNodeWriter& w) const override {
    w.add_node("Conv", weights_.onnx_inputs(w), {w.output()},
               {{"kernel_shape", onnx_axes(shape_.kernel, spatial_)},
                {"strides", onnx_axes(shape_.stride, spatial_)},
                {"pads", onnx_pads(shape_.padding, spatial_)},
                {"dilations", onnx_axes(shape_.dilation, spatial_)},
                {"group", shape_.groups}});
    return true;
  }

 private:
  // Channels that groups divide, and a (dilated) kernel that fits the padded input.
  void check_fits(int64_t channels, const std::array<int64_t, 2>& size) const {
    if (channels % shape_.groups != 0)
      throw ShapeError(name_ + ": in_channels " + std::to_string(channels) +
                       " (the input's C) is not divisible by groups " + std::to_string(shape_.groups));
    const std::array<int64_t, 2> padded{size[0] + 2 * shape_.padding[0], size[1] + 2 * shape_.padding[1]};
    const std::array<int64_t, 2> span{shape_.dilation[0] * (shape_.kernel[0] - 1) + 1,
                                      shape_.dilation[1] * (shape_.kernel[1] - 1) + 1};
    if (span[0] > padded[0] || span[1] > padded[1])
      throw ShapeError(name_ + ": kernel " + window_text(shape_.kernel, spatial_) +
                       (span == shape_.kernel ? std::string() : " (spanning " + window_text(span, spatial_) + " dilated)") +
                       " is larger than the padded input " + window_text(padded, spatial_) + " (input " +
                       axes_name(spatial_) + " " + window_text(size, spatial_) + ", padding " +
                       window_text(shape_.padding, spatial_) + ")");
  }

  Spatial spatial_;
  std::string name_;
  kernels::ConvShape shape_;
  ConvWeights<kernels::Conv2d> weights_;
};

// The registrar builds an operator from its type alone; these fix the rank.
struct Conv2d final : Conv {
  static OpSchema schema() { return Conv::schema(Spatial::Image); }
  explicit Conv2d(const Attributes& attrs) : Conv(Spatial::Image, attrs) {}
};

struct Conv1d final : Conv {
  static OpSchema schema() { return Conv::schema(Spatial::Sequence); }
  explicit Conv1d(const Attributes& attrs) : Conv(Spatial::Sequence, attrs) {}
};

}  // namespace

void register_conv(Registrar& registrar) {
  registrar.add<Conv2d>();
  registrar.add<Conv1d>();
}

}  // namespace gradflow::ops
