// A graph as its file describes it (docs/graph-format.md), checked field by field but not yet
// built into a DAG: that is Model::build's job (model.hpp). Reading the file, and the data sets
// its `data:` section names, is spec/'s (graph_file.hpp): the graph holds no data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gradflow/attributes.hpp"
#include "gradflow/diagnostics.hpp"
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

}  // namespace gradflow
