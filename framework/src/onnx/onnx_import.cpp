// graph-runner import: an ONNX model (from PyTorch's exporter, or from gradflow's) becomes a
// graph file a person would write and a checkpoint in gradflow's layout. The model is
// untrusted input: it is parsed by protobuf, checked by onnx::checker and ONNX shape
// inference, and every value this file reads is checked before use (fuzz target fuzz_onnx).
#include "onnx_import.hpp"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "gradflow/diagnostics.hpp"
#include "gradflow/registry.hpp"
#include "gradflow_onnx.hpp"
#include "onnx_tensor.hpp"
#include "shape_folding.hpp"

namespace gradflow::onnx_io {

// ONNX names ("/fc1/Gemm", "input.1", "onnx::Gemm_7") as graph-file names: letters, digits,
// '_' and '.', never starting with a digit.
std::string tidy_name(const std::string& raw) {
  std::string out;
  for (char c : raw)
    out += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ? c : '_';
  while (!out.empty() && (out.front() == '_' || out.front() == '.')) out.erase(out.begin());
  while (!out.empty() && (out.back() == '_' || out.back() == '.')) out.pop_back();
  if (!out.empty() && std::isdigit(static_cast<unsigned char>(out.front()))) out = "v" + out;
  return out;
}

// PyTorch's scope path as the module's state-dict name: "/layer1/layer1.0/conv1" is
// "layer1.0.conv1", "/features/features.1/conv/conv.0/conv.0.0" is "features.1.conv.0.0" (a
// Sequential's child repeats its parent's segment).
std::string torch_module_name(const std::string& path) {
  std::string name, previous;
  for (size_t from = 1, to = 0; from <= path.size(); from = to + 1) {
    to = std::min(path.find('/', from), path.size());
    const std::string segment = path.substr(from, to - from);
    if (segment.empty()) continue;
    const bool child = !previous.empty() && segment.rfind(previous + ".", 0) == 0;
    name += child ? segment.substr(previous.size()) : (name.empty() ? "" : ".") + segment;
    previous = segment;
  }
  return name;
}

// PyTorch names a node after its module path and op ("/fc1/Gemm", "/layer1/layer1.0/relu/Relu"):
// the module's name is the readable part.
std::string node_base_name(const onnx::NodeProto& node) {
  std::string name = node.name();
  const size_t slash = name.rfind('/');
  const std::string last = slash == std::string::npos ? name : name.substr(slash + 1);
  const std::string& op = node.op_type();
  // "Relu", "Relu_3" (torch numbers a module's second Relu so): the op, no module name
  const bool op_only = last == op || (last.size() > op.size() + 1 && last.rfind(op + "_", 0) == 0 &&
                                      std::all_of(last.begin() + static_cast<long>(op.size()) + 1, last.end(),
                                                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }));
  if (op_only) name.resize(slash == std::string::npos ? 0 : slash);
  if (!name.empty() && name.front() == '/') name = torch_module_name(name);
  return tidy_name(name);
}

namespace {

std::string element_type_name(int elem) {
  return onnx::TensorProto::DataType_IsValid(elem)
             ? onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(elem))
             : fmt::format("element type {}", elem);
}

std::vector<int64_t> dims_of(const onnx::TypeProto& type) {
  std::vector<int64_t> dims;
  if (!type.has_tensor_type() || !type.tensor_type().has_shape()) return dims;
  for (const auto& d : type.tensor_type().shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return dims;
}

}  // namespace

Importer::Importer(const onnx::ModelProto& model, std::string source) : model_(model), source_(std::move(source)) {
  for (const auto& init : model_.graph().initializer()) constants_[init.name()] = &init;
  // Known before their node is reached: a converter folding a pattern reads constants further on.
  for (const auto& node : model_.graph().node())
    if (const auto* value = node.op_type() == "Constant" ? find_attribute(node, "value") : nullptr;
        value && value->has_t() && node.output_size() > 0) {
      constants_[node.output(0)] = &value->t();
      constant_nodes_.insert(node.output(0));
    }
  read_shapes();
  read_inputs();
  for (const auto& node : model_.graph().node())
    for (const auto& in : node.input()) {
      ++readers_[in];
      auto& readers = reader_nodes_[in];
      if (readers.empty() || readers.back() != &node) readers.push_back(&node);
    }
  for (const auto& out : model_.graph().output()) ++readers_[out.name()];
}

