// Helpers the tensor-operator converters share: axes from ONNX's count (the batch is axis 0)
// to gradflow's (within the sample), constant operands as graph nodes, and inputs that moved
// from attributes to inputs in opset 13.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "onnx_import.hpp"
#include "onnx_tensor.hpp"

namespace gradflow::onnx_io {

int64_t sample_axis(Importer& im, const onnx::NodeProto& node, int64_t axis, size_t sample_rank) {
  const auto rank = static_cast<int64_t>(sample_rank) + 1;
  const int64_t normalised = axis < 0 ? axis + rank : axis;
  if (normalised < 0 || normalised >= rank)
    im.fail(node, fmt::format("axis {} is out of range for an input of {} axes (the batch axis included)", axis, rank));
  if (normalised == 0)
    im.fail(node, fmt::format("axis {} is the batch axis; gradflow's operators act within each sample (axes 1 to {} "
                              "here)",
                              axis, rank - 1));
  return normalised - 1;
}

float finite(Importer& im, const onnx::NodeProto& node, float value, const std::string& what) {
  if (!std::isfinite(value))
    im.fail(node, fmt::format("{} is {}: a graph file holds finite numbers only", what, value));
  return value;
}

namespace {

// A trained tensor: PyTorch writes parameters as initializers named by the state dict
// ("gamma", "blocks.0.scale"), and the constants it folds as "onnx::Mul_12" or Constant nodes.
bool is_parameter(const Importer& im, const std::string& value) {
  return !im.from_constant_node(value) && value.rfind("onnx::", 0) != 0 && value.find("Constant") == std::string::npos;
}

}  // namespace

std::string constant_input(Importer& im, const onnx::NodeProto& node, int input, size_t data_rank,
                           const std::string& preferred) {
  Tensor value = im.float_constant(node, input);
  Shape shape = value.shape();
  if (shape.size() > data_rank)
    im.fail(node, fmt::format("the constant input {} has shape {}, more axes than the data it meets ({}, the batch "
                              "axis included)",
                              input, to_string(shape), data_rank));
  if (shape.size() == data_rank) {
    if (shape[0] != 1)
      im.fail(node, fmt::format("the constant input {} has shape {}: its first axis meets the batch axis, so it "
                                "must be 1 (the same for every sample)",
                                input, to_string(shape)));
    shape.erase(shape.begin());
  }
  if (shape.empty()) shape = {1};
  value = Tensor(shape, value.values());
  const std::string text = fmt::format("shape: [{}]", fmt::join(shape, ", "));
  if (is_parameter(im, node.input(input))) {
    GfNode& gf = im.add(node, "parameter", {}, preferred.empty() ? tidy_name(node.input(input)) : preferred);
    gf.attributes.push_back(text);
    im.store_weight(gf.name + ".weight", std::move(value));
    return gf.name;
  }
  GfNode& gf = im.add(node, "constant", {}, node_base_name(node) + (node_base_name(node).empty() ? "" : "_") + "const");
  gf.attributes.push_back(text);
  // A single number is written out; a larger tensor is the checkpoint's buffer `<node>.value`.
  const float written = value.size() == 1 ? finite(im, node, value[0], fmt::format("the constant input {}", input)) : 0.0f;
  gf.attributes.push_back(fmt::format("value: {}", written));
  if (value.size() > 1) im.store_weight(gf.name + ".value", std::move(value));
  return gf.name;
}

Tensor permuted(const Tensor& t, const std::vector<int64_t>& perm) {
  const Shape& in = t.shape();
  const size_t rank = in.size();
  Shape out(rank), in_strides(rank, 1);
  for (size_t k = rank; k-- > 1;) in_strides[k - 1] = in_strides[k] * in[k];
  for (size_t k = 0; k < rank; ++k) out[k] = in[static_cast<size_t>(perm[k])];
  Tensor result(out);
  std::vector<int64_t> index(rank, 0);  // the output's index, counted up in order
  for (int64_t i = 0; i < result.size(); ++i) {
    int64_t from = 0;
    for (size_t k = 0; k < rank; ++k) from += index[k] * in_strides[static_cast<size_t>(perm[k])];
    result[i] = t[from];
    for (size_t k = rank; k-- > 0;) {
      if (++index[k] < out[k]) break;
      index[k] = 0;
    }
  }
  return result;
}

void Importer::add_computed_constant(const std::string& name, const Tensor& value) {
  float_tensor(name, value, computed_.emplace_back());
  constants_[name] = &computed_.back();
}

std::optional<std::vector<int64_t>> ints_input_or_attribute(Importer& im, const onnx::NodeProto& node, int input,
                                                             const std::string& name) {
  if (input < node.input_size() && !node.input(input).empty()) return im.int_constant(node, input);
  if (const onnx::AttributeProto* a = find_attribute(node, name))
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  return std::nullopt;
}

}  // namespace gradflow::onnx_io
