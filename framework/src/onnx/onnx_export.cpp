// graph-runner export: every node of the inference graph writes its own ONNX nodes through
// OnnxExportable::export_onnx; this file owns the model around them (inputs with a symbolic batch
// axis, outputs with their shapes, initializers) and checks the result with ONNX's own checker
// and shape inference before writing it.
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "gradflow/atomic_file.hpp"
#include "gradflow/diagnostics.hpp"
#include "gradflow/plugin.hpp"
#include "gradflow_onnx.hpp"
#include "onnx_tensor.hpp"

namespace gradflow::onnx_io {

namespace {

// ONNX's IR version for each opset (onnx/helper.py's VERSION_TABLE): 13-14 came with IR 7,
// 15-17 with IR 8. Older runtimes refuse a newer IR version than they know.
int64_t ir_version_for(int opset) { return opset >= 15 ? 8 : 7; }

// A float tensor of shape [batch, ...sample], the batch symbolic.
void set_batched_type(onnx::ValueInfoProto& info, const std::string& name, const Shape& sample) {
  info.set_name(name);
  auto* tensor = info.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = tensor->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  for (int64_t d : sample) shape->add_dim()->set_dim_value(d);
}

// The writer one node gets; names are unique across the whole model.
class NodeWriter final : public OnnxNodeWriter {
 public:
  NodeWriter(onnx::GraphProto& graph, std::set<std::string>& used, int opset)
      : graph_(graph), used_(used), opset_(opset) {}

  // The batch: Shape of the first graph input, its first value; written once, at first use. An
  // output that needs no graph input (a parameter alone) takes the model's first input for it.
  std::string batch_size() override {
    if (!batch_size_.empty()) return batch_size_;
    if (graph_.input_size() == 0) {
      const auto& values = model_->values();
      const auto first = std::find_if(values.begin(), values.end(), [](const Value& v) { return v.producer < 0; });
      if (first == values.end())
        throw std::runtime_error("its value is repeated over the batch, and the graph has no input to take the "
                                 "batch size from");
      set_batched_type(*graph_.add_input(), first->name, first->sample_shape);
    }
    const std::string shape = unique_name("input_shape");
    add_node("Shape", {graph_.input(0).name()}, {shape}, {});
    batch_size_ = unique_name("batch_size");
    add_node("Slice", {shape, int64_constant("zero", {0}, {1}), int64_constant("one", {1}, {1})}, {batch_size_}, {});
    return batch_size_;
  }

  void start(const Model& model, const ComputeNode& node) {
    model_ = &model;
    node_ = node.name;
    inputs_.clear();
    input_shapes_.clear();
    for (int v : node.inputs) {
      inputs_.push_back(model.values()[static_cast<size_t>(v)].name);
      input_shapes_.push_back(model.values()[static_cast<size_t>(v)].sample_shape);
    }
    output_ = model.values()[static_cast<size_t>(node.output)].name;
    output_shape_ = model.values()[static_cast<size_t>(node.output)].sample_shape;
    count_ = 0;
  }

  const std::vector<std::string>& inputs() const override { return inputs_; }
  const std::string& output() const override { return output_; }
  const std::vector<Shape>& input_shapes() const override { return input_shapes_; }
  const Shape& output_shape() const override { return output_shape_; }
  int opset() const override { return opset_; }

  std::string unique_name(std::string_view hint) override {
    std::string name = fmt::format("{}/{}", node_, hint);
    for (int k = 1; used_.count(name); ++k) name = fmt::format("{}/{}_{}", node_, hint, k);
    used_.insert(name);
    return name;
  }

  void add_node(const std::string& op_type, const std::vector<std::string>& inputs,
                const std::vector<std::string>& outputs, const std::vector<OnnxAttribute>& attributes) override {
    onnx::NodeProto& n = *graph_.add_node();
    // Node names must be unique too: a second node of the same type gets "<node>/<op>_1".
    n.set_name(count_++ == 0 ? node_ : unique_name(op_type));
    n.set_op_type(op_type);
    for (const std::string& in : inputs) n.add_input(in);
    for (const std::string& out : outputs) n.add_output(out);
    for (const OnnxAttribute& a : attributes) set_attribute(*n.add_attribute(), a);
  }

  std::string parameter(const Parameter& param) override { return initializer(param.name, param.value); }

  std::string initializer(const std::string& local_name, const Tensor& value) override {
    const std::string name = node_ + "." + local_name;
    used_.insert(name);
    float_tensor(name, value, *graph_.add_initializer());
    return name;
  }

  std::string constant(std::string_view hint, const Tensor& value) override {
    const std::string name = unique_name(hint);
    float_tensor(name, value, *graph_.add_initializer());
    return name;
  }

  std::string int64_constant(std::string_view hint, const std::vector<int64_t>& values, const Shape& shape) override {
    const std::string name = unique_name(hint);
    int64_tensor(name, values, shape, *graph_.add_initializer());
    return name;
  }

