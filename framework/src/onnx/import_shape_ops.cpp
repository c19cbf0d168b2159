// Converters for ONNX's shape operators (docs/graph-format.md 2e): Transpose, Squeeze,
// Unsqueeze, Concat, Split, Slice, Gather and Pad. ONNX's axes count the
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
  if (im.constant(node.input(0))) return transpose_constant(im, node);
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
  std::optional<Shape> out_shape = im.sample_shape(node.output(0));
  if (!out_shape) {  // ONNX could not give it (an Expand's output): the inputs', joined on the axis
    for (int k = 0; k < node.input_size() && !out_shape; ++k)
      if (!im.constant(node.input(k))) out_shape = im.sample_shape(node.input(k));
    if (!out_shape) im.fail(node, "the shapes of its inputs are unknown (ONNX shape inference could not give them)");
    const int64_t along = sample_axis(im, node, int_attribute(node, "axis", 0), out_shape->size());
    (*out_shape)[along] = 0;
    for (int k = 0; k < node.input_size(); ++k) {
      const std::optional<Shape> in = im.sample_shape(node.input(k));
      if (!in || in->size() != out_shape->size())
        im.fail(node, fmt::format("the shape of input {} is unknown (ONNX shape inference could not give it)", k));
      (*out_shape)[along] += (*in)[along];
    }
    im.set_sample_shape(node.output(0), *out_shape);
  }
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
  std::vector<std::pair<std::string, std::string>> parts_made;  // ONNX output, its slice
  int64_t start = 0;
  for (int64_t k = 0; k < parts; ++k) {
    const std::string& output = node.output(static_cast<int>(k));
    if (!output.empty()) parts_made.emplace_back(output, add_slice(im, node, input, output, axis, start, start + sizes[k]));
    start += sizes[k];
  }
  for (const auto& [output, name] : parts_made) im.alias(output, name);  // add() bound output 0 to each in turn
}

// Python's bound on an axis of `size` (ONNX clamps the same way for a positive step).
int64_t clamp_bound(int64_t bound, int64_t size) {
  if (bound < 0) bound = bound < -size ? 0 : bound + size;
  return std::min(bound, size);
}

// Slice with constant starts, ends, axes and positive steps (inputs 1-4, opset 10 on; attributes
// before); of data, one slice node per axis; of a constant (a position table's rows), folded.
void slice(Importer& im, const onnx::NodeProto& node) {
  const bool constant = im.constant(node.input(0)) != nullptr;
  Tensor folded = constant ? im.float_constant(node, 0) : Tensor();
  if (constant && folded.rank() == 0) im.fail(node, "a Slice of a constant number");
  const Shape sample = constant ? Shape(folded.shape().begin() + 1, folded.shape().end()) : sample_of(im, node, 0);
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
  std::string value = constant ? "" : im.data_input(node, 0);
  const int64_t rank = static_cast<int64_t>(sample.size()) + 1;
  for (size_t k = 0; k < axes.size(); ++k) {
    const bool batch = axes[k] == 0 || axes[k] == -rank;
    if (!constant && batch && (*starts)[k] == 0 && (*ends)[k] >= INT32_MAX && steps[k] == 1) continue;  // all of it
    if (steps[k] < 1)
      im.fail(node, fmt::format("step {} on axis {}: only positive steps are supported", steps[k], axes[k]));
    // A constant has no batch axis: its axis 0 is one like the others.
    const int64_t axis = constant ? (axes[k] < 0 ? axes[k] + rank : axes[k]) - 1 : sample_axis(im, node, axes[k], sample.size());
    if (constant && (axis < -1 || axis + 1 >= rank)) im.fail(node, fmt::format("axis {} is out of range", axes[k]));
    const int64_t size = constant ? folded.dim(static_cast<int>(axis + 1)) : sample[axis];
    const int64_t start = clamp_bound((*starts)[k], size), end = std::max(start, clamp_bound((*ends)[k], size));
    if (constant)
      folded = sliced(folded, axis + 1, start, end, steps[k]);
    else if (start != 0 || end != size || steps[k] != 1)
      value = add_slice(im, node, value, node.output(0), axis, start, end, steps[k]);
  }
  if (constant) return im.add_computed_constant(node.output(0), folded);
  im.alias(node.output(0), value);
}

void gather(Importer& im, const onnx::NodeProto& node) {
  if (node.input_size() == 2 && im.constant(node.input(0)) && !im.constant(node.input(1))) return embedding(im, node);
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
  const std::string rows = add_slice(im, node, im.data_input(node, 0), node.output(0), axis, indices.front(),
                                     indices.back() + 1);
  if (one) im.add(node, "squeeze", {rows}).attributes = {fmt::format("axes: [{}]", axis)};
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
  // A hostile model's pads (2^62) would have gradflow size the padded sample before refusing it.
  int64_t values = 1;
  for (size_t a = 1; a < rank; ++a) {
    int64_t size = sample[a - 1];
    if (__builtin_add_overflow(size, pads[a], &size) || __builtin_add_overflow(size, pads[a + rank], &size) ||
        __builtin_mul_overflow(values, size, &values) || values > INT32_MAX)
      im.fail(node, fmt::format("pads [{}]: a padded sample would hold more than {} values", fmt::join(pads, ", "),
                                INT32_MAX));
  }
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
  if (value != 0.0f) gf.attributes.push_back(fmt::format("value: {}", finite(im, node, value, "the pad value")));
}

void add_shape_converters(std::map<std::string, Converter>& table) {
  table["Transpose"] = transpose;
  table["Squeeze"] = squeeze;
  table["Unsqueeze"] = unsqueeze;
  table["Concat"] = concat;
  table["Split"] = split;
  table["Slice"] = slice;
  table["Gather"] = gather;
}

}  // namespace gradflow::onnx_io