void Importer::read_shapes() {
  for (const auto& v : model_.graph().input()) dims_[v.name()] = dims_of(v.type());
  for (const auto& v : model_.graph().value_info()) dims_[v.name()] = dims_of(v.type());
  for (const auto& v : model_.graph().output()) dims_[v.name()] = dims_of(v.type());
}

// The graph inputs that are not initializers: [batch, ...sample] with the sample dims known.
void Importer::read_inputs() {
  for (const auto& v : model_.graph().input()) {
    if (constants_.count(v.name())) continue;
    if (!v.type().has_tensor_type())
      throw file_error(source_, fmt::format("input '{}' is not a tensor", v.name()));
    const int elem = v.type().tensor_type().elem_type();
    if (elem != onnx::TensorProto::FLOAT)
      throw file_error(source_, fmt::format("input '{}' is {}, not float32; gradflow's graph inputs are float32 "
                                            "tensors (token ids too), so import reads float32 inputs only",
                                            v.name(), element_type_name(elem)));
    const std::vector<int64_t> dims = dims_of(v.type());
    if (dims.empty())
      throw file_error(source_, fmt::format("input '{}' has no shape [batch, ...]; import needs its sample shape",
                                            v.name()));
    Shape sample(dims.begin() + 1, dims.end());
    if (std::any_of(sample.begin(), sample.end(), [](int64_t d) { return d < 1; }))
      throw file_error(source_, fmt::format("input '{}' has a dimension other than the batch (the first) that is "
                                            "not a fixed positive size",
                                            v.name()));
    const std::string name = unique(tidy_name(v.name()).empty() ? "x" : tidy_name(v.name()));
    values_[v.name()] = name;
    inputs_.emplace_back(name, sample);
  }
  if (inputs_.empty()) throw file_error(source_, "the model has no input");
}

// `base`, else `base_K` with the smallest free K >= 2 (names are never released, so every K below
// the one last given for `base` is still taken: the search resumes there, and naming n unnamed
// nodes of one op is linear, not quadratic).
std::string Importer::unique(const std::string& base) {
  if (names_.insert(base).second) return base;
  int& k = next_suffix_.try_emplace(base, 2).first->second;
  std::string name = fmt::format("{}_{}", base, k);
  while (!names_.insert(name).second) name = fmt::format("{}_{}", base, ++k);
  ++k;
  return name;
}

void Importer::fail(const onnx::NodeProto& node, const std::string& what) const {
  throw file_error(source_, fmt::format("node '{}' (op_type {}): {}", node.name(), node.op_type(), what));
}

const onnx::TensorProto* Importer::constant(const std::string& value) const {
  auto it = constants_.find(value);
  return it == constants_.end() ? nullptr : it->second;
}

// Input `input` of `node` as a constant read by `read` (a float or an int64 tensor reader); a
// computed input or a tensor `read` refuses is an error naming the node.
template <class Read>
auto Importer::read_constant(const onnx::NodeProto& node, int input, const Read& read) const {
  const onnx::TensorProto* t = input < node.input_size() ? constant(node.input(input)) : nullptr;
  if (!t) fail(node, fmt::format("input {} must be a constant (an initializer or a Constant node)", input));
  try {
    return read(*t, fmt::format("tensor '{}'", node.input(input)));
  } catch (const std::runtime_error& e) {
    fail(node, e.what());
  }
}

Tensor Importer::float_constant(const onnx::NodeProto& node, int input) const {
  return read_constant(node, input, read_float_tensor);
}

std::vector<int64_t> Importer::int_constant(const onnx::NodeProto& node, int input) const {
  return read_constant(node, input, read_int64_tensor);
}

std::string Importer::data_input(const onnx::NodeProto& node, int input) const {
  if (input >= node.input_size() || node.input(input).empty()) fail(node, fmt::format("input {} is missing", input));
  auto it = values_.find(node.input(input));
  if (it == values_.end())
    fail(node, fmt::format("input '{}' is a constant or is computed by nodes import does not keep; gradflow "
                           "nodes take data computed from the graph inputs",
                           node.input(input)));
  return it->second;
}

