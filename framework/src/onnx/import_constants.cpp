// Constants at import: a Reshape, Transpose or Slice of constants (weights gradflow's export
// writes transposed, a parameter given a leading 1, a position table's first rows) is computed
// here, so that the nodes reading it get a constant; an Expand of a constant over the batch is
// that constant for every sample; a Gather from a constant table by computed ids is an embedding.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "onnx_import.hpp"

namespace gradflow::onnx_io {

using Ints = std::vector<int64_t>;

// A constant's Transpose (a weight gradflow's export writes transposed), folded into a constant.
void transpose_constant(Importer& im, const onnx::NodeProto& node) {
  const Tensor t = im.float_constant(node, 0);
  const onnx::AttributeProto* a = find_attribute(node, "perm");
  Ints perm(static_cast<size_t>(t.rank()));
  for (size_t k = 0; k < perm.size(); ++k) perm[k] = static_cast<int64_t>(perm.size() - 1 - k);  // ONNX's default
  if (a) perm.assign(a->ints().begin(), a->ints().end());
  Ints sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t k = 0; k < sorted.size(); ++k)
    if (sorted.size() != static_cast<size_t>(t.rank()) || sorted[k] != static_cast<int64_t>(k))
      im.fail(node, fmt::format("perm [{}] is not a permutation of the constant's {} axes", fmt::join(perm, ", "),
                                t.rank()));
  im.add_computed_constant(node.output(0), permuted(t, perm));
}

// `t`[..., start:end:step, ...] on `axis` (a constant's Slice, folded).
Tensor sliced(const Tensor& t, int64_t axis, int64_t start, int64_t end, int64_t step) {
  Shape shape = t.shape();
  const int64_t size = shape[static_cast<size_t>(axis)];
  int64_t inner = 1;
  for (size_t k = static_cast<size_t>(axis) + 1; k < shape.size(); ++k) inner *= shape[k];
  const int64_t outer = t.size() / std::max<int64_t>(1, size * inner);
  shape[static_cast<size_t>(axis)] = end > start ? (end - start + step - 1) / step : 0;
  Tensor out(shape);
  int64_t at = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = start; i < end; i += step)
      for (int64_t j = 0; j < inner; ++j) out[at++] = t[(o * size + i) * inner + j];
  return out;
}

// Gather from a constant table [N, E] by computed ids: gradflow's embedding (which reads the
// ids as floats, so the Cast before it is dropped).
void embedding(Importer& im, const onnx::NodeProto& node) {
  const Tensor table = im.float_constant(node, 0);
  if (table.rank() != 2 || int_attribute(node, "axis", 0) != 0)
    im.fail(node, "only a Gather of rows (axis 0) of a constant matrix by computed ids (an embedding) is supported");
  GfNode& gf = im.add(node, "embedding", {im.data_input(node, 1)}, module_of(node.input(0)));
  gf.attributes = {fmt::format("num_embeddings: {}", table.dim(0)), fmt::format("embedding_dim: {}", table.dim(1))};
  im.store_weight(gf.name + ".weight", table);
}

