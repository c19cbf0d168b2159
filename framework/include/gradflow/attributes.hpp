// Typed operator attributes: what a schema declares and what a node's YAML supplies.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace gradflow {

enum class AttrType { Int, Float, Bool, String, StringList };
const char* to_string(AttrType type);

using AttrValue = std::variant<int64_t, double, bool, std::string, std::vector<std::string>>;
std::string to_string(const AttrValue& value);

struct AttrSpec {
  std::string name;
  AttrType type = AttrType::Float;
  std::optional<AttrValue> default_value;  // none: the attribute is required
  std::string help;
  std::vector<std::string> choices;  // String only: the allowed values, when restricted
  std::optional<double> min;         // Int and Float: smallest allowed value
  bool min_exclusive = false;        // true: the value must be strictly above `min`

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

 private:
  const AttrValue& at(const std::string& name) const;
  std::map<std::string, AttrValue> values_;
};

}  // namespace gradflow
