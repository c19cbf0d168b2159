// gradflow_onnx: ONNX export and import (docs/onnx.md), a separate static library that
// graph-runner links, so that libgradflow, its public headers and plugins never depend on
// protobuf or libonnx (as gradflow_distributed keeps MPI out of them). Nothing here names a
// protobuf type either.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "gradflow/model.hpp"
#include "gradflow/registry.hpp"
#include "gradflow/safetensors.hpp"

namespace gradflow::onnx_io {

inline constexpr int kDefaultOpset = 17;
inline constexpr int kMinOpset = 13;  // Softmax over one axis and Split/Squeeze as now since 13
inline constexpr int kMaxOpset = 17;  // the newest opset Debian's libonnx 1.12 checks

// The inference graph of `model` (its `outputs` and what they need, in evaluation mode, with
// the model's current weights) as an ONNX model, checked by onnx::checker and ONNX shape
// inference, written atomically to `out`. A node without an ONNX form is a GraphError at its
// line, naming the node, its op and, for a plugin op, the plugin library.
void export_model(const Model& model, const Registry& registry, const std::filesystem::path& out, int opset);

// What import makes of an ONNX model: a graph file's text and its weights, in gradflow's
// checkpoint layout ("<node>.<param>").
struct ImportedModel {
  std::string graph_text;
  TensorFile weights;
  // Line of graph_text -> the ONNX node that line's node comes from ("node '/fc/Gemm' (op_type
  // Gemm)"): an error gradflow finds in the graph is reported at that node, since the graph
  // file is never written when it has one.
  std::map<int, std::string> origins;
};

// Reads an ONNX model from bytes (`source` names it in messages). Anything that is not a
// valid model, or that uses an operator gradflow lacks, throws std::runtime_error with a
// one-line message "SOURCE: WHAT"; never crashes on hostile input. `graph_name` is the
// `graph:` of the file written, `weights_name` the checkpoint its comment names.
ImportedModel import_model(const std::string& bytes, const std::string& source, const std::string& graph_name,
                           const std::string& weights_name);

// The ONNX operator types import understands, sorted: for messages and docs.
std::string supported_import_ops();

}  // namespace gradflow::onnx_io
