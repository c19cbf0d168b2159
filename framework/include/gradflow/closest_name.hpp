// The "did you mean" of every message that names an unknown op, key, input, value or (graph-runner)
// subcommand.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gradflow {

// The candidate closest to `name`, or "" when nothing is close: first one that differs only in case and
// underscores, or by a class-name suffix ("ReLU", "CrossEntropyLoss", "BatchNorm2d" name relu, cross_entropy,
// batch_norm), then the nearest by edit distance ignoring case, a swap of neighbours counting as one edit.
std::string closest_name(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace gradflow
