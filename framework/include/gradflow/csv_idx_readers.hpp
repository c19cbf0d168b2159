// Readers for the data files a graph's `data:` section can name: numeric CSV and IDX (the
// MNIST format), each optionally gzipped. Every failure is a DataFileError naming the file
// and, where it applies, the row, so the CLI can report it in one line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradflow/tensor.hpp"

namespace gradflow {

// Thrown for a malformed data file. `row` is the 1-based line for CSV, the sample index for
// IDX (0-based for a truncated file, 1-based for a NaN or infinite value), or -1 when the
// problem is not tied to one row; `column` is the 1-based CSV field or value within an IDX
// sample, or -1. NaN and infinite values are refused (CSV and IDX float and double files).
// what() is "FILE: row N: WHAT", "FILE: row N, column C: WHAT", or "FILE: WHAT" when row < 0.
struct DataFileError : std::runtime_error {
  DataFileError(std::string file, int64_t row, const std::string& what);
  DataFileError(std::string file, int64_t row, int64_t column, const std::string& what);
  std::string file;
  int64_t row;
  int64_t column = -1;
};

struct CsvOptions {
  bool header = false;   // the first line holds column names and is skipped
  char delimiter = ',';
  // Empty: all columns, in order. Otherwise these 0-based columns in this order; negative
  // indices count from the end (-1 = last). Only selected columns are parsed, so other
  // columns may hold text (ids, names).
  std::vector<int64_t> columns;
};

// Reads a numeric CSV file (gzipped or not, detected by its magic bytes) into a
// [rows, selected_columns] tensor. Fields may be surrounded by spaces; numbers are parsed
// locale-independently. Blank lines at the end are ignored; every row must have as many
// fields as the first data row (a header line may have another number). Column numbers in messages are 1-based, like spreadsheets.
Tensor read_csv(const std::filesystem::path& path, const CsvOptions& options = {});

// Reads an IDX file (gzipped or not) into an [N, d1, ...] tensor of the raw values,
// converted to float without scaling (pixels stay 0..255).
Tensor read_idx(const std::filesystem::path& path);

// The whole file as bytes; gunzipped (all members) when it starts with the gzip magic 1f 8b.
std::string read_maybe_gzipped(const std::filesystem::path& path);

}  // namespace gradflow
