// Converters for ONNX's shape operators (docs/graph-format.md 2e): Transpose, Squeeze,
// Unsqueeze, Concat, Split, Slice, Gather, Pad and Expand of a constant. ONNX's axes count the
// batch as axis 0, gradflow's count within the sample: every axis goes through sample_axis,
// and what would move values between samples is refused.
#include <fmt/format.h>

#include <algorithm>
#include <climits>

#include "onnx_import.hpp"

namespace gradflow::onnx_io {

namespace {

using Ints = std::vector<int64_t>;

// Sample axes (sorted, each once) from ONNX axes of a value whose sample has `rank` axes.
Ints sample_axes(Importer& im, const onnx::NodeProto& node, const Ints& axes, size_t rank) {
  Ints out;
  for (int64_t a : axes) out.push_back(sample_axis(im, node, a, rank));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) im.fail(node, "an axis is named twice");
  return out;
}

void transpose(Importer& im, const onnx::NodeProto& node) {
  const Shape sample = sample_of(im, node, 0);
  const onnx::AttributeProto* a = find_attribute(node, "perm");
  const Ints perm = a ? Ints(a->ints().begin(), a->ints().end()) : Ints{};
  if (perm.size() != sample.size() + 1 || perm[0] != 0)
    im.fail(node, fmt::format("perm [{}]: only a permutation that keeps the batch axis (0) first is supported; this "
                              "one {}",
                              fmt::join(perm, ", "), a ? "moves it" : "(absent) reverses every axis"));
  Ints within;
  for (size_t k = 1; k < perm.size(); ++k) within.push_back(perm[k] - 1);
  Ints sorted = within;
  std::sort(sorted.begin(), sorted.end());
  for (size_t k = 0; k < sorted.size(); ++k)
    if (sorted[k] != static_cast<int64_t>(k)) im.fail(node, fmt::format("perm [{}] is not a permutation", fmt::join(perm, ", ")));
  if (std::is_sorted(within.begin(), within.end())) return im.alias(node.output(0), im.data_input(node, 0));
  im.add(node, "transpose", {im.data_input(node, 0)}).attributes = {fmt::format("perm: [{}]", fmt::join(within, ", "))};
}

void squeeze(Importer& im, const onnx::NodeProto& node) {
  const Shape sample = sample_of(im, node, 0);
  Ints axes;
  if (const auto given = ints_input_or_attribute(im, node, 1, "axes")) {
    axes = sample_axes(im, node, *given, sample.size());
  } else {  // every axis of size 1, which with a batch of 1 would include the batch: the sample's
    for (size_t k = 0; k < sample.size(); ++k)
      if (sample[k] == 1) axes.push_back(static_cast<int64_t>(k));
  }
  for (int64_t a : axes)
    if (sample[a] != 1) im.fail(node, fmt::format("axis {} has size {}, not 1", a + 1, sample[a]));
  if (axes.empty()) return im.alias(node.output(0), im.data_input(node, 0));
  im.add(node, "squeeze", {im.data_input(node, 0)}).attributes = {fmt::format("axes: [{}]", fmt::join(axes, ", "))};
}

// Unsqueeze's axes are positions in the output, whose sample has one axis more per axis.
void unsqueeze(Importer& im, const onnx::NodeProto& node) {
  const Shape sample = sample_of(im, node, 0);
  const auto given = ints_input_or_attribute(im, node, 1, "axes");
  if (!given) im.fail(node, "the axes are missing");
  const Ints axes = sample_axes(im, node, *given, sample.size() + given->size());
  im.add(node, "unsqueeze", {im.data_input(node, 0)}).attributes = {fmt::format("axes: [{}]", fmt::join(axes, ", "))};
}

// Concat along any sample axis; a constant input is the same for every sample.
void concat(Importer& im, const onnx::NodeProto& node) {
  const auto* output = node.output_size() ? &node.output(0) : nullptr;
  const auto out_shape = output ? im.sample_shape(*output) : std::nullopt;
  if (!out_shape) im.fail(node, "the shape of its output is unknown (ONNX shape inference could not give it)");
  const int64_t axis = sample_axis(im, node, int_attribute(node, "axis", 0), out_shape->size());
  std::vector<std::string> inputs;
  for (int k = 0; k < node.input_size(); ++k)
    inputs.push_back(im.constant(node.input(k)) ? constant_input(im, node, k, out_shape->size() + 1)
                                                : im.data_input(node, k));
  if (inputs.size() < 2) return im.alias(node.output(0), inputs.at(0));
  GfNode& gf = im.add(node, "concat", inputs);
  if (axis + 1 != static_cast<int64_t>(out_shape->size())) gf.attributes = {fmt::format("axis: {}", axis)};
}

// A slice [start, end) of sample axis `axis` standing for `output`.
std::string add_slice(Importer& im, const onnx::NodeProto& node, const std::string& input, const std::string& output,
                      int64_t axis, int64_t start, int64_t end, int64_t step = 1) {
  GfNode& gf = im.add(node, "slice", {input});
  gf.attributes = {fmt::format("axis: {}", axis), fmt::format("start: {}", start), fmt::format("end: {}", end)};
  if (step != 1) gf.attributes.push_back(fmt::format("step: {}", step));
  im.alias(output, gf.name);
  return gf.name;
}

// Split into the sizes of input 1 (opset 13 on) or attribute `split`, or equal parts.
void split(Importer& im, const onnx::NodeProto& node) {
  const Shape sample = sample_of(im, node, 0);
  const int64_t axis = sample_axis(im, node, int_attribute(node, "axis", 0), sample.size());
  const int64_t parts = node.output_size();
  Ints sizes;
  if (const auto given = ints_input_or_attribute(im, node, 1, "split")) {
    sizes = *given;
  } else {
    if (sample[axis] % parts != 0)
      im.fail(node, fmt::format("axis {} has size {}, which {} equal parts do not divide", axis + 1, sample[axis], parts));
    sizes.assign(parts, sample[axis] / parts);
  }
  int64_t total = 0;
  for (int64_t s : sizes) total += s < 0 ? INT_MIN : s;
  if (static_cast<int64_t>(sizes.size()) != parts || total != sample[axis])
    im.fail(node, fmt::format("sizes [{}] for {} outputs do not split axis {} of size {}", fmt::join(sizes, ", "), parts,
                              axis + 1, sample[axis]));
  const std::string input = im.data_input(node, 0);
  int64_t start = 0;
  for (int64_t k = 0; k < parts; ++k) {
    if (!node.output(static_cast<int>(k)).empty())
      add_slice(im, node, input, node.output(static_cast<int>(k)), axis, start, start + sizes[k]);
    start += sizes[k];
  }
}

// Python's bound on an axis of `size` (ONNX clamps the same way for a positive step).
int64_t clamp_bound(int64_t bound, int64_t size) {
  if (bound < 0) bound = bound < -size ? 0 : bound + size;
  return std::min(bound, size);
}

// Slice with constant starts, ends, axes and positive steps (inputs 1-4, opset 10 on; attributes before).
void slice(Importer& im, const onnx::NodeProto& node) {
  const Shape sample = sample_of(im, node, 0);
  const bool inputs = im.opset() >= 10;
  const int none = INT_MAX;  // before opset 10 these are attributes
  const auto starts = ints_input_or_attribute(im, node, inputs ? 1 : none, "starts");
  const auto ends = ints_input_or_attribute(im, node, inputs ? 2 : none, "ends");
  if (!starts || !ends || starts->size() != ends->size()) im.fail(node, "starts and ends must be given, one per axis");
  Ints axes(starts->size());
  for (size_t k = 0; k < axes.size(); ++k) axes[k] = static_cast<int64_t>(k);
  if (const auto given = ints_input_or_attribute(im, node, inputs ? 3 : none, "axes")) axes = *given;
  Ints steps(starts->size(), 1);
  if (inputs && node.input_size() > 4 && !node.input(4).empty()) steps = im.int_constant(node, 4);
  if (axes.size() != starts->size() || steps.size() != starts->size())
    im.fail(node, "starts, ends, axes and steps must have one value per axis");
  std::string value = im.data_input(node, 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t rank = static_cast<int64_t>(sample.size()) + 1;
    const bool batch = axes[k] == 0 || axes[k] == -rank;
    if (batch && (*starts)[k] == 0 && (*ends)[k] >= INT32_MAX && steps[k] == 1) continue;  // all of the batch
    const int64_t axis = sample_axis(im, node, axes[k], sample.size());
    if (steps[k] < 1)
      im.fail(node, fmt::format("step {} on axis {}: only positive steps are supported", steps[k], axes[k]));
    const int64_t start = clamp_bound((*starts)[k], sample[axis]), end = clamp_bound((*ends)[k], sample[axis]);
    if (start == 0 && end == sample[axis] && steps[k] == 1) continue;
    value = add_slice(im, node, value, node.output(0), axis, start, std::max(start, end), steps[k]);
  }
  im.alias(node.output(0), value);
}

// Gather of constant indices along a sample axis: one index is a slice and a squeeze (x[:, 0]),
// consecutive ones a slice.
void gather(Importer& im, const onnx::NodeProto& node) {
  const Shape sample = sample_of(im, node, 0);
  const int64_t axis = sample_axis(im, node, int_attribute(node, "axis", 0), sample.size());
  const onnx::TensorProto* t = node.input_size() > 1 ? im.constant(node.input(1)) : nullptr;
  Ints indices = im.int_constant(node, 1);
  for (int64_t& i : indices) {
    if (i < -sample[axis] || i >= sample[axis])
      im.fail(node, fmt::format("index {} is out of range for axis {} of size {}", i, axis + 1, sample[axis]));
    if (i < 0) i += sample[axis];
  }
  const bool one = t && t->dims_size() == 0 && indices.size() == 1;
  const bool consecutive = t && t->dims_size() == 1 && !indices.empty() &&
                           std::adjacent_find(indices.begin(), indices.end(),
                                              [](int64_t a, int64_t b) { return b != a + 1; }) == indices.end();
  if (!one && !consecutive)
    im.fail(node, "only one index, or a list of consecutive increasing indices, is supported (a slice)");
  const std::string sliced = add_slice(im, node, im.data_input(node, 0), node.output(0), axis, indices.front(),
                                       indices.back() + 1);
  if (one) im.add(node, "squeeze", {sliced}).attributes = {fmt::format("axes: [{}]", axis)};
}

}  // namespace

