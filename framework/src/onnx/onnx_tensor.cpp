#include "onnx_tensor.hpp"

#include <fmt/format.h>

#include <cstring>
#include <limits>
#include <stdexcept>

namespace gradflow::onnx_io {

namespace {

// The element count the dims give; refuses negative dims and anything over gradflow's
// per-tensor limit before a byte is allocated (a hostile model may claim 2^62 values).
int64_t checked_count(const onnx::TensorProto& proto, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : proto.dims()) {
    if (d < 0) throw std::runtime_error(fmt::format("{} has a negative dimension {}", what, d));
    if (d != 0 && n > kMaxTensorElements / d)
      throw std::runtime_error(fmt::format("{} has more than {} values", what, kMaxTensorElements));
    n *= d;
  }
  return n;
}

Shape dims_of(const onnx::TensorProto& proto) { return Shape(proto.dims().begin(), proto.dims().end()); }

void refuse_external(const onnx::TensorProto& proto, const std::string& what) {
  if (proto.data_location() == onnx::TensorProto::EXTERNAL || proto.external_data_size() > 0)
    throw std::runtime_error(what + " keeps its data in an external file, which import does not read");
}

// Copies `n` little-endian values of type T out of raw_data, or of the typed field. The data
// present is checked against the dims before anything is allocated: a few hundred bytes may
// claim billions of values (the count is within kMaxTensorElements, not within the file).
template <class T, class Field>
std::vector<T> values_of(const onnx::TensorProto& proto, const Field& field, int64_t n, const std::string& what) {
  const auto count = static_cast<size_t>(n);
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != count * sizeof(T))
      throw std::runtime_error(
          fmt::format("{} has {} bytes of data, its dims need {}", what, proto.raw_data().size(), count * sizeof(T)));
    std::vector<T> out(count);
    if (n > 0) std::memcpy(out.data(), proto.raw_data().data(), count * sizeof(T));
    return out;
  }
  if (field.size() != n)
    throw std::runtime_error(fmt::format("{} has {} values, its dims need {}", what, field.size(), n));
  return std::vector<T>(field.begin(), field.end());
}

}  // namespace

void float_tensor(const std::string& name, const Tensor& t, onnx::TensorProto& out) {
  out.set_name(name);
  out.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : t.shape()) out.add_dims(d);
  out.set_raw_data(t.data(), static_cast<size_t>(t.size()) * sizeof(float));
}

void int64_tensor(const std::string& name, const std::vector<int64_t>& values, const Shape& shape,
                  onnx::TensorProto& out) {
  out.set_name(name);
  out.set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : shape) out.add_dims(d);
  for (int64_t v : values) out.add_int64_data(v);
}

Tensor read_float_tensor(const onnx::TensorProto& proto, const std::string& what) {
  refuse_external(proto, what);
  const int64_t n = checked_count(proto, what);
  std::vector<float> values;
  if (proto.data_type() == onnx::TensorProto::FLOAT) {
    values = values_of<float>(proto, proto.float_data(), n, what);
  } else if (proto.data_type() == onnx::TensorProto::DOUBLE) {
    for (double v : values_of<double>(proto, proto.double_data(), n, what)) values.push_back(static_cast<float>(v));
  } else {
    const int type = proto.data_type();
    throw std::runtime_error(fmt::format(
        "{} has element type {}; gradflow's weights are float32", what,
        onnx::TensorProto::DataType_IsValid(type)
            ? onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(type))
            : std::to_string(type)));
  }
  return Tensor(dims_of(proto), std::span<const float>(values));
}

std::vector<int64_t> read_int64_tensor(const onnx::TensorProto& proto, const std::string& what) {
  refuse_external(proto, what);
  const int64_t n = checked_count(proto, what);
  if (proto.data_type() == onnx::TensorProto::INT64) return values_of<int64_t>(proto, proto.int64_data(), n, what);
  if (proto.data_type() == onnx::TensorProto::INT32) {
    std::vector<int64_t> out;
    for (int32_t v : values_of<int32_t>(proto, proto.int32_data(), n, what)) out.push_back(v);
    return out;
  }
  throw std::runtime_error(what + " is not an integer tensor");
}

}  // namespace gradflow::onnx_io
