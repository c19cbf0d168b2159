#include "gradflow/dataset.hpp"

#include <algorithm>
#include <stdexcept>

namespace gradflow {

void gather_rows(const Tensor& column, std::span<const int64_t> indices, Tensor& batch) {
  const int64_t row = column.rank() > 1 ? column.size() / column.dim(0) : 1;
  batch.resize(column.shape(), 0, static_cast<int64_t>(indices.size()));
  const float* source = column.data();
  float* target = batch.data();
  for (int64_t index : indices) {
    std::copy_n(source + index * row, row, target);
    target += row;
  }
}

Column Column::from_bytes(std::string bytes, Shape shape, const ByteTable& table) {
  if (shape.empty() || static_cast<int64_t>(bytes.size()) != numel(shape))
    throw std::invalid_argument("a byte column of shape " + to_string(shape) + " needs " +
                                std::to_string(numel(shape)) + " bytes, got " + std::to_string(bytes.size()));
  Column column;
  column.storage_ = Bytes{std::move(bytes), std::move(shape), table};
  return column;
}

const Shape& Column::shape() const {
  if (const Bytes* b = std::get_if<Bytes>(&storage_)) return b->shape;
  return std::get<Tensor>(storage_).shape();
}

int64_t Column::rows() const {
  const Shape& s = shape();
  return s.empty() ? 0 : s[0];
}

Shape Column::sample_shape() const {
  const Shape& s = shape();
  return s.empty() ? Shape{} : Shape(s.begin() + 1, s.end());
}

int64_t Column::value_count() const {
  if (const Bytes* b = std::get_if<Bytes>(&storage_)) return static_cast<int64_t>(b->values.size());
  return std::get<Tensor>(storage_).size();
}

int64_t Column::row_size() const {
  const int64_t n = rows();
  return n == 0 ? 0 : value_count() / n;
}

float Column::value(int64_t i) const {
  if (const Bytes* b = std::get_if<Bytes>(&storage_))
    return b->table[static_cast<unsigned char>(b->values[static_cast<size_t>(i)])];
  return std::get<Tensor>(storage_)[i];
}

int64_t Column::bytes() const {
  if (const Bytes* b = std::get_if<Bytes>(&storage_)) return static_cast<int64_t>(b->values.size());
  return std::get<Tensor>(storage_).size() * static_cast<int64_t>(sizeof(float));
}

void Column::gather(std::span<const int64_t> indices, Tensor& batch) const {
  const Bytes* b = std::get_if<Bytes>(&storage_);
  if (!b) return gather_rows(std::get<Tensor>(storage_), indices, batch);
  const int64_t row = row_size();
  batch.resize(b->shape, 0, static_cast<int64_t>(indices.size()));
  const auto* source = reinterpret_cast<const unsigned char*>(b->values.data());
  float* target = batch.data();
  for (int64_t index : indices) {
    const unsigned char* pixels = source + index * row;
    for (int64_t j = 0; j < row; ++j) target[j] = b->table[pixels[j]];
    target += row;
  }
}

Column Column::select(std::span<const int64_t> indices) const {
  const Bytes* b = std::get_if<Bytes>(&storage_);
  if (!b) {
    Tensor picked;
    gather_rows(std::get<Tensor>(storage_), indices, picked);
    return picked;
  }
  const int64_t row = row_size();
  std::string picked(indices.size() * static_cast<size_t>(row), '\0');
  char* target = picked.data();
  for (int64_t index : indices) target = std::copy_n(b->values.data() + index * row, row, target);
  Shape shape = b->shape;
  shape[0] = static_cast<int64_t>(indices.size());
  return from_bytes(std::move(picked), std::move(shape), b->table);
}

Tensor& Column::floats() {
  if (is_bytes()) throw std::logic_error("Column::floats() on a byte column");
  return std::get<Tensor>(storage_);
}

const Tensor& Column::floats() const {
  if (is_bytes()) throw std::logic_error("Column::floats() on a byte column");
  return std::get<Tensor>(storage_);
}

std::string ColumnOrigin::describe(int64_t sample) const {
  const int64_t row = rows.empty() ? sample : rows[static_cast<size_t>(sample)];
  return file + ": " + unit + " " + std::to_string(first + row);
}

Dataset Dataset::select(std::span<const int64_t> indices) const {
  Dataset subset;
  subset.size = static_cast<int64_t>(indices.size());
  for (const auto& [name, column] : columns) subset.columns[name] = column.select(indices);
  for (const auto& [name, origin] : origins) {
    ColumnOrigin& picked = subset.origins[name];
    picked = ColumnOrigin{origin.file, origin.unit, origin.first, {}};
    for (int64_t i : indices) picked.rows.push_back(origin.rows.empty() ? i : origin.rows[static_cast<size_t>(i)]);
  }
  return subset;
}

}  // namespace gradflow
