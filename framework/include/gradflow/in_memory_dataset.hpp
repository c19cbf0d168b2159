// Samples in memory: one column per graph input, [samples, ...sample shape].
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "gradflow/batch_source.hpp"
#include "gradflow/diagnostics.hpp"
#include "gradflow/tensor.hpp"

namespace gradflow {

// Where a column's samples came from, so that an error about sample i can name the file and
// its row: sample i is row rows[i] (or row i when `rows` is empty) of the file.
struct ColumnOrigin {
  std::string file;
  std::string unit = "row";  // what a position in the file is called: "row" (CSV) or "item" (IDX)
  int64_t first = 1;         // the number of sample 0 (a CSV's 1-based line, after a header)
  std::vector<int64_t> rows;
  SourceLocation source;     // the data source's place in the graph file, for run-time errors

  std::string describe(int64_t sample) const;  // "digits.csv.gz: row 17"
};

// The float each of the 256 byte values stands for in a byte column.
using ByteTable = std::array<float, 256>;

// One input's samples, [samples, ...sample shape], stored as floats or as bytes. Byte columns
// hold image pixels at a quarter of the memory (as torchvision keeps MNIST as uint8): each
// byte becomes its float through the column's table when rows are gathered into a batch, so
// the model sees exactly the floats a float column would hold.
class Column {
 public:
  Column() = default;
  // Implicit: a float column is just its tensor, wherever a Dataset is built from tensors.
  Column(Tensor values) : storage_(std::move(values)) {}
  // `bytes` holds the samples' values row-major in `shape` (a std::string so that a file's
  // buffer moves in without a copy); byte b reads as table[b].
  static Column from_bytes(std::string bytes, Shape shape, const ByteTable& table);
  // Windows into a byte buffer that several columns share (a `text:` corpus): sample k is the
  // shape[1] bytes from first + k * stride. The samples are never copied out, so overlapping
  // windows (stride 1) cost nothing; `shape` is [samples, length].
  static Column from_windows(std::shared_ptr<const std::string> bytes, int64_t first, int64_t stride, Shape shape,
                             const ByteTable& table);

  bool is_bytes() const { return !std::holds_alternative<Tensor>(storage_); }  // byte or window storage
  const Shape& shape() const;
  int64_t rows() const;               // samples
  Shape sample_shape() const;         // the shape without the sample axis
  int64_t value_count() const;        // all values of all samples
  float value(int64_t i) const;       // value i (row-major) as the model sees it (label checks)
  int64_t bytes() const;              // the memory the values take

  // Copies the samples at `indices`, in that order, into `batch`, resized to
  // [indices.size(), ...sample shape]; allocates only when `batch` must grow.
  void gather(std::span<const int64_t> indices, Tensor& batch) const;
  // The samples at `indices` as a column of the same storage kind (windows: as bytes).
  Column select(std::span<const int64_t> indices) const;
  // Keeps samples [0, rows) (rows <= rows()): without a copy for windows.
  void keep_first(int64_t rows);

  // The values of a float column, to fill in place (Predictor); std::logic_error for bytes.
  Tensor& floats();
  const Tensor& floats() const;

 private:
  struct Bytes {
    std::string values;
    Shape shape;
    ByteTable table;
  };
  struct Windows {
    std::shared_ptr<const std::string> values;
    int64_t first = 0, stride = 1;
    Shape shape;
    ByteTable table;

    const unsigned char* row(int64_t k) const {
      return reinterpret_cast<const unsigned char*>(values->data()) + first + k * stride;
    }
  };

  int64_t row_size() const;  // values per sample

  // A variant, not both members: copying a column copies only what it holds.
  std::variant<Tensor, Bytes, Windows> storage_;
};

// The samples of a data set, one column per graph input; what Model::load_batch reads.
struct Dataset final : BatchSource {
  std::map<std::string, Column> columns;
  int64_t size = 0;
  std::map<std::string, ColumnOrigin> origins;  // only for columns read from files

  // Not an aggregate (it has a base), so the aggregate's braces live on as a constructor.
  Dataset(std::map<std::string, Column> columns_ = {}, int64_t size_ = 0,
          std::map<std::string, ColumnOrigin> origins_ = {})
      : columns(std::move(columns_)), size(size_), origins(std::move(origins_)) {}

  bool empty() const { return size == 0; }
  // Column `input`'s samples at `indices` (Column::gather); false when there is no such column.
  bool gather(const std::string& input, std::span<const int64_t> indices, Tensor& batch) const override;
  // The samples at `indices`, in that order (a seeded train/test split, a shuffled batch).
  Dataset select(std::span<const int64_t> indices) const;
};

// The data sets a graph file's `data:` section names. The caller that reads them owns them.
struct DataSets {
  Dataset train;
  Dataset test;         // empty when the file has none
  Dataset validation;   // empty when the file has none: what early stopping and plateau watch
  SourceLocation where; // the `data:` key, where errors about the data as a whole point
};

// Copies the samples at `indices` of `column` into `batch`, resized to [indices.size(), ...].
void gather_rows(const Tensor& column, std::span<const int64_t> indices, Tensor& batch);

}  // namespace gradflow
