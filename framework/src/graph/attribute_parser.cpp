// A node's attributes, checked against its op's schema: names, types, bounds and choices.
#include "graph/attribute_parser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/yaml_util.hpp"

namespace gradflow {

namespace {

bool in_range(double v, const AttrSpec& attr) {
  if (!attr.min) return true;
  return attr.min_exclusive ? v > *attr.min : v >= *attr.min;
}

std::string range_text(const AttrSpec& attr) {
  return fmt::format("must be {} {}", attr.min_exclusive ? ">" : ">=", *attr.min);
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
    diagnostics_.error(locate(file_, value), fmt::format("{}: attribute '{}' of op '{}' {}, got {}", label_, attr.name,
                                                         schema_.name, why, describe(value)));
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
    }
    return std::nullopt;
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
