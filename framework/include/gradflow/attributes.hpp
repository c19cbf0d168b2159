// Typed operator attributes: what a schema declares and what a node's YAML supplies.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace gradflow {

// IntPair: one integer (both sides) or a list [h, w], stored as a list of 2 (kernel_size,
// stride, padding of the image operators). IntList: a list of integers of any length.
// NumberPair: one number (both sides) or a list [h, w] of numbers, stored as a list of 2
// doubles (upsample's scale_factor). FloatList: a number or a list of numbers, nested to any
// depth (constant's value), stored flattened in row-major order, with the sizes of its nesting levels.
enum class AttrType { Int, Float, Bool, String, StringList, IntPair, IntList, NumberPair, FloatList };
const char* to_string(AttrType type);

// A FloatList's numbers, flattened, and its nesting: `shape` is {} for a bare number, {2, 3}
// for [[1, 2, 3], [4, 5, 6]].
struct FloatList {
  std::vector<double> values;
  std::vector<int64_t> shape;
  bool operator==(const FloatList&) const = default;
};

using AttrValue = std::variant<int64_t, double, bool, std::string, std::vector<std::string>, std::vector<int64_t>,
                               std::vector<double>, FloatList>;
std::string to_string(const AttrValue& value);

struct AttrSpec {
  std::string name;
  AttrType type = AttrType::Float;
  std::optional<AttrValue> default_value;  // none: the attribute is required
  std::string help;
  std::vector<std::string> choices;  // String only: the allowed values, when restricted
  // Int and Float: the allowed range; IntPair and IntList: the range of every element.
  std::optional<double> min;         // smallest allowed value
  bool min_exclusive = false;        // true: the value must be strictly above `min`
  // The members below have default initializers, so that schemas written as aggregates before
  // they existed still compile without -Wmissing-field-initializers.
  std::optional<double> max = std::nullopt;  // largest allowed value
  bool max_exclusive = false;        // true: the value must be strictly below `max`
  // What `graph-runner ops` shows as the default when the default depends on other attributes
  // (pooling's stride: "kernel_size"); the operator then reads an empty default_value as unset.
  std::string default_text{};

  bool required() const { return !default_value.has_value(); }
};

// The attributes of one node after validation: every declared attribute has a value.
class Attributes {
 public:
  void set(const std::string& name, AttrValue value) { values_[name] = std::move(value); }
  bool has(const std::string& name) const { return values_.count(name) != 0; }

  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;  // an Int value converts
  bool get_bool(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  const std::vector<std::string>& get_strings(const std::string& name) const;
  const std::vector<int64_t>& get_ints(const std::string& name) const;
  // A FloatList; a bare number (tests that set attributes directly) is one value of shape {}.
  FloatList get_float_list(const std::string& name) const;
  // An IntPair as {h, w}; a bare Int (tests that set attributes directly) counts for both.
  std::array<int64_t, 2> get_pair(const std::string& name) const;
  // The same, or nothing for an empty list: the default of a pair that defaults to another
  // attribute (pooling's stride, whose default_text is "kernel_size").
  std::optional<std::array<int64_t, 2>> get_optional_pair(const std::string& name) const;
  // A NumberPair as {h, w}; a bare number (tests that set attributes directly) counts for both.
  std::array<double, 2> get_number_pair(const std::string& name) const;

 private:
  const AttrValue& at(const std::string& name) const;
  std::map<std::string, AttrValue> values_;
};

}  // namespace gradflow