namespace {

// A Cast to INT64 of token ids that only embeddings read: the ids themselves, as gradflow keeps
// them (float32); a Cast of float32 data to float32 changes nothing.
void cast(Importer& im, const onnx::NodeProto& node) {
  const int64_t to = int_attribute(node, "to", 0);
  const auto& readers = im.readers_of(node.output(0));
  const bool ids = to == onnx::TensorProto::INT64 && !readers.empty() && !im.is_graph_output(node.output(0)) &&
                   std::all_of(readers.begin(), readers.end(), [&](const onnx::NodeProto* r) {
                     return r->op_type() == "Gather" && r->input_size() == 2 && r->input(1) == node.output(0) &&
                            r->input(0) != node.output(0) && im.constant(r->input(0));
                   });
  if (!ids && to != onnx::TensorProto::FLOAT)
    im.fail(node, "only a Cast to INT64 of ids that embeddings (a Gather from a constant table) read, or a Cast to "
                  "FLOAT, is supported; gradflow's tensors are float32");
  im.alias(node.output(0), im.data_input(node, 0));
}

// A constant expanded over the batch (a ViT class token, cls.expand(B, -1, -1)): the same
// tensor for every sample, whatever the shape input computes.
void expand(Importer& im, const onnx::NodeProto& node) {
  const onnx::TensorProto* t = im.constant(node.input(0));
  if (!t)
    im.fail(node, "only a constant expanded to [batch, ...its other axes] is supported (a class token); data is "
                  "broadcast by the operators that read it");
  const Shape dims(t->dims().begin(), t->dims().end());
  const Shape sample = dims.empty() ? Shape{} : Shape(dims.begin() + 1, dims.end());
  const auto out = im.sample_shape(node.output(0));
  if (dims.size() < 2 || dims[0] != 1 || (out && *out != sample))
    im.fail(node, fmt::format("the constant has shape {} and the output [batch, {}]: only expanding a leading axis of "
                              "1 to the batch is supported",
                              to_string(dims), out ? fmt::format("{}", fmt::join(*out, ", ")) : "unknown"));
  const std::string name = constant_input(im, node, 0, dims.size(), node_base_name(node));
  im.alias(node.output(0), name);
  im.set_sample_shape(node.output(0), sample);
}

// Whether `reader` leaves `value` unread: the shape input of an Expand of a constant (one
// of `constants`).
bool ignores(const onnx::NodeProto& reader, const std::string& value, const std::set<std::string>& constants) {
  return reader.op_type() == "Expand" && reader.input_size() == 2 && reader.input(1) == value &&
         reader.input(0) != value && constants.count(reader.input(0));
}

}  // namespace

void annotate_expanded_constants(onnx::ModelProto& model) {
  onnx::GraphProto& graph = *model.mutable_graph();
  std::map<std::string, const onnx::TensorProto*> constants;
  for (const auto& t : graph.initializer()) constants[t.name()] = &t;
  for (const auto& node : graph.node())
    if (const auto* a = node.op_type() == "Constant" ? find_attribute(node, "value") : nullptr; a && a->has_t() &&
        node.output_size() > 0)
      constants[node.output(0)] = &a->t();
  for (const auto& node : graph.node()) {
    auto it = node.op_type() == "Expand" && node.input_size() == 2 && node.output_size() == 1
                  ? constants.find(node.input(0))
                  : constants.end();
    if (it == constants.end() || it->second->dims_size() < 2 || it->second->dims(0) != 1) continue;
    onnx::ValueInfoProto* info = nullptr;
    for (auto& v : *graph.mutable_value_info())
      if (v.name() == node.output(0)) info = &v;
    if (!info) info = graph.add_value_info();
    info->set_name(node.output(0));
    auto* tensor = info->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(it->second->data_type());
    auto* shape = tensor->mutable_shape();
    shape->clear_dim();
    shape->add_dim()->set_dim_param("batch");
    for (int k = 1; k < it->second->dims_size(); ++k) shape->add_dim()->set_dim_value(it->second->dims(k));
  }
}

void consume_expand_shapes(Importer& im, const onnx::GraphProto& graph) {
  // The values that are or will be constants: a Reshape or Transpose of constants is folded.
  std::set<std::string> constants;
  for (const onnx::NodeProto& node : graph.node()) {
    for (const std::string& in : node.input())
      if (im.constant(in)) constants.insert(in);
    const bool folds = node.op_type() == "Reshape" || node.op_type() == "Transpose";
    if (folds && node.output_size() == 1 &&
        std::all_of(node.input().begin(), node.input().end(), [&](const std::string& in) { return constants.count(in); }))
      constants.insert(node.output(0));
  }
  std::set<const onnx::NodeProto*> skipped;
  for (int k = graph.node_size() - 1; k >= 0; --k) {
    const onnx::NodeProto& node = graph.node(k);
    bool read = false, only_ignored = true;
    for (const std::string& out : node.output()) {
      if (out.empty()) continue;
      if (im.is_graph_output(out)) only_ignored = false;
      for (const onnx::NodeProto* reader : im.readers_of(out)) {
        read = true;
        only_ignored = only_ignored && (skipped.count(reader) || ignores(*reader, out, constants));
      }
    }
    if (read && only_ignored) {
      skipped.insert(&node);
      im.consume(node);
    }
  }
}

void add_constant_converters(std::map<std::string, Converter>& table) {
  table["Expand"] = expand;
  table["Cast"] = cast;
}

}  // namespace gradflow::onnx_io
