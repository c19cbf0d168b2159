// Converters for the spatial operators (docs/graph-format.md 2b and 2e): Conv, ConvTranspose,
// MaxPool, AveragePool, GlobalAveragePool and Pad as PyTorch's exporter writes them for
// eval-mode CNNs, over 1-D [C, L] or 2-D [C, H, W] samples.
#include <fmt/format.h>

#include <algorithm>

#include "onnx_import.hpp"

namespace gradflow::onnx_io {

namespace {

using Ints = std::vector<int64_t>;

// The spatial axes of input 0 of a Conv or pooling node: 1 for [C, L], 2 for [C, H, W].
size_t spatial_rank(Importer& im, const onnx::NodeProto& node) {
  const Shape sample = sample_of(im, node, 0);
  if (sample.size() != 2 && sample.size() != 3)
    im.fail(node, fmt::format("input 0 is [batch, {}]; only 1-D [batch, C, L] and 2-D [batch, C, H, W] data are "
                              "supported",
                              fmt::join(sample, ", ")));
  return sample.size() - 1;
}

// An INTS attribute with one value per spatial axis, or `fallback` on each axis when absent.
Ints spatial_attribute(Importer& im, const onnx::NodeProto& node, const std::string& name, size_t rank,
                       int64_t fallback) {
  const onnx::AttributeProto* a = find_attribute(node, name);
  if (!a) return Ints(rank, fallback);
  if (static_cast<size_t>(a->ints_size()) != rank)
    im.fail(node, fmt::format("`{}` must hold {} value(s), one per spatial axis", name, rank));
  return {a->ints().begin(), a->ints().end()};
}

// ONNX pads [begin..., end...]; gradflow (like torch) pads both sides of an axis alike.
Ints symmetric_pads(Importer& im, const onnx::NodeProto& node, size_t rank) {
  if (const auto* auto_pad = find_attribute(node, "auto_pad"); auto_pad && auto_pad->s() != "NOTSET")
    im.fail(node, "auto_pad is not supported; explicit pads are");
  const Ints pads = spatial_attribute(im, node, "pads", 2 * rank, 0);
  if (!std::equal(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(rank), pads.begin() + static_cast<std::ptrdiff_t>(rank)))
    im.fail(node, "only pads equal on both sides of each axis are supported");
  return Ints(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(rank));
}

// An attribute value as the graph file writes it: one integer for a 1-D op, [h, w] for 2-D.
std::string spatial_text(const Ints& v) {
  return v.size() == 1 ? fmt::format("{}", v[0]) : fmt::format("[{}]", fmt::join(v, ", "));
}

bool all_zero(const Ints& v) {
  return std::all_of(v.begin(), v.end(), [](int64_t p) { return p == 0; });
}

// Input 2, the bias of a (transposed) convolution with `out` channels, or "bias: false".
void convolution_bias(Importer& im, const onnx::NodeProto& node, GfNode& gf, int64_t out) {
  if (node.input_size() < 3 || node.input(2).empty()) {
    gf.attributes.push_back("bias: false");
    return;
  }
  Tensor bias = im.float_constant(node, 2);
  if (bias.size() != out) im.fail(node, fmt::format("the bias has {} values, expected {}", bias.size(), out));
  im.store_weight(gf.name + ".bias", Tensor({out}, bias.values()));
}

void conv(Importer& im, const onnx::NodeProto& node) {
  const size_t rank = spatial_rank(im, node);
  const std::string input = im.data_input(node, 0);
  Tensor weight = im.float_constant(node, 1);
  if (static_cast<size_t>(weight.rank()) != rank + 2)
    im.fail(node, rank == 1 ? "the weight must be [out, C/groups, k]" : "the weight must be [out, C/groups, kh, kw]");
  const Ints kernel(weight.shape().begin() + 2, weight.shape().end());
  if (find_attribute(node, "kernel_shape") && spatial_attribute(im, node, "kernel_shape", rank, 0) != kernel)
    im.fail(node, "kernel_shape does not match the weight's shape");
  GfNode& gf = im.add(node, rank == 1 ? "conv1d" : "conv2d", {input}, module_of(node.input(1)));
  gf.attributes = {fmt::format("out_channels: {}", weight.dim(0)), "kernel_size: " + spatial_text(kernel),
                   "stride: " + spatial_text(spatial_attribute(im, node, "strides", rank, 1)),
                   "padding: " + spatial_text(symmetric_pads(im, node, rank)),
                   "dilation: " + spatial_text(spatial_attribute(im, node, "dilations", rank, 1)),
                   fmt::format("groups: {}", int_attribute(node, "group", 1))};
  const int64_t out = weight.dim(0);
  im.store_weight(gf.name + ".weight", std::move(weight));
  convolution_bias(im, node, gf, out);
}

// ConvTranspose: torch's weight layout [C, out/groups, kh, kw] is ONNX's.
void conv_transpose(Importer& im, const onnx::NodeProto& node) {
  if (spatial_rank(im, node) != 2) im.fail(node, "only 2-D images [batch, C, H, W] are supported (conv_transpose2d)");
  if (find_attribute(node, "output_shape"))
    im.fail(node, "output_shape is not supported; pads and output_padding (as torch writes them) are");
  const std::string input = im.data_input(node, 0);
  Tensor weight = im.float_constant(node, 1);
  if (weight.rank() != 4) im.fail(node, "the weight must be [C, out/groups, kh, kw]");
  const Ints kernel(weight.shape().begin() + 2, weight.shape().end());
  if (find_attribute(node, "kernel_shape") && spatial_attribute(im, node, "kernel_shape", 2, 0) != kernel)
    im.fail(node, "kernel_shape does not match the weight's shape");
  const int64_t groups = int_attribute(node, "group", 1);
  const int64_t out = weight.dim(1) * groups;
  GfNode& gf = im.add(node, "conv_transpose2d", {input}, module_of(node.input(1)));
  gf.attributes = {fmt::format("out_channels: {}", out), "kernel_size: " + spatial_text(kernel),
                   "stride: " + spatial_text(spatial_attribute(im, node, "strides", 2, 1)),
                   "padding: " + spatial_text(symmetric_pads(im, node, 2)),
                   "output_padding: " + spatial_text(spatial_attribute(im, node, "output_padding", 2, 0)),
                   "dilation: " + spatial_text(spatial_attribute(im, node, "dilations", 2, 1)),
                   fmt::format("groups: {}", groups)};
  im.store_weight(gf.name + ".weight", std::move(weight));
  convolution_bias(im, node, gf, out);
}

void pool(Importer& im, const onnx::NodeProto& node, bool max) {
  const size_t rank = spatial_rank(im, node);
  const std::string input = im.data_input(node, 0);
  const onnx::AttributeProto* k = find_attribute(node, "kernel_shape");
  if (!k || static_cast<size_t>(k->ints_size()) != rank)
    im.fail(node, fmt::format("kernel_shape must hold {} value(s), one per spatial axis", rank));
  if (max && spatial_attribute(im, node, "dilations", rank, 1) != Ints(rank, 1))
    im.fail(node, "dilated pooling is not supported");
  if (max && node.output_size() > 1 && !node.output(1).empty()) im.fail(node, "the Indices output is not supported");
  Ints padding = symmetric_pads(im, node, rank);
  bool count_include_pad = int_attribute(node, "count_include_pad", 0) != 0;
  if (const Ints* folded = im.folded_pad(node.input(0))) {  // torch's AvgPool(count_include_pad=True)
    padding = *folded;
    count_include_pad = true;
  }
  const std::string op = fmt::format("{}_pool{}d", max ? "max" : "avg", rank);
  GfNode& gf = im.add(node, op, {input});
  // ONNX's default stride is 1, gradflow's the kernel size: always written out.
  gf.attributes = {"kernel_size: " + spatial_text(Ints(k->ints().begin(), k->ints().end())),
                   "stride: " + spatial_text(spatial_attribute(im, node, "strides", rank, 1)),
                   "padding: " + spatial_text(padding)};
  if (int_attribute(node, "ceil_mode", 0) != 0) gf.attributes.push_back("ceil_mode: true");
  if (!max && !all_zero(padding))
    gf.attributes.push_back(count_include_pad ? "count_include_pad: true" : "count_include_pad: false");
}

// gradflow's global_avg_pool gives [C], or [C, 1, 1] with keepdims. torch's classifiers follow
// it with a Flatten, which is then a no-op on [C] (the converters read this shape, not ONNX's
// [C, 1, 1]); anything else (a squeeze-and-excitation block's Conv) reads [C, 1, 1].
void global_avg_pool(Importer& im, const onnx::NodeProto& node) {
  if (spatial_rank(im, node) != 2) im.fail(node, "only 2-D images [batch, C, H, W] are supported");
  const Shape in = sample_of(im, node, 0);
  const auto readers = im.readers_of(node.output(0));
  const bool flattened = !im.is_graph_output(node.output(0)) && !readers.empty() &&
                         std::all_of(readers.begin(), readers.end(), [](const onnx::NodeProto* r) {
                           return r->op_type() == "Flatten" && int_attribute(*r, "axis", 1) == 1;
                         });
  GfNode& gf = im.add(node, "global_avg_pool", {im.data_input(node, 0)});
  if (flattened)
    im.set_sample_shape(node.output(0), {in[0]});
  else
    gf.attributes.push_back("keepdims: true");
}

// The spatial padding of a Pad that an AveragePool reading it can take over: a zero Pad of the
// spatial axes only, equal on both sides, read by nothing else, the pool without padding of its
// own or ceil_mode. That is how torch writes AvgPool(padding, count_include_pad=True).
std::optional<Ints> foldable_pad(Importer& im, const onnx::NodeProto& node, const Ints& pads) {
  const auto readers = im.readers_of(node.output(0));
  if (readers.size() != 1 || im.is_graph_output(node.output(0)) || readers[0]->op_type() != "AveragePool")
    return std::nullopt;
  const onnx::NodeProto& pool = *readers[0];
  const auto* pool_pads = find_attribute(pool, "pads");
  const auto* auto_pad = find_attribute(pool, "auto_pad");
  if ((pool_pads && !all_zero(Ints(pool_pads->ints().begin(), pool_pads->ints().end()))) ||
      (auto_pad && auto_pad->s() != "NOTSET") || int_attribute(pool, "ceil_mode", 0) != 0)
    return std::nullopt;
  const auto* mode = find_attribute(node, "mode");
  if (mode && mode->s() != "constant") return std::nullopt;
  if (node.input_size() > 2 && !node.input(2).empty()) {
    const Tensor value = im.float_constant(node, 2);
    if (value.size() != 1 || value[0] != 0.0f) return std::nullopt;
  }
  const size_t rank = pads.size() / 2;  // the data's axes, batch included
  if ((rank != 3 && rank != 4) || pads.size() != 2 * (sample_of(im, node, 0).size() + 1)) return std::nullopt;
  const Ints begin(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(rank));
  const Ints end(pads.begin() + static_cast<std::ptrdiff_t>(rank), pads.end());
  if (begin != end || begin[0] != 0 || begin[1] != 0) return std::nullopt;
  return Ints(begin.begin() + 2, begin.end());
}

// A Pad that an AveragePool takes over (foldable_pad), or gradflow's pad.
void pad(Importer& im, const onnx::NodeProto& node) {
  const auto* attribute = find_attribute(node, "pads");  // an input from opset 11 on
  const Ints pads = attribute ? Ints(attribute->ints().begin(), attribute->ints().end()) : im.int_constant(node, 1);
  const std::string input = im.data_input(node, 0);
  if (all_zero(pads)) return im.alias(node.output(0), input);
  const std::optional<Ints> folded = foldable_pad(im, node, pads);
  if (!folded) return pad_node(im, node, pads);
  im.fold_pad(node.output(0), *folded);
  im.alias(node.output(0), input);
}

}  // namespace

void add_image_converters(std::map<std::string, Converter>& table) {
  table["Conv"] = conv;
  table["ConvTranspose"] = conv_transpose;
  table["MaxPool"] = [](Importer& im, const onnx::NodeProto& n) { pool(im, n, true); };
  table["AveragePool"] = [](Importer& im, const onnx::NodeProto& n) { pool(im, n, false); };
  table["GlobalAveragePool"] = global_avg_pool;
  table["Pad"] = pad;
}

}  // namespace gradflow::onnx_io
