// What Model::load_batch copies a batch from: samples by graph input name. The graph holds no
// data and knows no data set type; an in-memory Dataset (in_memory_dataset.hpp) is one source.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "gradflow/tensor.hpp"

namespace gradflow {

class BatchSource {
 public:
  // Copies the samples at `indices` of graph input `input`, in that order, into `batch`, resized
  // to [indices.size(), ...sample shape]; false, `batch` untouched, when the source lacks it.
  virtual bool gather(const std::string& input, std::span<const int64_t> indices, Tensor& batch) const = 0;

 protected:
  BatchSource() = default;
  BatchSource(const BatchSource&) = default;
  BatchSource& operator=(const BatchSource&) = default;
  BatchSource(BatchSource&&) = default;
  BatchSource& operator=(BatchSource&&) = default;
  ~BatchSource() = default;  // never owned through this interface
};

}  // namespace gradflow
