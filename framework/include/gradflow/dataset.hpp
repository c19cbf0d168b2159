// Samples in memory: one tensor per graph input, [samples, ...sample shape].
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "gradflow/tensor.hpp"

namespace gradflow {

struct Dataset {
  std::map<std::string, Tensor> columns;
  int64_t size = 0;

  bool empty() const { return size == 0; }
  // The samples at `indices`, in that order (a seeded train/test split, a shuffled batch).
  Dataset select(std::span<const int64_t> indices) const;
};

// Copies the samples at `indices` of `column` into `batch`, resized to [indices.size(), ...].
void gather_rows(const Tensor& column, std::span<const int64_t> indices, Tensor& batch);

}  // namespace gradflow
