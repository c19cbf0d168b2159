// Small helpers over yaml-cpp shared by the graph-file parser and the data sources.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

#include "gradflow/diagnostics.hpp"

namespace gradflow {

inline SourceLocation locate(const std::string& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return {file, 0, 0};
  return {file, mark.line + 1, mark.column + 1};
}

// The text of a scalar for messages: "'abc'", or the kind of node when it is not a scalar.
inline std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "nothing";
  }
}

// Typed reads that return nothing when the scalar does not parse as T.
template <class T>
std::optional<T> scalar_as(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  T value;
  if (!YAML::convert<T>::decode(node, value)) return std::nullopt;
  return value;
}

}  // namespace gradflow
