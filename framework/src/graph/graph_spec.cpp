#include "gradflow/graph_spec.hpp"

namespace gradflow {

const InputSpec* GraphSpec::find_input(const std::string& input_name) const {
  for (const InputSpec& input : inputs)
    if (input.name == input_name) return &input;
  return nullptr;
}

}  // namespace gradflow
