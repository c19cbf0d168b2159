// Shape arithmetic folded at import, as onnx-simplifier does: the nodes that only compute on
// shapes (torch's `x.view(x.size(0), -1)` is Shape, Gather, Unsqueeze, Concat, then Reshape)
// are evaluated from the shapes ONNX shape inference gives, and the values their other readers
// need become initializers. The batch size stays symbolic: where a Reshape's target starts with
// it, the initializer says 0 (copy the input's axis, the batch), and where an Expand's shape
// has it on the batch axis, 1 (keep that axis). A value that cannot be said so keeps the nodes
// computing it, and the converters report what they cannot import.
#include "shape_folding.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "fold_values.hpp"
#include "onnx_import.hpp"

namespace gradflow::onnx_io {

namespace {

using TP = onnx::TensorProto;

std::vector<int64_t> dims_of(const onnx::TypeProto& type) {
  std::vector<int64_t> dims;
  if (!type.has_tensor_type() || !type.tensor_type().has_shape()) return dims;
  for (const auto& d : type.tensor_type().shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return dims;
}

KnownDims inferred_dims(const onnx::GraphProto& graph) {
  KnownDims dims;
  for (const auto& v : graph.input()) dims[v.name()] = dims_of(v.type());
  for (const auto& v : graph.value_info()) dims[v.name()] = dims_of(v.type());
  for (const auto& v : graph.output()) dims[v.name()] = dims_of(v.type());
  return dims;
}

// What the batch entries of `v` become where `reader` reads it as input `k`, or nullopt when
// no number says "the batch" there (or `v` has no batch entry: -1).
std::optional<double> batch_as(const FoldedValue& v, const onnx::NodeProto& reader, int k, const KnownDims& dims,
                               const FoldedValues& known) {
  std::vector<size_t> at;
  for (size_t i = 0; i < v.entries.size(); ++i)
    if (v.entries[i].batch) at.push_back(i);
  if (at.empty()) return -1;
  if (v.dims.size() != 1 || at.size() != 1) return std::nullopt;
  if (reader.op_type() == "Reshape" && k == 1 && at[0] == 0 && int_attribute(reader, "allowzero", 0) == 0) return 0;
  // Expand broadcasts 1 to the input's size: right only where that axis is the input's batch axis,
  // i.e. the shape has as many entries as the input has axes (ONNX aligns them from the end).
  if (reader.op_type() == "Expand" && k == 1 && at[0] == 0 && !known.count(reader.input(0))) {
    auto it = dims.find(reader.input(0));
    if (it != dims.end() && it->second.size() == static_cast<size_t>(v.dims[0])) return 1;
  }
  return std::nullopt;
}

// Whether an initializer of the value's type holds every entry (a hostile model may compute
// NaN or 1e300 and cast it to an integer).
bool storable(const FoldedValue& v) {
  if (v.elem == TP::DOUBLE) return true;
  const double limit = v.elem == TP::FLOAT ? 3.4e38 : v.elem == TP::INT64 ? 9e18 : 2e9;
  if (v.elem != TP::FLOAT && v.elem != TP::INT64 && v.elem != TP::INT32 && v.elem != TP::BOOL) return false;
  return std::all_of(v.entries.begin(), v.entries.end(), [&](const Entry& e) {
    return e.batch || (v.elem == TP::FLOAT && !std::isfinite(e.v)) || (std::isfinite(e.v) && std::abs(e.v) < limit);
  });
}

TP initializer(const std::string& name, const FoldedValue& v, double batch) {
  TP t;
  t.set_name(name);
  t.set_data_type(v.elem);
  for (int64_t d : v.dims) t.add_dims(d);
  for (const Entry& e : v.entries) {
    const double x = e.batch ? batch : e.v;
    if (v.elem == TP::INT64) t.add_int64_data(static_cast<int64_t>(x));
    else if (v.elem == TP::FLOAT) t.add_float_data(static_cast<float>(x));
    else if (v.elem == TP::DOUBLE) t.add_double_data(x);
    else t.add_int32_data(static_cast<int32_t>(x));
  }
  return t;
}

// A Shape node that folding left: what reads its value needs the batch size in a way no constant
// says, or a size shape inference does not know.
void shape_not_folded(Importer& im, const onnx::NodeProto& node) {
  im.fail(node, "import folds shape arithmetic into constants, and cannot fold what is computed from this shape: "
                "it needs the batch size (known only at run time) other than as the first entry of a Reshape's "
                "target or an Expand's shape, or a size that ONNX shape inference does not give");
}

// What a pass over the nodes in order computes: every value known at import, and which nodes
// only compute such values (Constant nodes are sources; they stay, as the converters read them).
struct Folding {
  FoldedValues known;
  std::vector<bool> folded;       // by node index
  std::set<std::string> computed;  // outputs of folded nodes
};

Folding fold_forward(const onnx::GraphProto& graph, const KnownDims& dims, int64_t opset) {
  Folding f;
  for (const TP& t : graph.initializer())
    if (auto v = folded_from_tensor(t)) f.known[t.name()] = std::move(*v);
  f.folded.assign(static_cast<size_t>(graph.node_size()), false);
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& node = graph.node(i);
    if ((!node.domain().empty() && node.domain() != "ai.onnx") || node.output_size() != 1 || node.output(0).empty())
      continue;  // "" names an absent optional input too: it must never become a value
    if (node.op_type() == "Constant") {
      const onnx::AttributeProto* value = find_attribute(node, "value");
      auto v = value && value->has_t() ? folded_from_tensor(value->t()) : std::nullopt;
      if (v) f.known[node.output(0)] = std::move(*v);
      continue;
    }
    auto outputs = evaluate(node, f.known, dims, opset);
    if (!outputs) continue;
    f.folded[static_cast<size_t>(i)] = true;
    f.known[node.output(0)] = std::move(outputs->front());
    f.computed.insert(node.output(0));
  }
  return f;
}

// Backward, readers before writers: what the remaining nodes read of the computed values becomes
// an initializer where one can say it (the value -> what its batch entries become); otherwise
// the folded nodes computing it stay (f.folded cleared), and what they read is looked at in turn.
std::map<std::string, double> initializers_needed(const onnx::GraphProto& graph, const KnownDims& dims, Folding& f) {
  std::set<std::string> stays;  // computed values a remaining node reads as a node's output
  std::map<std::string, double> batch_value;
  for (const auto& out : graph.output()) stays.insert(out.name());
  for (int i = graph.node_size() - 1; i >= 0; --i) {
    const onnx::NodeProto& node = graph.node(i);
    if (f.folded[static_cast<size_t>(i)]) {
      if (!stays.count(node.output(0))) continue;
      f.folded[static_cast<size_t>(i)] = false;
    }
    for (int k = 0; k < node.input_size(); ++k) {
      const std::string& in = node.input(k);
      if (!f.computed.count(in) || stays.count(in)) continue;
      const FoldedValue& v = f.known.at(in);
      const auto batch = batch_as(v, node, k, dims, f.known);
      auto [it, fresh] = batch_value.try_emplace(in, batch.value_or(0));
      if (!batch || !storable(v) || (!fresh && it->second != *batch)) {
        stays.insert(in);
        batch_value.erase(in);
      }
    }
  }
  return batch_value;
}

}  // namespace

bool fold_shape_arithmetic(onnx::ModelProto& model) {
  onnx::GraphProto& graph = *model.mutable_graph();
  int64_t opset = 0;
  for (const auto& op : model.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") opset = op.version();
  const KnownDims dims = inferred_dims(graph);
  Folding f = fold_forward(graph, dims, opset);
  if (f.computed.empty()) return false;
  const std::map<std::string, double> batch_value = initializers_needed(graph, dims, f);
  if (std::none_of(f.folded.begin(), f.folded.end(), [](bool b) { return b; })) return false;

  onnx::GraphProto rebuilt;
  for (int i = 0; i < graph.node_size(); ++i)
    if (!f.folded[static_cast<size_t>(i)]) *rebuilt.add_node() = graph.node(i);
  graph.mutable_node()->Swap(rebuilt.mutable_node());
  for (const auto& [name, batch] : batch_value) {
    const FoldedValue& v = f.known.at(name);
    *graph.add_initializer() = initializer(name, v, batch);
    if (model.ir_version() < 4) {  // before IR 4 every initializer is also a graph input
      onnx::ValueInfoProto* in = graph.add_input();
      in->set_name(name);
      onnx::TypeProto_Tensor& type = *in->mutable_type()->mutable_tensor_type();
      type.set_elem_type(v.elem);
      for (int64_t d : v.dims) type.mutable_shape()->add_dim()->set_dim_value(d);
    }
  }
  return true;
}

void add_shape_folding_converters(std::map<std::string, Converter>& table) { table["Shape"] = shape_not_folded; }

}  // namespace gradflow::onnx_io
