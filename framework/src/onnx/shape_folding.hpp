// Shape arithmetic folded at import (shape_folding.cpp). Internal to gradflow_onnx.
#pragma once

#include <onnx/onnx_pb.h>

namespace gradflow::onnx_io {

// Replaces the nodes of `model` that only compute on shapes by initializers holding what the
// other nodes read of them; `model` must have been through ONNX shape inference. Returns whether
// anything changed (its shapes must then be inferred again).
bool fold_shape_arithmetic(onnx::ModelProto& model);

}  // namespace gradflow::onnx_io
