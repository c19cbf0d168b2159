// Converters for normalisation and reduction (docs/graph-format.md 2e): LayerNormalization,
// BatchNormalization in evaluation form (the running statistics become batch_norm's
// buffers), Softmax and LogSoftmax on any axis, ReduceSum/Mean/Max, and MatMul of two
// computed values.
#include <fmt/format.h>

#include <cmath>

#include "onnx_import.hpp"

namespace gradflow::onnx_io {

namespace {

// Only output 0 may be read: the others (Mean, InvStdDev, running statistics) are training's.
void require_one_output(Importer& im, const onnx::NodeProto& node) {
  for (int k = 1; k < node.output_size(); ++k)
    if (!node.output(k).empty() && (!im.readers_of(node.output(k)).empty() || im.is_graph_output(node.output(k))))
      im.fail(node, fmt::format("output {} ('{}') is read; only output 0 is supported", k, node.output(k)));
}

// A constant of `size` values, as a vector [size].
Tensor per_feature(Importer& im, const onnx::NodeProto& node, int input, int64_t size, const char* what) {
  const Tensor t = im.float_constant(node, input);
  if (t.size() != size)
    im.fail(node, fmt::format("the {} has shape {}, expected [{}]", what, to_string(t.shape()), size));
  return Tensor({size}, t.values());
}

void layer_norm(Importer& im, const onnx::NodeProto& node) {
  const Shape sample = sample_of(im, node, 0);
  require_one_output(im, node);
  const int64_t axis = sample_axis(im, node, int_attribute(node, "axis", -1), sample.size());
  if (axis + 1 != static_cast<int64_t>(sample.size()))
    im.fail(node, fmt::format("axis {}: only a normalisation over the last axis is supported (torch.nn.LayerNorm "
                              "of one size)",
                              int_attribute(node, "axis", -1)));
  const int64_t d = sample.back();
  Tensor scale = per_feature(im, node, 1, d, "scale");
  Tensor shift({d});
  shift.zero();
  if (node.input_size() > 2 && !node.input(2).empty()) shift = per_feature(im, node, 2, d, "bias");
  GfNode& gf = im.add(node, "layer_norm", {im.data_input(node, 0)}, module_of(node.input(1)));
  const float eps = finite(im, node, float_attribute(node, "epsilon", 1e-5f), "epsilon");
  if (eps != 1e-5f) gf.attributes.push_back(fmt::format("eps: {}", eps));
  im.store_weight(gf.name + ".weight", std::move(scale));
  im.store_weight(gf.name + ".bias", std::move(shift));
}

// Evaluation-mode BatchNormalization over channels (axis 1, the sample's axis 0).
void batch_norm(Importer& im, const onnx::NodeProto& node) {
  const Shape sample = sample_of(im, node, 0);
  require_one_output(im, node);
  if (int_attribute(node, "training_mode", 0) != 0)
    im.fail(node, "training_mode 1 is not supported; export the model in evaluation mode");
  if (node.input_size() != 5) im.fail(node, "it takes five inputs (X, scale, B, mean, var)");
  if (sample.empty()) im.fail(node, "input 0 is [batch]: the channels (axis 1) are missing");
  const int64_t c = sample[0];
  GfNode& gf = im.add(node, "batch_norm", {im.data_input(node, 0)}, module_of(node.input(1)));
  const float eps = finite(im, node, float_attribute(node, "epsilon", 1e-5f), "epsilon");
  if (eps != 1e-5f) gf.attributes.push_back(fmt::format("eps: {}", eps));
  // ONNX's momentum weighs the running statistic, torch's (gradflow's) the batch.
  const float momentum = 1.0f - float_attribute(node, "momentum", 0.9f);
  if (momentum > 0.0f && momentum < 1.0f && std::abs(momentum - 0.1f) > 1e-6f)
    gf.attributes.push_back(fmt::format("momentum: {}", momentum));
  const char* names[] = {"weight", "bias", "running_mean", "running_var"};
  for (int k = 1; k <= 4; ++k) im.store_weight(gf.name + "." + names[k - 1], per_feature(im, node, k, c, names[k - 1]));
  Tensor tracked(Shape{});
  tracked.zero();
  im.store_weight(gf.name + ".num_batches_tracked", std::move(tracked));
}

void softmax(Importer& im, const onnx::NodeProto& node, const std::string& op) {
  const Shape sample = sample_of(im, node, 0);
  const int64_t given = int_attribute(node, "axis", im.opset() >= 13 ? -1 : 1);
  const int64_t axis = sample_axis(im, node, given, sample.size());
  const bool last = axis + 1 == static_cast<int64_t>(sample.size());
  // Before opset 13 ONNX's softmax coerces the input to 2-D at `axis`: torch's only on the last.
  if (im.opset() < 13 && !last) im.fail(node, "before opset 13, only a softmax over the last axis is supported");
  GfNode& gf = im.add(node, op, {im.data_input(node, 0)});
  if (!last) gf.attributes = {fmt::format("axis: {}", axis)};
}

// ReduceSum/Mean/Max over sample axes: attribute `axes`, or input 1 (ReduceSum from opset 13).
void reduce(Importer& im, const onnx::NodeProto& node, const std::string& op) {
  const Shape sample = sample_of(im, node, 0);
  const auto given = ints_input_or_attribute(im, node, 1, "axes");
  if (!given || given->empty()) {
    if (int_attribute(node, "noop_with_empty_axes", 0) != 0) return im.alias(node.output(0), im.data_input(node, 0));
    im.fail(node, "no axes: a reduction over every axis includes the batch axis; only sample axes are supported");
  }
  std::vector<int64_t> axes;
  for (int64_t a : *given) axes.push_back(sample_axis(im, node, a, sample.size()));
  std::sort(axes.begin(), axes.end());
  GfNode& gf = im.add(node, op, {im.data_input(node, 0)});
  gf.attributes = {fmt::format("axes: [{}]", fmt::join(axes, ", "))};
  if (int_attribute(node, "keepdims", 1) != 0) gf.attributes.push_back("keepdims: true");
}

}  // namespace

// torch.matmul per sample: both operands [batch, ..., n, k] and [batch, ..., k, m] of the same
// rank (so the batch axes meet); a constant operand is the same for every sample.
void matmul_of_values(Importer& im, const onnx::NodeProto& node) {
  if (node.input_size() != 2) im.fail(node, "MatMul takes two inputs");
  const bool constant[2] = {im.constant(node.input(0)) != nullptr, im.constant(node.input(1)) != nullptr};
  if (constant[0] && constant[1]) im.fail(node, "both inputs are constants");
  const int data = constant[0] ? 1 : 0;
  const size_t rank = sample_of(im, node, data).size() + 1;
  if (!constant[0] && !constant[1] && sample_of(im, node, 1).size() + 1 != rank)
    im.fail(node, fmt::format("its inputs have {} and {} axes: only a product of two values with the same number of "
                              "axes (the batch axes meeting) is supported",
                              rank, sample_of(im, node, 1).size() + 1));
  if (rank < 3)
    im.fail(node, fmt::format("input {} is [batch, {}]: a product of matrices [batch, n, k] or more is supported "
                              "(a [batch, k] operand would multiply across the batch)",
                              data, fmt::join(sample_of(im, node, data), ", ")));
  std::string inputs[2];
  for (int k = 0; k < 2; ++k) inputs[k] = constant[k] ? constant_input(im, node, k, rank) : im.data_input(node, k);
  im.add(node, "matmul", {inputs[0], inputs[1]});
}

void add_norm_converters(std::map<std::string, Converter>& table) {
  table["LayerNormalization"] = layer_norm;
  table["BatchNormalization"] = batch_norm;
  table["Softmax"] = [](Importer& im, const onnx::NodeProto& n) { softmax(im, n, "softmax"); };
  table["LogSoftmax"] = [](Importer& im, const onnx::NodeProto& n) { softmax(im, n, "log_softmax"); };
  table["ReduceSum"] = [](Importer& im, const onnx::NodeProto& n) { reduce(im, n, "reduce_sum"); };
  table["ReduceMean"] = [](Importer& im, const onnx::NodeProto& n) { reduce(im, n, "reduce_mean"); };
  table["ReduceMax"] = [](Importer& im, const onnx::NodeProto& n) { reduce(im, n, "reduce_max"); };
}

}  // namespace gradflow::onnx_io
