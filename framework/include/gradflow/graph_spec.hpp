// A graph file as written (docs/graph-format.md), checked field by field but not yet built
// into a DAG: that is Model::build's job (model.hpp). The data sets its `data:` section names
// are read beside it and belong to the caller, never to the graph.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gradflow/attributes.hpp"
#include "gradflow/dataset.hpp"
#include "gradflow/diagnostics.hpp"
#include "gradflow/registry.hpp"
#include "gradflow/tensor.hpp"
#include "gradflow/train_spec.hpp"

namespace gradflow {

struct InputSpec {
  std::string name;
  Shape shape;  // per sample: no batch dimension
  SourceLocation where;
};

struct NodeSpec {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;
  std::vector<SourceLocation> input_where;  // one per input
  Attributes attributes;                    // every declared attribute, defaults filled in
  std::vector<std::string> params;          // optimizers: restrict to these nodes' parameters
  SourceLocation where;
};

struct GraphSpec {
  std::filesystem::path file;
  std::string name;
  uint64_t seed = 0;
  std::vector<std::filesystem::path> plugins;  // resolved against the graph file's folder
  std::vector<InputSpec> inputs;
  std::vector<NodeSpec> nodes;
  std::vector<std::string> outputs;  // empty: the prediction input of the first loss
  std::vector<std::string> labels;   // class names, one per class; empty: classes by index
  SourceLocation labels_where;       // the `labels:` list, for the check against the classes
  TrainSpec train;

  const InputSpec* find_input(const std::string& name) const;
};

// Called with the `plugins:` of a file before its nodes are checked, so that plugin
// operators validate like built-ins. Reports problems through the diagnostics.
using PluginLoader = std::function<void(const std::filesystem::path&, const SourceLocation&,
                                        Diagnostics&)>;

struct ParseOptions {
  PluginLoader load_plugin;
  std::optional<uint64_t> seed;  // overrides the file's `seed:` (graph-runner --seed)
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

}  // namespace gradflow
