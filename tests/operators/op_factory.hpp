// Operator attributes as the loader fills them: every default of the schema, then the
// overrides a test names. Free of Catch2, so that op_table_cases (a plain program) shares it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "gradflow/attributes.hpp"
#include "gradflow/operator.hpp"

namespace gradflow::test {

using Overrides = std::vector<std::pair<std::string, AttrValue>>;

// Every default of the schema, then the overrides (the loader's validation does the same).
inline Attributes with_defaults(const OpSchema& schema, const Overrides& overrides = {}) {
  Attributes attrs;
  for (const AttrSpec& spec : schema.attributes)
    if (spec.default_value) attrs.set(spec.name, *spec.default_value);
  for (const auto& [name, value] : overrides) attrs.set(name, value);
  return attrs;
}

}  // namespace gradflow::test
