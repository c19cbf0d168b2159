// Small helpers over yaml-cpp shared by the graph-file parser and the data section.
#pragma once

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "gradflow/closest_name.hpp"
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

// "did you mean 'x'? " when a known name is close to `name`, else "".
inline std::string did_you_mean(const std::string& name, const std::vector<std::string>& known) {
  const std::string close = closest_name(name, known);
  return close.empty() ? "" : fmt::format("did you mean '{}'? ", close);
}

// How check_known_keys words an unknown key:
// "PREFIXunknown WHAT 'k'PLACE (did you mean 'x'? expected one of: ...)".
struct UnknownKeyMessage {
  std::string prefix;  // what the key belongs to, "data.train.x: "; often nothing
  std::string what;    // "key in 'data'", "key"
  std::string place;   // " in a text source"; often nothing
};

// Reports every key of `map` that is not in `known`, at the key; returns whether all were known.
inline bool check_known_keys(const YAML::Node& map, const std::vector<std::string>& known,
                             const UnknownKeyMessage& message, const std::string& file, Diagnostics& diagnostics) {
  bool ok = true;
  for (const auto& item : map) {
    const std::string key = item.first.as<std::string>();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    diagnostics.error(locate(file, item.first),
                      fmt::format("{}unknown {} '{}'{} ({}expected one of: {})", message.prefix, message.what, key,
                                  message.place, did_you_mean(key, known), fmt::join(known, ", ")));
    ok = false;
  }
  return ok;
}

// The same, worded "unknown WHAT 'k' (did you mean 'x'? expected one of: ...)".
inline bool check_known_keys(const YAML::Node& map, const std::vector<std::string>& known, const std::string& what,
                             const std::string& file, Diagnostics& diagnostics) {
  return check_known_keys(map, known, UnknownKeyMessage{"", what, ""}, file, diagnostics);
}

}  // namespace gradflow
