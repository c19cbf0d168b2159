// A node's attributes read against its op's schema (the graph-file parser's part for attributes).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "gradflow/attributes.hpp"
#include "gradflow/diagnostics.hpp"
#include "gradflow/operator.hpp"

namespace gradflow {

// Every attribute of `schema` from the node mapping `entry`, defaults filled in. Reports keys
// that are neither attributes nor `reserved` (with a suggestion), missing required attributes,
// and values of the wrong type, out of range or not among the choices; `label` names the node.
Attributes read_attributes(const YAML::Node& entry, const std::string& label, const OpSchema& schema,
                           const std::vector<std::string>& reserved, const std::string& file,
                           Diagnostics& diagnostics);

}  // namespace gradflow
