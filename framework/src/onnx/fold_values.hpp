// The small tensors shape arithmetic computes (shapes, indices, sizes), evaluated at import as
// onnx-simplifier does, with the batch size kept symbolic. Used by shape_folding.cpp.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gradflow::onnx_io {

// Folded tensors are shapes and indices, never data: anything larger is left to the converters.
constexpr int64_t kMaxFoldedValues = 4096;

// One value of a folded tensor: a number, or the batch size (known only at run time).
struct Entry {
  double v = 0;
  bool batch = false;
  bool operator==(const Entry&) const = default;
};

struct FoldedValue {
  int elem = onnx::TensorProto::INT64;  // the ONNX element type
  std::vector<int64_t> dims;
  std::vector<Entry> entries;  // row-major
};

// ONNX value -> its dims as shape inference gives them, -1 where unknown; axis 0 of a tensor
// the graph computes from its inputs is the batch.
using KnownDims = std::map<std::string, std::vector<int64_t>>;
using FoldedValues = std::map<std::string, FoldedValue>;

// A small FLOAT, DOUBLE, INT64 or INT32 tensor as a folded value; nullopt for anything else.
std::optional<FoldedValue> folded_from_tensor(const onnx::TensorProto& t);

// The outputs of `node` when they are only arithmetic on folded values (or on a shape
// inference knows, for Shape); nullopt when not, or when they would depend on the batch
// size in a way a constant cannot say.
std::optional<std::vector<FoldedValue>> evaluate(const onnx::NodeProto& node, const FoldedValues& known,
                                                 const KnownDims& dims, int64_t opset);

}  // namespace gradflow::onnx_io
