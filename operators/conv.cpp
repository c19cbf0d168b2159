// conv2d: torch.nn.Conv2d over [C, H, W] samples; weight [out, C/groups, kh, kw] and bias
// [out] in torch's layout, so a checkpoint's "<node>.weight" loads straight into PyTorch. The
// arithmetic is compute/conv.cpp's (im2col and sgemm, bit-identical for any thread count).
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "compute/conv.hpp"
#include "families.hpp"
#include "image_util.hpp"
#include "init.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

class Conv2d final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"conv2d",
            OpKind::Layer,
            "2-D convolution over a [C, H, W] image (torch.nn.Conv2d)",
            1,
            1,
            {bounded(attr("out_channels", AttrType::Int, std::nullopt, "number of output channels"), 1.0, false),
             pair_attr("kernel_size", std::nullopt, 1.0, "window height and width"),
             pair_attr("stride", AttrValue{int64_t{1}}, 1.0, "step between windows"),
             pair_attr("padding", AttrValue{int64_t{0}}, 0.0, "zeros added on each side"),
             pair_attr("dilation", AttrValue{int64_t{1}}, 1.0, "spacing between the kernel's taps"),
             bounded(attr("groups", AttrType::Int, AttrValue{int64_t{1}},
                          "channel groups convolved separately; divides in and out channels"),
                     1.0, false),
             attr("bias", AttrType::Bool, AttrValue{true}, "learn an additive bias per output channel"),
             init_attr()}};
  }

  explicit Conv2d(const Attributes& attrs) : has_bias_(attrs.get_bool("bias")), init_(attrs.get_string("init")) {
    shape_.out_channels = attrs.get_int("out_channels");
    shape_.kernel = attrs.get_pair("kernel_size");
    shape_.stride = attrs.get_pair("stride");
    shape_.padding = attrs.get_pair("padding");
    shape_.dilation = attrs.get_pair("dilation");
    shape_.groups = attrs.get_int("groups");
    if (shape_.out_channels % shape_.groups != 0)
      throw std::invalid_argument("conv2d: out_channels " + std::to_string(shape_.out_channels) +
                                  " is not divisible by groups " + std::to_string(shape_.groups));
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = image_input(input_shapes, "conv2d");
    check_fits(in);
    shape_.channels = in[0];
    shape_.height = in[1];
    shape_.width = in[2];
    const int64_t out = shape_.out_channels;
    params_.clear();
    params_.push_back({"weight", Tensor({out, in[0] / shape_.groups, shape_.kernel[0], shape_.kernel[1]}),
                       Tensor({out, in[0] / shape_.groups, shape_.kernel[0], shape_.kernel[1]})});
    if (has_bias_) params_.push_back({"bias", Tensor({out}), Tensor({out})});
    kernel_ = std::make_unique<kernels::Conv2d>(shape_);
    const Shape sample{out, shape_.out_height(), shape_.out_width()};
    output_shape_.set_sample(sample);
    return sample;
  }

  std::span<Parameter> parameters() override { return params_; }

  void init_parameters(Rng& rng) override {
    // torch's fans for a weight [out, C/g, kh, kw]: fan_in C/g·kh·kw, fan_out out·kh·kw.
    const double taps = static_cast<double>(shape_.kernel[0] * shape_.kernel[1]);
    init_weights(init_, static_cast<double>(shape_.group_rows()), static_cast<double>(shape_.out_channels) * taps,
                 params_[0].value, has_bias_ ? &params_[1].value : nullptr, rng);
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    const int64_t batch = x.dim(0);
    output.resize(output_shape_.with_batch(batch));
    kernel_->forward(x.data(), batch, params_[0].value.data(), has_bias_ ? params_[1].value.data() : nullptr,
                     output.data());
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    const Tensor& x = *inputs[0];
    Tensor* gx = grad_inputs[0];
    kernel_->backward(x.data(), x.dim(0), params_[0].value.data(), grad_output.data(), gx ? gx->data() : nullptr,
                      params_[0].grad.data(), has_bias_ ? params_[1].grad.data() : nullptr);
  }

  double flops_per_sample() const override { return 2.0 * shape_.macs_per_sample(); }

  // ONNX Conv has torch's layout and meaning; its pads list [top, left, bottom, right].
  bool export_onnx(OnnxNodeWriter& w) const override {
    std::vector<std::string> inputs{w.inputs()[0], w.parameter(params_[0])};
    if (has_bias_) inputs.push_back(w.parameter(params_[1]));
    const auto& kernel = shape_.kernel;
    const auto& stride = shape_.stride;
    const auto& pad = shape_.padding;
    const auto& dilation = shape_.dilation;
    w.add_node("Conv", inputs, {w.output()},
               {{"kernel_shape", std::vector<int64_t>{kernel[0], kernel[1]}},
                {"strides", std::vector<int64_t>{stride[0], stride[1]}},
                {"pads", std::vector<int64_t>{pad[0], pad[1], pad[0], pad[1]}},
                {"dilations", std::vector<int64_t>{dilation[0], dilation[1]}},
                {"group", shape_.groups}});
    return true;
  }

 private:
  // Channels that groups divide, and a (dilated) kernel that fits the padded input.
  void check_fits(const Shape& in) const {
    if (in[0] % shape_.groups != 0)
      throw ShapeError("conv2d: in_channels " + std::to_string(in[0]) + " (the input's C) is not divisible by groups " +
                       std::to_string(shape_.groups));
    const std::array<int64_t, 2> padded{in[1] + 2 * shape_.padding[0], in[2] + 2 * shape_.padding[1]};
    const std::array<int64_t, 2> span{shape_.dilation[0] * (shape_.kernel[0] - 1) + 1,
                                      shape_.dilation[1] * (shape_.kernel[1] - 1) + 1};
    if (span[0] > padded[0] || span[1] > padded[1])
      throw ShapeError("conv2d: kernel " + pair_text(shape_.kernel) +
                       (span == shape_.kernel ? std::string() : " (spanning " + pair_text(span) + " dilated)") +
                       " is larger than the padded input " + pair_text(padded) + " (input [H, W] " +
                       pair_text({in[1], in[2]}) + ", padding " + pair_text(shape_.padding) + ")");
  }

  bool has_bias_;
  std::string init_;
  kernels::ConvShape shape_;
  std::unique_ptr<kernels::Conv2d> kernel_;
  BatchedShape output_shape_;
  std::vector<Parameter> params_;
};

}  // namespace

void register_conv(Registrar& registrar) { registrar.add<Conv2d>(); }

}  // namespace gradflow::ops
