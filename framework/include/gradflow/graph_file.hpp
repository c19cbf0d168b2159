// A graph file read whole (docs/graph-format.md): its graph, checked field by field, and the
// data sets its `data:` section names, which belong to the caller, never to the graph; then
// `load_graph`, the one call that turns a file into a built model and its data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "gradflow/diagnostics.hpp"
#include "gradflow/graph_spec.hpp"
#include "gradflow/in_memory_dataset.hpp"
#include "gradflow/model.hpp"
#include "gradflow/registry.hpp"

namespace gradflow {

// Called with the `plugins:` of a file before its nodes are checked, so that plugin
// operators validate like built-ins. Reports problems through the diagnostics.
using PluginLoader = std::function<void(const std::filesystem::path&, const SourceLocation&,
                                        Diagnostics&)>;

struct ParseOptions {
  PluginLoader load_plugin;
  std::optional<uint64_t> seed;  // overrides the file's `seed:` (graph-runner --seed)
  // false: the deploy load path (the embedding API). The `data:` section is skipped and none of its files
  // is opened, and the checks that need data (a validation part for early stopping) are left out.
  bool read_data = true;
};

// A graph file read whole: its graph and the data sets of its `data:` section.
struct GraphFile {
  GraphSpec graph;
  DataSets data;
};

// Reads and checks a graph file against `registry`. Every problem found goes to `diagnostics`;
// the result is meaningful only when no error was recorded.
GraphFile parse_graph_file(const std::filesystem::path& file, const Registry& registry,
                           Diagnostics& diagnostics, const ParseOptions& options = {});

// The same, from text (tests; `file` names it in messages).
GraphFile parse_graph_text(const std::string& text, const std::filesystem::path& file,
                           const Registry& registry, Diagnostics& diagnostics,
                           const ParseOptions& options = {});

// A graph file loaded for running: the built model and the data sets the file names, which
// belong to the caller.
struct LoadedGraph {
  std::unique_ptr<Model> model;
  DataSets data;
};

// Parses a graph file, reads its data, builds the graph and checks the data's targets against
// its losses; throws GraphError with every problem found.
LoadedGraph load_graph(const std::filesystem::path& file, const Registry& registry,
                       const ParseOptions& options = {});
// The same from text (tests; `file` names it in messages and anchors relative data paths).
LoadedGraph load_graph_text(const std::string& text, const std::filesystem::path& file, const Registry& registry,
                            const ParseOptions& options = {});

// Reports every target column of `data` that a loss reading it rejects (TargetChecker::check_target:
// a class index outside [0, classes), for instance), naming the data file and row; then
// check_inputs.
void check_targets(const Model& model, const DataSets& data, Diagnostics& diagnostics);
// Reports every input column of `data` that an operator reading it directly rejects
// (InputChecker::check_input: a token id outside [0, num_embeddings)), naming the file and sample.
void check_inputs(const Model& model, const DataSets& data, Diagnostics& diagnostics);

}  // namespace gradflow
