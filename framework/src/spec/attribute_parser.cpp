// A node's attributes, checked against its op's schema: names, types, bounds and choices.
#include "spec/attribute_parser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "spec/yaml_util.hpp"

namespace gradflow {

namespace {

bool in_range(double v, const AttrSpec& attr) {
  if (attr.min && (attr.min_exclusive ? v <= *attr.min : v < *attr.min)) return false;
  if (attr.max && (attr.max_exclusive ? v >= *attr.max : v > *attr.max)) return false;
  return true;
}

// "must be >= 1", "must be < 1", "must be >= 0 and < 1"; `each` for the elements of a list.
std::string range_text(const AttrSpec& attr, bool each = false) {
  std::string text = each ? "must have every value" : "must be";
  if (attr.min) text += fmt::format(" {} {}", attr.min_exclusive ? ">" : ">=", *attr.min);
  if (attr.min && attr.max) text += " and";
  if (attr.max) text += fmt::format(" {} {}", attr.max_exclusive ? "<" : "<=", *attr.max);
  return text;
}

// A list of scalars as written, "[3, 2, 1]", so that an error shows the list it refuses.
std::string list_text(const YAML::Node& value) {
  if (!value.IsSequence()) return describe(value);
  std::vector<std::string> items;
  for (const YAML::Node& item : value) {
    if (!item.IsScalar()) return describe(value);
    items.push_back(item.Scalar());
  }
  return fmt::format("[{}]", fmt::join(items, ", "));
}

// Nested lists of scalars as written, "[[1, 2], [3]]"; anything else as describe() says it.
std::string nested_text(const YAML::Node& value) {
  if (value.IsScalar()) return value.Scalar();
  if (!value.IsSequence()) return describe(value);
  std::vector<std::string> items;
  for (const YAML::Node& item : value) items.push_back(nested_text(item));
  return fmt::format("[{}]", fmt::join(items, ", "));
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

class AttributeReader {
 public:
  AttributeReader(const std::string& label, const OpSchema& schema, const std::string& file, Diagnostics& diagnostics)
      : label_(label), schema_(schema), file_(file), diagnostics_(diagnostics) {}

  void report_unknown_keys(const YAML::Node& entry, const std::vector<std::string>& reserved) {
    std::vector<std::string> known;
    for (const AttrSpec& attr : schema_.attributes) known.push_back(attr.name);
    for (const auto& item : entry) {
      const std::string key = item.first.as<std::string>();
      if (contains(reserved, key) || contains(known, key)) continue;
      diagnostics_.error(locate(file_, item.first),
                         fmt::format("{}: unknown attribute '{}' for op '{}' ({}{})", label_, key, schema_.name,
                                     did_you_mean(key, known),
                                     known.empty() ? std::string("it takes no attributes")
                                                   : fmt::format("known: {}", fmt::join(known, ", "))));
    }
  }

  Attributes read_values(const YAML::Node& entry) {
    Attributes attributes;
    for (const AttrSpec& attr : schema_.attributes) {
      const YAML::Node value = entry[attr.name];
      if (!value) {
        if (attr.required())
          diagnostics_.error(locate(file_, entry), fmt::format("{}: op '{}' needs attribute '{}' ({})", label_,
                                                               schema_.name, attr.name, to_string(attr.type)));
        else
          attributes.set(attr.name, *attr.default_value);
        continue;
      }
      if (auto parsed = parse(value, attr)) attributes.set(attr.name, *parsed);
    }
    return attributes;
  }

 private:
  std::optional<AttrValue> fail(const YAML::Node& value, const AttrSpec& attr, const std::string& why) {
    return fail(value, attr, why, describe(value));
  }

  std::optional<AttrValue> fail(const YAML::Node& value, const AttrSpec& attr, const std::string& why,
                                const std::string& got) {
    diagnostics_.error(locate(file_, value),
                       fmt::format("{}: attribute '{}' of op '{}' {}, got {}", label_, attr.name, schema_.name, why, got));
    return std::nullopt;
  }

  std::optional<AttrValue> parse(const YAML::Node& value, const AttrSpec& attr) {
    switch (attr.type) {
      case AttrType::Int: {
        auto v = scalar_as<int64_t>(value);
        if (!v) return fail(value, attr, "must be an integer");
        if (!in_range(static_cast<double>(*v), attr)) return fail(value, attr, range_text(attr));
        return AttrValue{*v};
      }
      case AttrType::Float: {
        auto v = scalar_as<double>(value);
        if (!v || !std::isfinite(*v)) return fail(value, attr, "must be a number");
        if (!in_range(*v, attr)) return fail(value, attr, range_text(attr));
        return AttrValue{*v};
      }
      case AttrType::Bool: {
        auto v = scalar_as<bool>(value);
        if (!v) return fail(value, attr, "must be true or false");
        return AttrValue{*v};
      }
      case AttrType::String: {
        auto v = scalar_as<std::string>(value);
        if (!v) return fail(value, attr, "must be a string");
        if (!attr.choices.empty() && !contains(attr.choices, *v))
          return fail(value, attr, fmt::format("must be one of {}", fmt::join(attr.choices, ", ")));
        return AttrValue{*v};
      }
      case AttrType::StringList: {
        if (!value.IsSequence()) return fail(value, attr, "must be a list of names");
        std::vector<std::string> names;
        for (const YAML::Node& item : value) {
          auto v = scalar_as<std::string>(item);
          if (!v) return fail(value, attr, "must be a list of names");
          names.push_back(*v);
        }
        return AttrValue{names};
      }
      case AttrType::IntPair: return parse_ints(value, attr, 2);
      case AttrType::IntList: return parse_ints(value, attr, 0);
      case AttrType::NumberPair: return parse_number_pair(value, attr);
      case AttrType::FloatList: {
        FloatList list;
        if (!flatten_numbers(value, 0, list))
          return fail(value, attr, "must be a number or a list of numbers nested evenly (every row as long)",
                      value.IsSequence() ? nested_text(value) : describe(value));
        return AttrValue{list};
      }
    }
    return std::nullopt;
  }

  // An IntPair (`size` 2: one integer for both sides, or a list of two) or an IntList (`size`
  // 0: a non-empty list of any length), every value within the spec's range.
  std::optional<AttrValue> parse_ints(const YAML::Node& value, const AttrSpec& attr, size_t size) {
    const char* what = size == 2 ? "must be an integer or a list of 2 integers" : "must be a list of integers";
    std::vector<int64_t> ints;
    if (size == 2 && value.IsScalar()) {
      auto v = scalar_as<int64_t>(value);
      if (!v) return fail(value, attr, what);
      ints.assign(2, *v);
    } else {
      if (!value.IsSequence() || value.size() == 0 || (size != 0 && value.size() != size))
        return fail(value, attr, what, list_text(value));
      for (const YAML::Node& item : value) {
        auto v = scalar_as<int64_t>(item);
        if (!v) return fail(value, attr, what, list_text(value));
        ints.push_back(*v);
      }
    }
    for (int64_t v : ints)
      if (!in_range(static_cast<double>(v), attr))
        return fail(value, attr, range_text(attr, value.IsSequence()), list_text(value));
    return AttrValue{ints};
  }

  // A NumberPair: one finite number for both sides, or a list of two, each within the spec's range.
  std::optional<AttrValue> parse_number_pair(const YAML::Node& value, const AttrSpec& attr) {
    const char* what = "must be a number or a list of 2 numbers";
    std::vector<double> numbers;
    if (value.IsScalar()) {
      auto v = scalar_as<double>(value);
      if (!v || !std::isfinite(*v)) return fail(value, attr, what);
      numbers.assign(2, *v);
    } else {
      if (!value.IsSequence() || value.size() != 2) return fail(value, attr, what, list_text(value));
      for (const YAML::Node& item : value) {
        auto v = scalar_as<double>(item);
        if (!v || !std::isfinite(*v)) return fail(value, attr, what, list_text(value));
        numbers.push_back(*v);
      }
    }
    for (double v : numbers)
      if (!in_range(v, attr)) return fail(value, attr, range_text(attr, value.IsSequence()), list_text(value));
    return AttrValue{numbers};
  }

  // Appends the numbers of `value` at nesting `level` to `list`, recording each level's size
  // the first time it is met; false when an entry is not a finite number, a list is empty, or
  // two lists of one level differ in size.
  static bool flatten_numbers(const YAML::Node& value, size_t level, FloatList& list) {
    if (!value.IsSequence()) {
      auto v = scalar_as<double>(value);
      if (!v || !std::isfinite(*v) || level != list.shape.size()) return false;
      list.values.push_back(*v);
      return true;
    }
    const auto size = static_cast<int64_t>(value.size());
    if (size == 0) return false;
    if (level == list.shape.size()) {
      if (!list.values.empty()) return false;  // a list where an earlier row held a number
      list.shape.push_back(size);
    } else if (list.shape[level] != size) {
      return false;
    }
    for (const YAML::Node& item : value)
      if (!flatten_numbers(item, level + 1, list)) return false;
    return true;
  }

  const std::string& label_;
  const OpSchema& schema_;
  const std::string& file_;
  Diagnostics& diagnostics_;
};

}  // namespace

Attributes read_attributes(const YAML::Node& entry, const std::string& label, const OpSchema& schema,
                           const std::vector<std::string>& reserved, const std::string& file,
                           Diagnostics& diagnostics) {
  AttributeReader reader(label, schema, file, diagnostics);
  reader.report_unknown_keys(entry, reserved);
  return reader.read_values(entry);
}

}  // namespace gradflow
