// Fingerprints that data-parallel ranks compare before a run (TrainingRun): the graph file's
// bytes and the initial parameters. FNV-1a: fast, and any difference is what matters.
#pragma once

#include <cstdint>
#include <string>

#include "gradflow/model.hpp"

namespace gradflow {

uint64_t hash_file(const std::string& path);
// Every parameter's name and bytes, in parameters() order.
uint64_t hash_parameters(Model& model);

}  // namespace gradflow