std::optional<Shape> Importer::sample_shape(const std::string& value) const {
  if (auto own = own_shapes_.find(value); own != own_shapes_.end()) return own->second;
  auto it = dims_.find(value);
  if (it == dims_.end() || it->second.empty()) return std::nullopt;
  Shape sample(it->second.begin() + 1, it->second.end());
  if (std::any_of(sample.begin(), sample.end(), [](int64_t d) { return d < 0; })) return std::nullopt;
  return sample;
}

GfNode& Importer::add(const onnx::NodeProto& node, const std::string& op, std::vector<std::string> inputs,
                      const std::string& preferred) {
  if (node.output_size() < 1 || node.output(0).empty()) fail(node, "it has no output");
  std::string base = preferred.empty() ? node_base_name(node) : preferred;
  if (base.empty()) base = op;
  GfNode gf{unique(base), op, std::move(inputs), {}, {},
            fmt::format("node '{}' (op_type {})", node.name(), node.op_type())};
  values_[node.output(0)] = gf.name;
  producers_[node.output(0)] = nodes_.size();
  nodes_.push_back(std::move(gf));
  return nodes_.back();
}

GfNode* Importer::foldable_linear(const std::string& onnx_value) {
  auto it = producers_.find(onnx_value);
  if (it == producers_.end() || readers_[onnx_value] != 1) return nullptr;
  GfNode& gf = nodes_[it->second];
  return gf.op == "linear" && gf.bias_target == onnx_value ? &gf : nullptr;
}

const std::vector<const onnx::NodeProto*>& Importer::readers_of(const std::string& onnx_value) const {
  static const std::vector<const onnx::NodeProto*> none;
  auto it = reader_nodes_.find(onnx_value);
  return it == reader_nodes_.end() ? none : it->second;
}

bool Importer::is_graph_output(const std::string& onnx_value) const {
  const auto& outputs = model_.graph().output();
  return std::any_of(outputs.begin(), outputs.end(), [&](const auto& o) { return o.name() == onnx_value; });
}

const std::vector<int64_t>* Importer::folded_pad(const std::string& onnx_value) const {
  auto it = folded_pads_.find(onnx_value);
  return it == folded_pads_.end() ? nullptr : &it->second;
}

