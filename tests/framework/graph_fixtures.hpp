// Helpers for tests that build graphs from YAML text.
#pragma once

#include <string>
#include <vector>

#include "gradflow/graph_file.hpp"

namespace gradflow::test {

// Every diagnostic that parsing and building `yaml` reports, formatted as graph-runner
// prints them, with the file named "g.yaml".
inline std::vector<std::string> errors_of(const std::string& yaml) {
  std::vector<std::string> lines;
  try {
    load_graph_text(yaml, "g.yaml", default_registry());
  } catch (const GraphError& e) {
    for (const Diagnostic& d : e.diagnostics()) lines.push_back(d.format());
  }
  return lines;
}

// The graph of `yaml` built, with the data sets its `data:` names.
inline LoadedGraph load(const std::string& yaml, const Registry& registry = default_registry()) {
  return load_graph_text(yaml, "g.yaml", registry);
}

inline std::unique_ptr<Model> build(const std::string& yaml, const Registry& registry = default_registry()) {
  return load(yaml, registry).model;
}

// A valid XOR graph; tests replace parts of it to make it wrong.
inline const char* const kXor = R"(graph: xor
seed: 7
inputs:
  x: {shape: [2]}
  y: {shape: [1]}
nodes:
  - {name: fc1, op: linear, inputs: [x], units: 4}
  - {name: h1, op: sigmoid, inputs: [fc1]}
  - {name: fc2, op: linear, inputs: [h1], units: 1}
  - {name: out, op: sigmoid, inputs: [fc2]}
  - {name: loss, op: mse, inputs: [out, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.5}
data:
  train:
    x: [[0, 0], [0, 1], [1, 0], [1, 1]]
    y: [[0], [1], [1], [0]]
)";

inline std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("fixture text not found: " + from);
  return text.replace(at, from.size(), to);
}

}  // namespace gradflow::test
