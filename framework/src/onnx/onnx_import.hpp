// The importer's state, shared by the model-level code (onnx_import.cpp) and the per-operator
// converters (import_ops.cpp). Internal to gradflow_onnx.
#pragma once

#include <onnx/onnx_pb.h>

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gradflow/safetensors.hpp"
#include "gradflow/tensor.hpp"

namespace gradflow::onnx_io {

// One node of the graph file being written; attributes are YAML text ("units: 128").
struct GfNode {
  std::string name, op;
  std::vector<std::string> inputs;
  std::vector<std::string> attributes;
  std::string bias_target;  // linear from MatMul without bias: the ONNX value an Add may fold into
  std::string origin;       // "node '/fc/Gemm' (op_type Gemm)": the ONNX node it comes from
};

class Importer {
 public:
  Importer(const onnx::ModelProto& model, std::string source);

  // Converts every node; throws GraphError naming the source on the first unsupported one.
  void convert();
  // The graph file's text; `origins` gets the ONNX node each node line comes from.
  std::string graph_text(const std::string& graph_name, const std::string& weights_name,
                         std::map<int, std::string>& origins) const;
  const TensorFile& weights() const { return weights_; }

  // ---- for the converters ----
  [[noreturn]] void fail(const onnx::NodeProto& node, const std::string& what) const;
  // The constant (initializer or Constant node output) named `value`, or null.
  const onnx::TensorProto* constant(const std::string& value) const;
  Tensor float_constant(const onnx::NodeProto& node, int input) const;
  std::vector<int64_t> int_constant(const onnx::NodeProto& node, int input) const;
  template <class Read>
  auto read_constant(const onnx::NodeProto& node, int input, const Read& read) const;
  // The gradflow value an ONNX data value (not a constant) stands for.
  std::string data_input(const onnx::NodeProto& node, int input) const;
  // The sample shape (batch dropped) ONNX shape inference gives a value, when fully known.
  std::optional<Shape> sample_shape(const std::string& value) const;
  // Adds a node named after the ONNX node (or `preferred`), whose output stands for `output`.
  GfNode& add(const onnx::NodeProto& node, const std::string& op, std::vector<std::string> inputs,
              const std::string& preferred = "");
  void alias(const std::string& onnx_value, const std::string& gradflow_value) { values_[onnx_value] = gradflow_value; }
  // Where gradflow's sample shape differs from ONNX's (global_avg_pool gives [C], not [C, 1, 1]).
  void set_sample_shape(const std::string& onnx_value, Shape shape) { own_shapes_[onnx_value] = std::move(shape); }
  void add_constant(const std::string& name, const onnx::TensorProto* tensor) { constants_[name] = tensor; }
  // Whether `value` is a Constant node's output (not an initializer: a stored weight).
  bool from_constant_node(const std::string& value) const { return constant_nodes_.count(value) > 0; }
  // A constant import computes from constants (a weight's Reshape or Transpose), kept here.
  void add_computed_constant(const std::string& name, const Tensor& value);
  void store_weight(const std::string& name, Tensor value) { weights_.tensors[name] = std::move(value); }
  // The ONNX nodes that read `onnx_value`, and whether it is an output of the model.
  const std::vector<const onnx::NodeProto*>& readers_of(const std::string& onnx_value) const;
  bool is_graph_output(const std::string& onnx_value) const;
  // A Pad's spatial padding that the AveragePool reading `onnx_value` takes over, or null.
  void fold_pad(const std::string& onnx_value, std::vector<int64_t> pads) { folded_pads_[onnx_value] = std::move(pads); }
  const std::vector<int64_t>* folded_pad(const std::string& onnx_value) const;
  // The node producing `onnx_value` when it is a bias-less linear whose output only one node reads.
  GfNode* foldable_linear(const std::string& onnx_value);
  bool has_op(const std::string& gradflow_op) const;
  // The version of the default ONNX domain the model imports.
  int64_t opset() const;
  const onnx::GraphProto& graph() const { return model_.graph(); }
  // Nodes a converter takes over before convert() reaches them (the Transposes and zero initial
  // states torch writes around an LSTM, some before it): convert() skips them.
  void consume(const onnx::NodeProto& node) { consumed_.insert(&node); }
  bool consumed(const onnx::NodeProto& node) const { return consumed_.count(&node) > 0; }

 private:
  void read_inputs();
  void read_shapes();
  std::string unique(const std::string& base);
  std::string unsupported_op(const std::string& op_type) const;

