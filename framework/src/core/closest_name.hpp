// The "did you mean" of every message that names an unknown op, key, input or value.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gradflow {

// The candidate closest to `name` (edit distance), or "" when nothing is close.
std::string closest_name(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace gradflow
