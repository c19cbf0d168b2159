// A graph file's `data:` section: the training and test sets, inline or from files (CSV, IDX),
// and the seeded `split:` of one into the other. The graph parser hands the section over here.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>

#include "gradflow/diagnostics.hpp"
#include "gradflow/graph_spec.hpp"
#include "gradflow/in_memory_dataset.hpp"

namespace gradflow {

// Reads the section `data` of `file` for the inputs of `graph`; relative paths are resolved
// against `base_dir`. Every problem goes to `diagnostics`.
DataSets read_data_section(const YAML::Node& data, const GraphSpec& graph, const std::string& file,
                           const std::filesystem::path& base_dir, Diagnostics& diagnostics);

}  // namespace gradflow