  const onnx::ModelProto& model_;
  std::string source_;
  std::map<std::string, const onnx::TensorProto*> constants_;
  std::map<std::string, std::string> values_;      // ONNX value -> gradflow value
  std::map<std::string, size_t> producers_;        // ONNX value -> index in nodes_
  std::map<std::string, int> readers_;             // ONNX value -> nodes and outputs reading it
  std::map<std::string, std::vector<const onnx::NodeProto*>> reader_nodes_;  // ONNX value -> nodes reading it
  std::map<std::string, std::vector<int64_t>> folded_pads_;                  // Pad output -> spatial padding
  std::map<std::string, std::vector<int64_t>> dims_;  // ONNX value -> dims, -1 where unknown
  std::map<std::string, Shape> own_shapes_;          // ONNX value -> gradflow's sample shape
  std::vector<std::pair<std::string, Shape>> inputs_;
  std::vector<GfNode> nodes_;
  std::set<std::string> names_;
  std::set<std::string> constant_nodes_;  // outputs of Constant nodes
  std::deque<onnx::TensorProto> computed_;  // add_computed_constant's (a deque: pointers stay valid)
  std::map<std::string, int> next_suffix_;  // base -> the K to try next for base_K
  std::set<const onnx::NodeProto*> consumed_;
  TensorFile weights_;
};

using Converter = std::function<void(Importer&, const onnx::NodeProto&)>;
// ONNX op_type -> its converter (import_ops.cpp, import_image_ops.cpp, import_resize.cpp).
const std::map<std::string, Converter>& converters();
void add_image_converters(std::map<std::string, Converter>& table);
void add_resize_converters(std::map<std::string, Converter>& table);
void add_elementwise_converters(std::map<std::string, Converter>& table);  // import_elementwise.cpp
void add_shape_converters(std::map<std::string, Converter>& table);        // import_shape_ops.cpp
void add_norm_converters(std::map<std::string, Converter>& table);         // import_norm.cpp
void add_constant_converters(std::map<std::string, Converter>& table);     // import_constants.cpp
// Folded at import (import_constants.cpp): a constant's Transpose, a constant sliced on one axis.
void transpose_constant(Importer& im, const onnx::NodeProto& node);
Tensor sliced(const Tensor& t, int64_t axis, int64_t start, int64_t end, int64_t step);
// A Gather from a constant table by computed ids: an embedding (import_constants.cpp).
void embedding(Importer& im, const onnx::NodeProto& node);
// An elementwise op of two ONNX inputs, data or constant (import_elementwise.cpp).
void binary(Importer& im, const onnx::NodeProto& node, const std::string& op);
// MatMul of two computed values (import_norm.cpp); a constant weight is import_ops.cpp's linear.
void matmul_of_values(Importer& im, const onnx::NodeProto& node);
// Consumes the nodes that only compute the shape an Expand of a constant is given (the batch size
// torch reads for cls.expand(B, -1, -1)): that Expand is the constant for every sample.
void consume_expand_shapes(Importer& im, const onnx::GraphProto& graph);
// Before shape inference: the output of such an Expand is [batch, ...the constant's other
// axes], which ONNX cannot infer from a shape computed on the batch size.
void annotate_expanded_constants(onnx::ModelProto& model);
// A Pad that no AveragePool takes over: gradflow's pad (import_shape_ops.cpp).
void pad_node(Importer& im, const onnx::NodeProto& node, const std::vector<int64_t>& pads);
// Shape, which folds (shape_folding.cpp): its converter sees only a Shape that did not fold.
void add_shape_folding_converters(std::map<std::string, Converter>& table);
void add_recurrent_converters(std::map<std::string, Converter>& table);
// Marks the nodes around every LSTM and GRU that their converter takes over (import_recurrent.cpp).
void claim_recurrent_nodes(Importer& im);

// Helpers the converters share.
const onnx::AttributeProto* find_attribute(const onnx::NodeProto& node, const std::string& name);
int64_t int_attribute(const onnx::NodeProto& node, const std::string& name, int64_t fallback);
float float_attribute(const onnx::NodeProto& node, const std::string& name, float fallback);
std::string string_attribute(const onnx::NodeProto& node, const std::string& name, const std::string& fallback);
// "conv1.weight" -> "conv1": the module a weight belongs to names the node, so the
// checkpoint's names are the torch state dict's.
std::string module_of(const std::string& weight_name);
Shape sample_of(Importer& im, const onnx::NodeProto& node, int input);
// ONNX names as graph-file names; a node's module path ("/blocks.0/act/Erf" -> "blocks.0_act").
std::string tidy_name(const std::string& raw);
std::string node_base_name(const onnx::NodeProto& node);
// An ONNX axis (the batch is 0; negative counts from the end) of a value whose sample has
// `sample_rank` axes, as a sample axis (gradflow's); the batch axis and out-of-range ones fail.
int64_t sample_axis(Importer& im, const onnx::NodeProto& node, int64_t axis, size_t sample_rank);
// The gradflow value for input `input` when it is a constant, broadcast against data of
// `data_rank` ONNX axes: a `parameter` for a trained tensor (an initializer with a state-dict
// name), else a `constant`; a leading axis of 1 that stands for the batch is dropped.
std::string constant_input(Importer& im, const onnx::NodeProto& node, int input, size_t data_rank,
                           const std::string& preferred = "");
// `value`, which a graph file will hold as text: a non-finite one (which YAML numbers cannot
// write) fails, naming `what`.
float finite(Importer& im, const onnx::NodeProto& node, float value, const std::string& what);
// `t` with its axes permuted (a constant's Transpose, folded).
Tensor permuted(const Tensor& t, const std::vector<int64_t>& perm);
// The ints of input `input` (opset 13 on) or of attribute `name` (before), or nullopt if neither.
std::optional<std::vector<int64_t>> ints_input_or_attribute(Importer& im, const onnx::NodeProto& node, int input,
                                                             const std::string& name);

}  // namespace gradflow::onnx_io
