// Small builders for AttrSpec so that schemas read as one line per attribute.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "gradflow/attributes.hpp"
#include "gradflow/operator.hpp"

namespace gradflow::ops {

inline AttrSpec attr(std::string name, AttrType type, std::optional<AttrValue> default_value,
                     std::string help) {
  AttrSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  spec.default_value = std::move(default_value);
  spec.help = std::move(help);
  return spec;
}

// A number with a lower bound (`exclusive`: the value must be strictly above it).
inline AttrSpec bounded(AttrSpec spec, double min, bool exclusive) {
  spec.min = min;
  spec.min_exclusive = exclusive;
  return spec;
}

// A number with an upper bound (`exclusive`: the value must be strictly below it); combines
// with `bounded` for a range, as dropout's p in [0, 1).
inline AttrSpec bounded_above(AttrSpec spec, double max, bool exclusive) {
  spec.max = max;
  spec.max_exclusive = exclusive;
  return spec;
}

// An integer-pair attribute (one integer for both sides, or [h, w]) whose every value is at
// least `min`: kernel_size and stride >= 1, padding >= 0.
inline AttrSpec pair_attr(std::string name, std::optional<AttrValue> default_value, double min, std::string help) {
  return bounded(attr(std::move(name), AttrType::IntPair, std::move(default_value), std::move(help)), min, false);
}

inline AttrSpec with_choices(AttrSpec spec, std::vector<std::string> choices) {
  spec.choices = std::move(choices);
  return spec;
}

// Every loss takes the same `reduction` attribute.
inline AttrSpec reduction_attr() {
  return with_choices(attr("reduction", AttrType::String, AttrValue{std::string("mean")},
                           "mean: average over all elements (like torch); sum: their sum"),
                      {"mean", "sum"});
}

// The sample shapes a single-input layer receives, checked for arity.
inline const Shape& single_input(std::span<const Shape> shapes, const char* op) {
  if (shapes.size() != 1)
    throw ShapeError(std::string(op) + " takes exactly one input, got " +
                     std::to_string(shapes.size()));
  return shapes[0];
}

}  // namespace gradflow::ops
