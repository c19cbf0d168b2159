// The ONNX operators import understands, one converter each: ONNX node(s) in, graph-file
// node(s) out. PyTorch's exporter writes nn.Linear as Gemm (transB=1) on matrices and as
// MatMul + Add otherwise; both become a `linear` whose weight is stored in torch's [out, in].
#include <fmt/format.h>

#include <algorithm>

#include "onnx_import.hpp"

namespace gradflow::onnx_io {

const onnx::AttributeProto* find_attribute(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t int_attribute(const onnx::NodeProto& node, const std::string& name, int64_t fallback) {
  const auto* a = find_attribute(node, name);
  return a ? a->i() : fallback;
}

float float_attribute(const onnx::NodeProto& node, const std::string& name, float fallback) {
  const auto* a = find_attribute(node, name);
  return a ? a->f() : fallback;
}

std::string string_attribute(const onnx::NodeProto& node, const std::string& name, const std::string& fallback) {
  const auto* a = find_attribute(node, name);
  return a ? a->s() : fallback;
}

Tensor transpose(const Tensor& m) {
  const int64_t rows = m.dim(0), cols = m.dim(1);
  Tensor t({cols, rows});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = m[r * cols + c];
  return t;
}

std::string module_of(const std::string& weight_name) {
  const std::string suffix = ".weight";
  if (weight_name.size() > suffix.size() &&
      weight_name.compare(weight_name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return weight_name.substr(0, weight_name.size() - suffix.size());
  return "";
}

Shape sample_of(Importer& im, const onnx::NodeProto& node, int input) {
  auto shape = input < node.input_size() ? im.sample_shape(node.input(input)) : std::nullopt;
  if (!shape) im.fail(node, fmt::format("the shape of input {} is unknown (ONNX shape inference could not give it)", input));
  return *shape;
}

namespace {

// A linear node from a weight in torch's layout [units, in] and an optional bias.
GfNode& add_linear(Importer& im, const onnx::NodeProto& node, const std::string& input, Tensor weight,
                   std::optional<Tensor> bias, const std::string& preferred) {
  if (weight.rank() != 2) im.fail(node, "the weight must be a matrix");
  const int64_t units = weight.dim(0);
  GfNode& gf = im.add(node, "linear", {input}, preferred);
  gf.attributes.push_back(fmt::format("units: {}", units));
  if (!bias) gf.attributes.push_back("bias: false");
  im.store_weight(gf.name + ".weight", std::move(weight));
  if (bias) im.store_weight(gf.name + ".bias", std::move(*bias));
  return gf;
}

// A bias of `units` values: [units], [1, units] or one value broadcast.
Tensor bias_vector(Importer& im, const onnx::NodeProto& node, const Tensor& c, int64_t units) {
  if (c.size() == units) return Tensor({units}, c.values());
  if (c.size() == 1) {
    Tensor b({units});
    b.fill(c[0]);
    return b;
  }
  im.fail(node, fmt::format("the bias has shape {}, expected [{}]", to_string(c.shape()), units));
}

void gemm(Importer& im, const onnx::NodeProto& node) {
  if (float_attribute(node, "alpha", 1.0f) != 1.0f || int_attribute(node, "transA", 0) != 0)
    im.fail(node, "only alpha = 1 and transA = 0 are supported (a linear layer)");
  const std::string input = im.data_input(node, 0);
  Tensor b = im.float_constant(node, 1);
  if (b.rank() != 2) im.fail(node, "input B must be a matrix");
  Tensor weight = int_attribute(node, "transB", 0) ? b : transpose(b);
  std::optional<Tensor> bias;
  if (node.input_size() > 2 && !node.input(2).empty()) {
    if (float_attribute(node, "beta", 1.0f) != 1.0f) im.fail(node, "only beta = 1 is supported");
    bias = bias_vector(im, node, im.float_constant(node, 2), weight.dim(0));
  }
  add_linear(im, node, input, std::move(weight), std::move(bias), module_of(node.input(1)));
}

// The Add reading a MatMul's output (and nothing else does) when it adds a bias of `units` values.
const onnx::NodeProto* bias_add(Importer& im, const onnx::NodeProto& matmul, int64_t units, std::optional<Tensor>& bias) {
  const auto& readers = im.readers_of(matmul.output(0));
  if (readers.size() != 1 || im.is_graph_output(matmul.output(0)) || readers[0]->op_type() != "Add" ||
      readers[0]->input_size() != 2)
    return nullptr;
  const onnx::NodeProto& add = *readers[0];
  const int k = add.input(0) == matmul.output(0) ? 1 : 0;
  if (add.input(1 - k) != matmul.output(0) || !im.constant(add.input(k))) return nullptr;
  const Tensor c = im.float_constant(add, k);
  if (c.size() != units) return nullptr;
  bias = Tensor({units}, c.values());
  return &add;
}

// MatMul by a constant [in, units]: a linear without bias, which a following Add may complete.
// linear reads [in] or [T, in]; over more axes (a channels-last [H, W, C], ConvNeXt) it is
// that linear between two reshapes, the bias Add taken in.
void matmul(Importer& im, const onnx::NodeProto& node) {
  const onnx::TensorProto* weight = node.input_size() == 2 ? im.constant(node.input(1)) : nullptr;
  if (!weight || weight->dims_size() != 2 || im.constant(node.input(0))) return matmul_of_values(im, node);
  const std::string input = im.data_input(node, 0);
  Tensor w = im.float_constant(node, 1);
  const Shape sample = sample_of(im, node, 0);
  if (sample.size() <= 2) {
    GfNode& gf = add_linear(im, node, input, transpose(w), std::nullopt, module_of(node.input(1)));
    gf.bias_target = node.output(0);
    return;
  }
  const int64_t in = sample.back(), units = w.dim(1);
  std::optional<Tensor> bias;
  const onnx::NodeProto* add = bias_add(im, node, units, bias);
  const std::string base = node_base_name(node).empty() ? "linear" : node_base_name(node);
  GfNode& rows = im.add(node, "reshape", {input}, base + "_rows");
  rows.attributes = {fmt::format("shape: [{}, {}]", numel(sample) / in, in)};
  const std::string linear = add_linear(im, node, rows.name, transpose(w), std::move(bias), module_of(node.input(1))).name;
  Shape back(sample.begin(), sample.end() - 1);
  back.push_back(units);
  if (add) im.consume(*add);
  im.add(add ? *add : node, "reshape", {linear}, base + "_back").attributes = {
      fmt::format("shape: [{}]", fmt::join(back, ", "))};
}

// The bias after a MatMul, or an elementwise add (of data, or of data and a constant).
void add(Importer& im, const onnx::NodeProto& node) {
  if (node.input_size() != 2) im.fail(node, "Add takes two inputs");
  for (int k = 0; k < 2; ++k) {
    if (!im.constant(node.input(k))) continue;
    GfNode* linear = im.foldable_linear(node.input(1 - k));
    const Tensor c = im.float_constant(node, k);
    // Not a bias: a constant of another shape (a position table) is added as one.
    if (!linear || (c.size() != 1 && c.size() != im.weights().tensors.at(linear->name + ".weight").dim(0)))
      return binary(im, node, "add");
    const Tensor& w = im.weights().tensors.at(linear->name + ".weight");
    im.store_weight(linear->name + ".bias", bias_vector(im, node, c, w.dim(0)));
    std::erase(linear->attributes, std::string("bias: false"));
    linear->bias_target.clear();
    im.alias(node.output(0), linear->name);
    return;
  }
  binary(im, node, "add");
}

void leaky_relu(Importer& im, const onnx::NodeProto& node) {
  GfNode& gf = im.add(node, "leaky_relu", {im.data_input(node, 0)});
  gf.attributes.push_back(fmt::format("negative_slope: {}", float_attribute(node, "alpha", 0.01f)));
}

// Identity, and Dropout as evaluation runs it.
void pass_through(Importer& im, const onnx::NodeProto& node) {
  if (node.output_size() < 1) im.fail(node, "it has no output");
  if (const onnx::TensorProto* c = node.input_size() > 0 ? im.constant(node.input(0)) : nullptr)
    im.add_constant(node.output(0), c);
  else
    im.alias(node.output(0), im.data_input(node, 0));
}

void constant(Importer& im, const onnx::NodeProto& node) {
  const onnx::AttributeProto* value = find_attribute(node, "value");
  if (!value || !value->has_t() || node.output_size() < 1)
    im.fail(node, "only a Constant with a `value` tensor is supported");
  im.add_constant(node.output(0), &value->t());
}

// A sample reshaped to `target` (batch excluded): nothing, flatten, or reshape.
void reshape_to(Importer& im, const onnx::NodeProto& node, const Shape& from, const Shape& target) {
  const std::string input = im.data_input(node, 0);
  if (target == from) {
    im.alias(node.output(0), input);
  } else if (target.size() == 1 && im.has_op("flatten")) {
    im.add(node, "flatten", {input});
  } else if (im.has_op("reshape")) {
    im.add(node, "reshape", {input}).attributes.push_back(fmt::format("shape: [{}]", fmt::join(target, ", ")));
  } else {
    im.fail(node, "this gradflow has no reshape operator");
  }
}

void flatten(Importer& im, const onnx::NodeProto& node) {
  const Shape from = sample_of(im, node, 0);
  const int64_t axis = int_attribute(node, "axis", 1);
  if (axis != 1 && axis != -static_cast<int64_t>(from.size()))
    im.fail(node, fmt::format("axis {} of an input of {} axes: only axis 1 (-{}), which keeps the batch axis apart, "
                              "is supported; another axis would merge sample axes into the batch",
                              axis, from.size() + 1, from.size()));
  reshape_to(im, node, from, {numel(from)});
}

// The sample shape an ONNX Reshape `target` (batch axis included) gives each sample of shape
// `from`, when it provably keeps every sample apart: the batch axis is 0 (copied), or -1 with
// the rest holding exactly one sample's values. Anything else (a fixed batch, -1 that would
// move values between samples, two -1, sizes that do not multiply out) is refused: importing it
// as a per-sample reshape would predict something else than the model.
Shape reshape_target(Importer& im, const onnx::NodeProto& node, const Shape& from, const std::vector<int64_t>& target) {
  const std::string what = fmt::format("the target shape [{}] of an input [batch, {}]", fmt::join(target, ", "),
                                       fmt::join(from, ", "));
  if (target.empty() || (target[0] != 0 && target[0] != -1))
    im.fail(node, what + ": only a target that keeps the batch axis (0 or -1 first) is supported");
  if (target.size() == 1) im.fail(node, what + ": a sample needs at least one axis after the batch axis");
  const bool zero_copies = int_attribute(node, "allowzero", 0) == 0;
  const int64_t values = numel(from);
  Shape sample;
  int inferred = -1;  // the sample axis given as -1
  int64_t known = 1;
  for (size_t k = 1; k < target.size(); ++k) {
    int64_t d = target[k];
    if (d == 0 && zero_copies) {
      if (k > from.size()) im.fail(node, what + fmt::format(": 0 at axis {} copies an axis the input lacks", k));
      d = from[k - 1];
    }
    if (d == -1) {
      if (target[0] == -1 || inferred >= 0) im.fail(node, what + ": more than one -1");
      inferred = static_cast<int>(sample.size());
    } else if (d < 1) {
      im.fail(node, what + fmt::format(": size {} at axis {}", d, k));
    } else if (__builtin_mul_overflow(known, d, &known)) {  // a hostile target: no sample holds that many
      im.fail(node, what + fmt::format(": the sizes multiply past the largest size ({})", INT64_MAX));
    }
    sample.push_back(d);
  }
  if (inferred >= 0) {
    if (values % known != 0)
      im.fail(node, what + fmt::format(": a sample has {} values, which the other sizes ({}) do not divide", values,
                                       known));
    sample[inferred] = values / known;
  } else if (known != values) {
    im.fail(node, what + fmt::format(": a sample has {} values, the sizes after the batch axis multiply to {}{}",
                                     values, known, target[0] == -1 ? " (so the batch size would change)" : ""));
  }
  return sample;
}

// Reshape by a constant shape that keeps every sample apart (reshape_target).
// A constant's Reshape (gradflow's export of a parameter gives it a leading 1), folded.
void reshape_constant(Importer& im, const onnx::NodeProto& node) {
  const Tensor t = im.float_constant(node, 0);
  const std::vector<int64_t> target = im.int_constant(node, 1);
  Shape shape;
  int64_t known = 1, inferred = -1;
  for (size_t k = 0; k < target.size(); ++k) {
    int64_t d = target[k] == 0 && k < static_cast<size_t>(t.rank()) ? t.dim(static_cast<int>(k)) : target[k];
    if (d == -1 && inferred < 0) {
      inferred = static_cast<int64_t>(k);
    } else if (d < 0 || __builtin_mul_overflow(known, d, &known)) {
      im.fail(node, fmt::format("the target shape [{}] does not fit the constant of shape {}", fmt::join(target, ", "),
                                to_string(t.shape())));
    }
    shape.push_back(d);
  }
  if (inferred >= 0 && known > 0 && t.size() % known == 0) shape[static_cast<size_t>(inferred)] = t.size() / known;
  if (numel(shape) != t.size() || std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; }))
    im.fail(node, fmt::format("the target shape [{}] does not fit the constant of shape {}", fmt::join(target, ", "),
                              to_string(t.shape())));
  im.add_computed_constant(node.output(0), Tensor(shape, t.values()));
}

void reshape(Importer& im, const onnx::NodeProto& node) {
  if (im.constant(node.input(0))) return reshape_constant(im, node);
  const Shape from = sample_of(im, node, 0);
  reshape_to(im, node, from, reshape_target(im, node, from, im.int_constant(node, 1)));
}

}  // namespace

const std::map<std::string, Converter>& converters() {
  static const std::map<std::string, Converter> table = [] {
    std::map<std::string, Converter> t = {
      {"Add", add},
      {"Constant", constant},
      {"Dropout", pass_through},
      {"Flatten", flatten},
      {"Gemm", gemm},
      {"Identity", pass_through},
      {"LeakyRelu", leaky_relu},
      {"MatMul", matmul},
      {"Reshape", reshape},
    };
    add_image_converters(t);
    add_resize_converters(t);
    add_elementwise_converters(t);
    add_shape_converters(t);
    add_norm_converters(t);
    add_constant_converters(t);
    add_shape_folding_converters(t);
    add_recurrent_converters(t);
    return t;
  }();
  return table;
}

}  // namespace gradflow::onnx_io
