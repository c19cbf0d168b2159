// Converters for the image operators (docs/graph-format.md 2b): Conv, MaxPool, AveragePool,
// GlobalAveragePool and Pad as PyTorch's exporter writes them for eval-mode CNNs.
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "onnx_import.hpp"

namespace gradflow::onnx_io {

namespace {

// An INTS attribute with two values (height, width), or `fallback` when absent.
std::array<int64_t, 2> pair_attribute(Importer& im, const onnx::NodeProto& node, const std::string& name,
                                      std::array<int64_t, 2> fallback) {
  const onnx::AttributeProto* a = find_attribute(node, name);
  if (!a) return fallback;
  if (a->ints_size() != 2) im.fail(node, fmt::format("`{}` must hold two values (a 2-D operation)", name));
  return {a->ints(0), a->ints(1)};
}

// ONNX pads [top, left, bottom, right]; gradflow (like torch) pads both sides alike.
std::array<int64_t, 2> symmetric_pads(Importer& im, const onnx::NodeProto& node) {
  const onnx::AttributeProto* a = find_attribute(node, "pads");
  if (const auto* auto_pad = find_attribute(node, "auto_pad"); auto_pad && auto_pad->s() != "NOTSET")
    im.fail(node, "auto_pad is not supported; explicit pads are");
  if (!a) return {0, 0};
  if (a->ints_size() != 4 || a->ints(0) != a->ints(2) || a->ints(1) != a->ints(3))
    im.fail(node, "only pads equal on both sides of each axis are supported");
  return {a->ints(0), a->ints(1)};
}

std::string pair_text(const std::array<int64_t, 2>& p) { return fmt::format("[{}, {}]", p[0], p[1]); }

// The data input of an image operator, which gradflow needs as [C, H, W].
std::string image_input(Importer& im, const onnx::NodeProto& node) {
  if (sample_of(im, node, 0).size() != 3) im.fail(node, "only 2-D images [batch, C, H, W] are supported");
  return im.data_input(node, 0);
}

void conv(Importer& im, const onnx::NodeProto& node) {
  const std::string input = image_input(im, node);
  Tensor weight = im.float_constant(node, 1);
  if (weight.rank() != 4) im.fail(node, "the weight must be [out, C/groups, kh, kw]");
  const std::array<int64_t, 2> kernel{weight.dim(2), weight.dim(3)};
  if (pair_attribute(im, node, "kernel_shape", kernel) != kernel)
    im.fail(node, "kernel_shape does not match the weight's shape");
  GfNode& gf = im.add(node, "conv2d", {input}, module_of(node.input(1)));
  gf.attributes = {fmt::format("out_channels: {}", weight.dim(0)), "kernel_size: " + pair_text(kernel),
                   "stride: " + pair_text(pair_attribute(im, node, "strides", {1, 1})),
                   "padding: " + pair_text(symmetric_pads(im, node)),
                   "dilation: " + pair_text(pair_attribute(im, node, "dilations", {1, 1})),
                   fmt::format("groups: {}", int_attribute(node, "group", 1))};
  const int64_t out = weight.dim(0);
  im.store_weight(gf.name + ".weight", std::move(weight));
  if (node.input_size() < 3 || node.input(2).empty()) {
    gf.attributes.push_back("bias: false");
    return;
  }
  Tensor bias = im.float_constant(node, 2);
  if (bias.size() != out) im.fail(node, fmt::format("the bias has {} values, expected {}", bias.size(), out));
  im.store_weight(gf.name + ".bias", Tensor({out}, bias.values()));
}

void pool(Importer& im, const onnx::NodeProto& node, bool max) {
  const std::string input = image_input(im, node);
  const onnx::AttributeProto* k = find_attribute(node, "kernel_shape");
  if (!k || k->ints_size() != 2) im.fail(node, "kernel_shape must hold two values (a 2-D pooling)");
  if (max && pair_attribute(im, node, "dilations", {1, 1}) != std::array<int64_t, 2>{1, 1})
    im.fail(node, "dilated pooling is not supported");
  if (max && node.output_size() > 1 && !node.output(1).empty()) im.fail(node, "the Indices output is not supported");
  const std::array<int64_t, 2> padding = symmetric_pads(im, node);
  GfNode& gf = im.add(node, max ? "max_pool2d" : "avg_pool2d", {input});
  // ONNX's default stride is 1, gradflow's the kernel size: always written out.
  gf.attributes = {"kernel_size: " + pair_text({k->ints(0), k->ints(1)}),
                   "stride: " + pair_text(pair_attribute(im, node, "strides", {1, 1})),
                   "padding: " + pair_text(padding)};
  if (int_attribute(node, "ceil_mode", 0) != 0) gf.attributes.push_back("ceil_mode: true");
  if (!max && padding != std::array<int64_t, 2>{0, 0})
    gf.attributes.push_back(int_attribute(node, "count_include_pad", 0) ? "count_include_pad: true"
                                                                        : "count_include_pad: false");
}

// gradflow's global_avg_pool gives [C]; the Flatten that follows in torch's export is then a
// no-op (the converters read this shape, not ONNX's [C, 1, 1]).
void global_avg_pool(Importer& im, const onnx::NodeProto& node) {
  const Shape in = sample_of(im, node, 0);
  im.add(node, "global_avg_pool", {image_input(im, node)});
  im.set_sample_shape(node.output(0), {in[0]});
}

// PyTorch writes AvgPool2d's padding as a Pad node; only padding by nothing is supported.
void pad(Importer& im, const onnx::NodeProto& node) {
  std::vector<int64_t> pads = im.int_constant(node, 1);
  if (std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; }))
    im.fail(node, "only a Pad by zero is supported (give the padding to the Conv or pooling node)");
  im.alias(node.output(0), im.data_input(node, 0));
}

}  // namespace

void add_image_converters(std::map<std::string, Converter>& table) {
  table["Conv"] = conv;
  table["MaxPool"] = [](Importer& im, const onnx::NodeProto& n) { pool(im, n, true); };
  table["AveragePool"] = [](Importer& im, const onnx::NodeProto& n) { pool(im, n, false); };
  table["GlobalAveragePool"] = global_avg_pool;
  table["Pad"] = pad;
}

}  // namespace gradflow::onnx_io
