// Conversions between gradflow tensors and ONNX TensorProto, shared by export and import.
// Internal to gradflow_onnx: this header may name protobuf types, the public ones may not.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gradflow/tensor.hpp"

namespace gradflow::onnx_io {

// A FLOAT initializer holding `t` (little-endian raw data, as ONNX Runtime prefers).
void float_tensor(const std::string& name, const Tensor& t, onnx::TensorProto& out);
// An INT64 initializer (Reshape's shape, axes).
void int64_tensor(const std::string& name, const std::vector<int64_t>& values, const Shape& shape,
                  onnx::TensorProto& out);

// A FLOAT (or DOUBLE, converted) tensor of an untrusted model; throws std::runtime_error
// naming `what` when its type, dims or data do not fit.
Tensor read_float_tensor(const onnx::TensorProto& proto, const std::string& what);
// An INT64 (or INT32) tensor of an untrusted model, flattened.
std::vector<int64_t> read_int64_tensor(const onnx::TensorProto& proto, const std::string& what);

}  // namespace gradflow::onnx_io
