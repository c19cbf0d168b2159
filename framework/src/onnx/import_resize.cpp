// Resize and Upsample as gradflow's upsample (torch.nn.Upsample): only the forms that compute
// what torch computes, which are the ones torch.onnx.export writes: constant scales
// [1, 1, h, w]; nearest with asymmetric coordinates rounded down; linear with half_pixel or
// align_corners coordinates (torch's bilinear, align_corners false or true).
#include <fmt/format.h>

#include "onnx_import.hpp"

namespace gradflow::onnx_io {

namespace {

// The scales [1, 1, h, w]: an input (Resize, Upsample-9) or an attribute (Upsample-7).
std::pair<float, float> image_scales(Importer& im, const onnx::NodeProto& node, int scales_input) {
  std::vector<float> scales;
  if (const onnx::AttributeProto* a = find_attribute(node, "scales")) {
    scales.assign(a->floats().begin(), a->floats().end());
  } else {
    if (scales_input >= node.input_size() || node.input(scales_input).empty())
      im.fail(node, "only a resize by constant scales is supported (torch's scale_factor), not by sizes");
    const Tensor t = im.float_constant(node, scales_input);
    scales.assign(t.values().begin(), t.values().end());
  }
  if (scales.size() != 4 || scales[0] != 1.0f || scales[1] != 1.0f || !(scales[2] > 0.0f) || !(scales[3] > 0.0f))
    im.fail(node, fmt::format("scales [{}]: only [1, 1, h, w] with h and w positive (2-D images, batch and channels "
                              "kept) is supported",
                              fmt::join(scales, ", ")));
  return {scales[2], scales[3]};
}

// Resize (opset 11 on: X, roi, scales, sizes; opset 10: X, scales) and Upsample (X, scales).
void resize(Importer& im, const onnx::NodeProto& node) {
  if (sample_of(im, node, 0).size() != 3) im.fail(node, "only 2-D images [batch, C, H, W] are supported");
  const bool upsample_op = node.op_type() == "Upsample";
  const bool modern = !upsample_op && im.opset() >= 11;
  if (modern && node.input_size() > 3 && !node.input(3).empty())
    im.fail(node, "only a resize by constant scales is supported (torch's scale_factor), not by sizes");
  const auto [h, w] = image_scales(im, node, modern ? 2 : 1);
  const std::string mode = string_attribute(node, "mode", "nearest");
  // Before opset 11 coordinates are asymmetric and nearest rounds down when enlarging.
  const std::string coordinates =
      modern ? string_attribute(node, "coordinate_transformation_mode", "half_pixel") : "asymmetric";
  const std::string rounding = modern ? string_attribute(node, "nearest_mode", "round_prefer_floor") : "floor";
  std::vector<std::string> attributes{fmt::format("scale_factor: [{}, {}]", h, w)};
  if (mode == "nearest" && coordinates == "asymmetric" && rounding == "floor" && (modern || (h >= 1 && w >= 1))) {
    attributes.push_back("mode: nearest");
  } else if (mode == "linear" && (coordinates == "half_pixel" || coordinates == "align_corners")) {
    attributes.push_back("mode: bilinear");
    if (coordinates == "align_corners") attributes.push_back("align_corners: true");
  } else {
    im.fail(node, fmt::format("mode {} with coordinate_transformation_mode {}{}: only nearest with asymmetric "
                              "coordinates and nearest_mode floor, or linear with half_pixel or align_corners, are "
                              "supported (torch's nn.Upsample)",
                              mode, coordinates, mode == "nearest" ? " and nearest_mode " + rounding : ""));
  }
  if (int_attribute(node, "exclude_outside", 0) != 0) im.fail(node, "exclude_outside is not supported");
  im.add(node, "upsample", {im.data_input(node, 0)}).attributes = std::move(attributes);
}

}  // namespace

void add_resize_converters(std::map<std::string, Converter>& table) {
  table["Resize"] = resize;
  table["Upsample"] = resize;
}

}  // namespace gradflow::onnx_io
