// upsample: torch.nn.Upsample(scale_factor, mode, align_corners) over [C, H, W] samples, modes
// nearest and bilinear. The arithmetic is compute/resample.cpp's.
#include <array>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "compute/resample.hpp"
#include "families.hpp"
#include "image_util.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

class Upsample final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"upsample",
            OpKind::Layer,
            "enlarge a [C, H, W] image by a scale factor, nearest or bilinear (torch.nn.Upsample)",
            1,
            1,
            {bounded(attr("scale_factor", AttrType::NumberPair, std::nullopt,
                          "factor of H and W (one number for both, or [h, w]); the output is floor(size · factor)"),
                     0.0, true),
             with_choices(attr("mode", AttrType::String, AttrValue{std::string("nearest")},
                               "nearest: the input pixel at floor(output position / scale); bilinear: "
                               "interpolated between the 4 nearest"),
                          {"nearest", "bilinear"}),
             attr("align_corners", AttrType::Bool, AttrValue{false},
                  "bilinear only: the corner pixels of input and output are aligned (torch's align_corners)")}};
  }

  explicit Upsample(const Attributes& attrs) {
    const std::array<double, 2> scale = attrs.get_number_pair("scale_factor");
    shape_.scale_height = scale[0];
    shape_.scale_width = scale[1];
    shape_.mode = attrs.get_string("mode") == "bilinear" ? kernels::ResampleMode::Bilinear
                                                         : kernels::ResampleMode::Nearest;
    shape_.align_corners = attrs.get_bool("align_corners");
    if (shape_.align_corners && shape_.mode == kernels::ResampleMode::Nearest)
      throw std::invalid_argument("upsample: align_corners applies to mode bilinear only, not nearest (as torch)");
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = image_input(input_shapes, "upsample");
    shape_.channels = in[0];
    shape_.height = in[1];
    shape_.width = in[2];
    const std::array<int64_t, 2> out{shape_.out_height(), shape_.out_width()};
    if (out[0] < 1 || out[1] < 1)
      throw ShapeError("upsample: scale_factor " + scale_text() + " gives an empty output [H, W] " +
                       pair_text(out) + " from the input [H, W] " + pair_text({in[1], in[2]}));
    kernel_ = std::make_unique<kernels::Resample>(shape_);
    const Shape sample{in[0], out[0], out[1]};
    batched_.set_sample(sample);
    return sample;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(batched_.with_batch(x.dim(0)));
    kernel_->forward(x.data(), x.dim(0), output.data());
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;
    kernel_->backward(grad_output.data(), inputs[0]->dim(0), gx->data());
  }

  double flops_per_sample() const override {
    return 4.0 * static_cast<double>(shape_.channels * shape_.out_height() * shape_.out_width());
  }

  // ONNX Resize (opset 11 on; export writes 13 or later) by the same scales: nearest as
  // asymmetric coordinates rounded down (torch's floor(o / scale)), bilinear as half_pixel or
  // align_corners coordinates.
  bool export_onnx(OnnxNodeWriter& w) const override {
    Tensor scales({4});
    scales[0] = scales[1] = 1.0f;
    scales[2] = static_cast<float>(shape_.scale_height);
    scales[3] = static_cast<float>(shape_.scale_width);
    const std::string scales_name = w.constant("scales", scales);
    const bool nearest = shape_.mode == kernels::ResampleMode::Nearest;
    std::vector<OnnxAttribute> attributes{{"mode", std::string(nearest ? "nearest" : "linear")}};
    if (nearest) {
      attributes.push_back({"coordinate_transformation_mode", std::string("asymmetric")});
      attributes.push_back({"nearest_mode", std::string("floor")});
    } else {
      attributes.push_back(
          {"coordinate_transformation_mode", std::string(shape_.align_corners ? "align_corners" : "half_pixel")});
    }
    w.add_node("Resize", {w.inputs()[0], "", scales_name}, {w.output()}, attributes);
    return true;
  }

 private:
  // The factors as the graph file writes them: 2 for both axes, [2, 1.5] for two.
  std::string scale_text() const {
    const auto number = [](double v) { return to_string(AttrValue{v}); };
    if (shape_.scale_height == shape_.scale_width) return number(shape_.scale_height);
    return "[" + number(shape_.scale_height) + ", " + number(shape_.scale_width) + "]";
  }

  kernels::ResampleShape shape_;
  std::unique_ptr<kernels::Resample> kernel_;
  BatchedShape batched_;
};

}  // namespace

void register_upsample(Registrar& registrar) { registrar.add<Upsample>(); }

}  // namespace gradflow::ops
