// conv_transpose2d: torch.nn.ConvTranspose2d over [C, H, W] samples; weight [C, out/groups, kh,
// kw] and bias [out] in torch's layout. The arithmetic is compute/conv.cpp's ConvTranspose2d:
// the adjoint of the conv2d that maps the output back to the input (gemm, then col2im), on
// the same fixed tiles, so it is bit-identical for any thread count and allocates nothing per
// step once sized.
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

class ConvTranspose2d final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"conv_transpose2d",
            OpKind::Layer,
            "2-D transposed convolution of a [C, H, W] image (torch.nn.ConvTranspose2d)",
            1,
            1,
            {bounded(attr("out_channels", AttrType::Int, std::nullopt, "number of output channels"), 1.0, false),
             pair_attr("kernel_size", std::nullopt, 1.0, "window height and width"),
             pair_attr("stride", AttrValue{int64_t{1}}, 1.0, "step between the windows the input is spread over"),
             pair_attr("padding", AttrValue{int64_t{0}}, 0.0, "rows and columns removed from each side of the output"),
             pair_attr("output_padding", AttrValue{int64_t{0}}, 0.0,
                       "rows and columns added to one side of the output; smaller than stride"),
             bounded(attr("groups", AttrType::Int, AttrValue{int64_t{1}},
                          "channel groups convolved separately; divides in and out channels"),
                     1.0, false),
             pair_attr("dilation", AttrValue{int64_t{1}}, 1.0, "spacing between the kernel's taps"),
             attr("bias", AttrType::Bool, AttrValue{true}, "learn an additive bias per output channel"),
             init_attr()}};
  }

  explicit ConvTranspose2d(const Attributes& attrs)
      : weights_(attrs.get_bool("bias"), attrs.get_string("init")), output_padding_(attrs.get_pair("output_padding")) {
    // The adjoint conv maps the output [out, OH, OW] back to the input: its channels are ours reversed.
    adjoint_.channels = attrs.get_int("out_channels");
    adjoint_.kernel = attrs.get_pair("kernel_size");
    adjoint_.stride = attrs.get_pair("stride");
    adjoint_.padding = attrs.get_pair("padding");
    adjoint_.dilation = attrs.get_pair("dilation");
    adjoint_.groups = attrs.get_int("groups");
    if (adjoint_.channels % adjoint_.groups != 0)
      throw std::invalid_argument("conv_transpose2d: out_channels " + std::to_string(adjoint_.channels) +
                                  " is not divisible by groups " + std::to_string(adjoint_.groups));
    // A larger output_padding would add rows that no input reaches, and no conv2d maps back.
    if (output_padding_[0] >= adjoint_.stride[0] || output_padding_[1] >= adjoint_.stride[1])
      throw std::invalid_argument("conv_transpose2d: output_padding " + pair_text(output_padding_) +
                                  " must be smaller than stride " + pair_text(adjoint_.stride));
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = image_input(input_shapes, "conv_transpose2d");
    if (in[0] % adjoint_.groups != 0)
      throw ShapeError("conv_transpose2d: in_channels " + std::to_string(in[0]) +
                       " (the input's C) is not divisible by groups " + std::to_string(adjoint_.groups));
    const std::array<int64_t, 2> out_size{output_size(in[1], 0), output_size(in[2], 1)};
    if (out_size[0] < 1 || out_size[1] < 1)
      throw ShapeError("conv_transpose2d: the output [H, W] would be " + pair_text(out_size) + " (input [H, W] " +
                       pair_text({in[1], in[2]}) + ", kernel " + pair_text(adjoint_.kernel) + ", stride " +
                       pair_text(adjoint_.stride) + ", padding " + pair_text(adjoint_.padding) + ", dilation " +
                       pair_text(adjoint_.dilation) + ", output_padding " + pair_text(output_padding_) + ")");
    adjoint_.out_channels = in[0];
    adjoint_.height = out_size[0];
    adjoint_.width = out_size[1];
    const Shape weight{in[0], adjoint_.channels / adjoint_.groups, adjoint_.kernel[0], adjoint_.kernel[1]};
    const Shape sample{adjoint_.channels, out_size[0], out_size[1]};
    weights_.reset(weight, adjoint_.channels, adjoint_, sample);
    return sample;
  }

  std::span<Parameter> parameters() override { return weights_.parameters(); }

  void init_parameters(Rng& rng) override {
    // torch's fans for a weight [C, out/g, kh, kw] read its axis 1 as the input:
    // fan_in out/g·kh·kw, fan_out C·kh·kw.
    const double taps = static_cast<double>(adjoint_.kernel[0] * adjoint_.kernel[1]);
    weights_.init(static_cast<double>(adjoint_.group_rows()), static_cast<double>(adjoint_.out_channels) * taps, rng);
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override { weights_.forward(*inputs[0], output); }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    weights_.backward(*inputs[0], grad_output, grad_inputs[0]);
  }

  double flops_per_sample() const override { return 2.0 * adjoint_.macs_per_sample(); }

  // ONNX ConvTranspose has torch's layout and meaning; pads list [top, left, bottom, right].
  bool export_onnx(OnnxNodeWriter& w) const override {
    const Spatial image = Spatial::Image;
    w.add_node("ConvTranspose", weights_.onnx_inputs(w), {w.output()},
               {{"kernel_shape", onnx_axes(adjoint_.kernel, image)},
                {"strides", onnx_axes(adjoint_.stride, image)},
                {"pads", onnx_pads(adjoint_.padding, image)},
                {"dilations", onnx_axes(adjoint_.dilation, image)},
                {"output_padding", onnx_axes(output_padding_, image)},
                {"group", adjoint_.groups}});
    return true;
  }

 private:
  // torch's output size along axis a: (in − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1.
  int64_t output_size(int64_t in, size_t a) const {
    return (in - 1) * adjoint_.stride[a] - 2 * adjoint_.padding[a] + adjoint_.dilation[a] * (adjoint_.kernel[a] - 1) +
           output_padding_[a] + 1;
  }

  ConvWeights<kernels::ConvTranspose2d> weights_;
  std::array<int64_t, 2> output_padding_;
  kernels::ConvShape adjoint_;
};

}  // namespace

void register_conv_transpose(Registrar& registrar) { registrar.add<ConvTranspose2d>(); }

}  // namespace gradflow::ops
