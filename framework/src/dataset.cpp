#include "gradflow/dataset.hpp"

#include <algorithm>

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

std::string ColumnOrigin::describe(int64_t sample) const {
  const int64_t row = rows.empty() ? sample : rows[static_cast<size_t>(sample)];
  return file + ": " + unit + " " + std::to_string(first + row);
}

Dataset Dataset::select(std::span<const int64_t> indices) const {
  Dataset subset;
  subset.size = static_cast<int64_t>(indices.size());
  for (const auto& [name, column] : columns) gather_rows(column, indices, subset.columns[name]);
  for (const auto& [name, origin] : origins) {
    ColumnOrigin& picked = subset.origins[name];
    picked = ColumnOrigin{origin.file, origin.unit, origin.first, {}};
    for (int64_t i : indices) picked.rows.push_back(origin.rows.empty() ? i : origin.rows[static_cast<size_t>(i)]);
  }
  return subset;
}

}  // namespace gradflow