int64_t Importer::opset() const {
  for (const auto& op : model_.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") return op.version();
  return 0;
}

bool Importer::has_op(const std::string& gradflow_op) const { return default_registry().find(gradflow_op) != nullptr; }

// An op_type without a converter: gradflow may have the operator (erf for Erf) and lack only
// its import, or not have it at all.
std::string Importer::unsupported_op(const std::string& op_type) const {
  std::string lower;
  for (char c : op_type) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (has_op(lower))
    return fmt::format("{} is not supported yet: gradflow has the operator '{}', but import does not convert "
                       "it; import supports {}",
                       op_type, lower, supported_import_ops());
  return fmt::format("gradflow has no such operator; import supports {}", supported_import_ops());
}

void Importer::convert() {
  const auto& table = converters();
  claim_recurrent_nodes(*this);
  consume_expand_shapes(*this, model_.graph());
  for (const auto& node : model_.graph().node()) {
    if (consumed(node)) continue;
    if (!node.domain().empty() && node.domain() != "ai.onnx")
      fail(node, fmt::format("operators of domain '{}' are not supported; import supports the default domain's {}",
                             node.domain(), supported_import_ops()));
    // The op first: ONNX's LSTM and GRU node tests leave output 0 unnamed, and what the user
    // needs to hear then is that the op does not import, not that the node has no output.
    auto it = table.find(node.op_type());
    if (it == table.end()) fail(node, unsupported_op(node.op_type()));
    if (node.output_size() < 1 || node.output(0).empty()) fail(node, "it has no output");
    it->second(*this, node);
  }
}

std::string Importer::graph_text(const std::string& graph_name, const std::string& weights_name,
                                 std::map<int, std::string>& origins) const {
  std::string text = fmt::format(
      "# Imported from {} by graph-runner import; its weights are in {}:\n"
      "#   graph-runner predict THIS_FILE --weights {} --input X.csv\n"
      "# To train it further, add a loss and an optimizer to `nodes:`, and `data:` and `train:`\n"
      "# sections (docs/graph-format.md); docs/onnx.md shows how training starts from these weights.\n",
      source_, weights_name, weights_name);
  text += fmt::format("graph: {}\n\ninputs:\n", graph_name);
  for (const auto& [name, shape] : inputs_) text += fmt::format("  {}: {{shape: [{}]}}\n", name, fmt::join(shape, ", "));
  text += "\nnodes:\n";
  int line = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  for (const GfNode& n : nodes_) {
    origins[++line] = n.origin;
    text += fmt::format("  - {{name: {}, op: {}, inputs: [{}]", n.name, n.op, fmt::join(n.inputs, ", "));
    for (const std::string& a : n.attributes) text += ", " + a;
    text += "}\n";
  }
  std::vector<std::string> outputs;
  for (const auto& out : model_.graph().output()) {
    auto it = values_.find(out.name());
    if (it == values_.end()) throw file_error(source_, fmt::format("output '{}' is not computed by any node", out.name()));
    outputs.push_back(it->second);
  }
  text += fmt::format("\noutputs: [{}]\n", fmt::join(outputs, ", "));
  return text;
}

std::string supported_import_ops() {
  std::vector<std::string> names;
  for (const auto& entry : converters()) names.push_back(entry.first);
  return fmt::format("{}", fmt::join(names, ", "));
}

namespace {

// libonnx's shape inference divides by strides (and group) without checking them: a zero there
// crashes the process (SIGFPE in convPoolShapeInference, found by fuzz_onnx). The ONNX spec asks
// for positive values, so any other is refused first, in subgraphs too.
void require_positive_window_attributes(const onnx::GraphProto& graph) {
  for (const onnx::NodeProto& node : graph.node())
    for (const onnx::AttributeProto& a : node.attribute()) {
      const bool window = a.name() == "strides" || a.name() == "dilations" || a.name() == "kernel_shape";
      const bool positive = std::all_of(a.ints().begin(), a.ints().end(), [](int64_t v) { return v > 0; }) &&
                            (a.name() != "group" || a.i() > 0);
      if ((window || a.name() == "group") && !positive)
        throw std::invalid_argument(fmt::format("node '{}' ({}): attribute '{}' must be positive", node.name(),
                                                node.op_type(), a.name()));
      if (a.has_g()) require_positive_window_attributes(a.g());
      for (const onnx::GraphProto& g : a.graphs()) require_positive_window_attributes(g);
    }
}

// Parses and checks the model with ONNX's own checker, then infers every value's shape, folding
// shape arithmetic into constants on the way.
onnx::ModelProto parse_model(const std::string& bytes, const std::string& source) {
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes))
    throw file_error(source, "not an ONNX model (the file does not parse as an ONNX ModelProto)");
  if (!model.has_graph() || model.graph().node_size() == 0)
    throw file_error(source, "not an ONNX model (it has no graph nodes)");
  try {
    onnx::checker::check_model(model);
    require_positive_window_attributes(model.graph());
    annotate_expanded_constants(model);
    const onnx::ShapeInferenceOptions options(false, 0, false);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
    // Each round removes nodes, and the shapes it makes known may let the next fold more
    // (the shape of what a folded Reshape gives).
    while (fold_shape_arithmetic(model)) {
      model.mutable_graph()->clear_value_info();
      annotate_expanded_constants(model);
      onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
    }
  } catch (const std::exception& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    throw file_error(source, "not a valid ONNX model: " + what);
  }
  return model;
}

}  // namespace

ImportedModel import_model(const std::string& bytes, const std::string& source, const std::string& graph_name,
                           const std::string& weights_name) {
  const onnx::ModelProto model = parse_model(bytes, source);
  Importer importer(model, source);
  importer.convert();
  ImportedModel imported;
  imported.graph_text = importer.graph_text(graph_name, weights_name, imported.origins);
  imported.weights = importer.weights();
  return imported;
}

}  // namespace gradflow::onnx_io