 private:
  static void set_attribute(onnx::AttributeProto& out, const OnnxAttribute& a) {
    out.set_name(a.name);
    if (const auto* i = std::get_if<int64_t>(&a.value)) {
      out.set_type(onnx::AttributeProto::INT);
      out.set_i(*i);
    } else if (const auto* f = std::get_if<float>(&a.value)) {
      out.set_type(onnx::AttributeProto::FLOAT);
      out.set_f(*f);
    } else if (const auto* ints = std::get_if<std::vector<int64_t>>(&a.value)) {
      out.set_type(onnx::AttributeProto::INTS);
      for (int64_t v : *ints) out.add_ints(v);
    } else {
      out.set_type(onnx::AttributeProto::STRING);
      out.set_s(std::get<std::string>(a.value));
    }
  }

  onnx::GraphProto& graph_;
  std::set<std::string>& used_;
  int opset_;
  std::string node_, output_;
  std::vector<std::string> inputs_;
  std::vector<Shape> input_shapes_;
  Shape output_shape_;
  int count_ = 0;
  std::string batch_size_;
  const Model* model_ = nullptr;
};

std::string no_mapping_message(const ComputeNode& node, const Registry& registry) {
  const OpEntry* entry = registry.find(node.op);
  if (node.kind != OpKind::Layer)
    return fmt::format("{}: a {} has no ONNX form; export writes the inference graph, so `outputs` "
                       "must name layers, not losses",
                       node.label(), to_string(node.kind));
  if (entry && entry->origin != "built-in")
    return fmt::format("{}: the op comes from the plugin {}, which gives it no ONNX form (OnnxExportable, "
                       "docs/plugins.md)",
                       node.label(), entry->origin);
  return fmt::format("{}: no ONNX mapping exists for op '{}' (docs/onnx.md lists the mappings)", node.label(), node.op);
}

// The nodes: each needed node in topological order writes its own; every one that cannot is
// reported (all of them, not just the first).
void write_nodes(const Model& model, const Registry& registry, const std::vector<bool>& needed, int opset,
                 onnx::GraphProto& graph, std::set<std::string>& used) {
  Diagnostics problems;
  NodeWriter writer(graph, used, opset);
  for (int n : model.topological_order()) {
    const ComputeNode& node = model.nodes()[static_cast<size_t>(n)];
    if (!needed[static_cast<size_t>(node.output)]) continue;
    writer.start(model, node);
    try {
      const auto* exportable = dynamic_cast<const OnnxExportable*>(node.impl.get());
      if (!exportable || !exportable->export_onnx(writer)) problems.error(node.where, no_mapping_message(node, registry));
    } catch (const std::exception& e) {  // an ONNX form that this opset cannot express, say
      problems.error(node.where, fmt::format("{}: {}", node.label(), e.what()));
    }
  }
  problems.throw_if_any();
}

onnx::ModelProto build_proto(const Model& model, const Registry& registry, int opset) {
  onnx::ModelProto proto;
  proto.set_ir_version(ir_version_for(opset));
  proto.set_producer_name("gradflow");
  proto.set_producer_version(GRADFLOW_VERSION_STRING);
  auto* op = proto.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name(model.spec().name.empty() ? "gradflow" : model.spec().name);
  const std::vector<int> outputs = model.output_values();
  std::set<std::string> used;
  for (const Value& v : model.values()) used.insert(v.name);
  for (int v : model.inputs_needed_for(outputs)) {
    const Value& value = model.values()[static_cast<size_t>(v)];
    set_batched_type(*graph.add_input(), value.name, value.sample_shape);
  }
  for (int v : outputs) {
    const Value& value = model.values()[static_cast<size_t>(v)];
    if (value.producer < 0)
      throw file_error(model.spec().file.string(),
                       fmt::format("output '{}' is a graph input; export needs outputs computed by nodes", value.name));
    set_batched_type(*graph.add_output(), value.name, value.sample_shape);
  }
  write_nodes(model, registry, model.values_needed_for(outputs), opset, graph, used);
  return proto;
}

// ONNX's checker, then strict shape inference: an operator whose nodes do not give the shape
// gradflow infers is a bug in its export_onnx, reported rather than written.
void check(onnx::ModelProto& proto, const std::string& file) {
  try {
    onnx::checker::check_model(proto);
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
  } catch (const std::exception& e) {
    throw file_error(file, fmt::format("the exported ONNX model does not pass ONNX's checks: {}", e.what()));
  }
}

}  // namespace

void export_model(const Model& model, const Registry& registry, const std::filesystem::path& out, int opset) {
  if (opset < kMinOpset || opset > kMaxOpset)
    throw std::invalid_argument(fmt::format("--opset {} is not supported: export writes opsets {} to {}", opset,
                                            kMinOpset, kMaxOpset));
  onnx::ModelProto proto = build_proto(model, registry, opset);
  check(proto, model.spec().file.string());
  proto.mutable_graph()->clear_value_info();  // inferred shapes: runtimes infer them again
  std::string bytes;
  if (!proto.SerializeToString(&bytes))
    throw std::runtime_error(out.string() + ": the model is too large for one ONNX file (2 GiB)");
  AtomicFile file(out);
  file.write(bytes);
  file.commit();
}

}  // namespace gradflow::onnx_io
