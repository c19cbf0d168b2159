// How an operator describes itself in ONNX (docs/onnx.md). `graph-runner export` hands every
// node of the inference graph an OnnxNodeWriter; the operator's OnnxExportable::export_onnx (operator.hpp)
// writes the standard ONNX nodes that compute its output. The interface names no protobuf
// type, so libgradflow, its headers and plugins never depend on protobuf: the writer is
// implemented by the separate gradflow_onnx library (framework/src/onnx/).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gradflow/tensor.hpp"

namespace gradflow {

struct Parameter;

// An ONNX node attribute: INT, FLOAT, INTS or STRING.
struct OnnxAttribute {
  std::string name;
  std::variant<int64_t, float, std::vector<int64_t>, std::string> value;
};

// Tensors in ONNX carry the batch axis first; the shapes given here exclude it (sample
// shapes), as everywhere in gradflow. Names returned by the writer are unique in the model.
class OnnxNodeWriter {
 public:
  virtual ~OnnxNodeWriter() = default;

  // The ONNX value names of the node's inputs, in order, and the name its output must get.
  virtual const std::vector<std::string>& inputs() const = 0;
  virtual const std::string& output() const = 0;
  // Sample shapes of the inputs and of the output (batch excluded).
  virtual const std::vector<Shape>& input_shapes() const = 0;
  virtual const Shape& output_shape() const = 0;
  // The opset the model is written for (17 unless --opset asks otherwise).
  virtual int opset() const = 0;

  // A fresh value name derived from the node's name and `hint`, for intermediate values.
  virtual std::string unique_name(std::string_view hint) = 0;
  // A node of the default ONNX domain.
  virtual void add_node(const std::string& op_type, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs,
                        const std::vector<OnnxAttribute>& attributes = {}) = 0;
  // Stores one of the operator's parameters as an initializer named as in checkpoints
  // ("<node>.<param>") and returns that name.
  virtual std::string parameter(const Parameter& param) = 0;
  // The same for other stored state (batch norm's running statistics, saved as
  // "<node>.<local_name>"): an initializer named as in checkpoints; returns that name.
  virtual std::string initializer(const std::string& local_name, const Tensor& value) = 0;
  // A float constant (an initializer with a fresh name), e.g. a threshold; returns its name.
  virtual std::string constant(std::string_view hint, const Tensor& value) = 0;
  // An int64 constant (Reshape's shape, axes); returns its name.
  virtual std::string int64_constant(std::string_view hint, const std::vector<int64_t>& values,
                                     const Shape& shape) = 0;
  // The name of an int64 tensor [1] holding the batch size, for nodes without inputs (parameter,
  // constant) whose value is repeated over the batch; taken from the model's first graph input.
  // Throws std::runtime_error when the model has no graph input to take it from.
  virtual std::string batch_size() { throw std::runtime_error("this ONNX writer knows no batch size"); }
};

}  // namespace gradflow