// ONNX pads [begin of each axis..., end of each axis...] (batch axis included); torch's, as
// gradflow's pad takes them: before and after the last axis, then the one before it, ...
void pad_node(Importer& im, const onnx::NodeProto& node, const Ints& pads) {
  const Shape sample = sample_of(im, node, 0);
  const size_t rank = sample.size() + 1;
  if (pads.size() != 2 * rank) im.fail(node, fmt::format("pads has {} values, expected {}", pads.size(), 2 * rank));
  if (node.input_size() > 3 && !node.input(3).empty()) im.fail(node, "the axes input is not supported");
  if (pads[0] != 0 || pads[rank] != 0) im.fail(node, "padding the batch axis is not supported");
  if (std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; }))
    im.fail(node, fmt::format("pads [{}]: negative pads (cropping) are not supported", fmt::join(pads, ", ")));
  Ints torch_pads;
  for (size_t a = rank - 1; a >= 1; --a) torch_pads.insert(torch_pads.end(), {pads[a], pads[a + rank]});
  const onnx::AttributeProto* mode_attribute = find_attribute(node, "mode");
  const std::string mode = mode_attribute ? mode_attribute->s() : "constant";
  const std::map<std::string, std::string> modes{{"constant", "constant"}, {"reflect", "reflect"}, {"edge", "replicate"}};
  if (!modes.count(mode)) im.fail(node, fmt::format("mode {}: only constant, reflect and edge are supported", mode));
  GfNode& gf = im.add(node, "pad", {im.data_input(node, 0)});
  gf.attributes = {fmt::format("pads: [{}]", fmt::join(torch_pads, ", "))};
  if (mode != "constant") gf.attributes.push_back("mode: " + modes.at(mode));
  float value = mode == "constant" ? float_attribute(node, "value", 0.0f) : 0.0f;
  if (mode == "constant" && node.input_size() > 2 && !node.input(2).empty()) {
    const Tensor v = im.float_constant(node, 2);
    if (v.size() != 1) im.fail(node, "the constant_value must be one number");
    value = v[0];
  }
  if (value != 0.0f) gf.attributes.push_back(fmt::format("value: {}", value));
}

