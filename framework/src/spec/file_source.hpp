// File data sources of a graph file's `data:` section (CSV, IDX), read into columns.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>

#include "gradflow/diagnostics.hpp"
#include "gradflow/in_memory_dataset.hpp"
#include "gradflow/tensor.hpp"

namespace gradflow {

// Reads the file source `mapping` (e.g. {csv: digits.csv.gz, columns: "0:64"}) for the input
// `input` of sample shape `sample_shape`; relative paths are resolved against `base_dir`.
// Returns [samples, ...sample_shape] (bytes for the pixels of a ubyte IDX file, floats otherwise)
// or nothing, with the reason in `diagnostics`; `origin`, when given, is set to where each
// sample came from.
std::optional<Column> read_file_source(const YAML::Node& mapping, const std::string& file,
                                       const std::filesystem::path& base_dir,
                                       const std::string& input, const Shape& sample_shape,
                                       Diagnostics& diagnostics, ColumnOrigin* origin = nullptr);

}  // namespace gradflow
