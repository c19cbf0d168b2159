// Samples in memory: one tensor per graph input, [samples, ...sample shape].
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "gradflow/tensor.hpp"

namespace gradflow {

// Where a column's samples came from, so that an error about sample i can name the file and
// its row: sample i is row rows[i] (or row i when `rows` is empty) of the file.
struct ColumnOrigin {
  std::string file;
  std::string unit = "row";  // what a position in the file is called: "row" (CSV) or "item" (IDX)
  int64_t first = 1;         // the number of sample 0 (a CSV's 1-based line, after a header)
  std::vector<int64_t> rows;

  std::string describe(int64_t sample) const;  // "digits.csv.gz: row 17"
};

struct Dataset {
  std::map<std::string, Tensor> columns;
  int64_t size = 0;
  std::map<std::string, ColumnOrigin> origins;  // only for columns read from files

  bool empty() const { return size == 0; }
  // The samples at `indices`, in that order (a seeded train/test split, a shuffled batch).
  Dataset select(std::span<const int64_t> indices) const;
};

// Copies the samples at `indices` of `column` into `batch`, resized to [indices.size(), ...].
void gather_rows(const Tensor& column, std::span<const int64_t> indices, Tensor& batch);

}  // namespace gradflow