namespace {

// A constant expanded over the batch (a ViT class token, cls.expand(B, -1, -1)): the same
// tensor for every sample, whatever the shape input computes.
void expand(Importer& im, const onnx::NodeProto& node) {
  const auto out = im.sample_shape(node.output(0));
  const onnx::TensorProto* t = im.constant(node.input(0));
  if (!t || !out)
    im.fail(node, "only a constant expanded to [batch, ...its other axes] is supported (a class token); data is "
                  "broadcast by the operators that read it");
  Shape dims(t->dims().begin(), t->dims().end());
  if (dims.size() != out->size() + 1 || dims[0] != 1 || Shape(dims.begin() + 1, dims.end()) != *out)
    im.fail(node, fmt::format("the constant has shape {} and the output [batch, {}]: only expanding a leading axis of "
                              "1 to the batch is supported",
                              to_string(dims), fmt::join(*out, ", ")));
  im.alias(node.output(0), constant_input(im, node, 0, dims.size()));
}

}  // namespace

void add_shape_converters(std::map<std::string, Converter>& table) {
  table["Transpose"] = transpose;
  table["Squeeze"] = squeeze;
  table["Unsqueeze"] = unsqueeze;
  table["Concat"] = concat;
  table["Split"] = split;
  table["Slice"] = slice;
  table["Gather"] = gather;
  table["Expand"] = expand;
}

}  // namespace gradflow::onnx_io
