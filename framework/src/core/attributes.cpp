#include "gradflow/attributes.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace gradflow {

const char* to_string(AttrType type) {
  switch (type) {
    case AttrType::Int: return "integer";
    case AttrType::Float: return "number";
    case AttrType::Bool: return "boolean";
    case AttrType::String: return "string";
    case AttrType::StringList: return "list of names";
    case AttrType::IntPair: return "integer or [h, w]";
    case AttrType::IntList: return "list of integers";
    case AttrType::NumberPair: return "number or [h, w]";
    case AttrType::FloatList: return "number or (nested) list of numbers";
  }
  return "?";
}

std::string to_string(const AttrValue& value) {
  struct Printer {
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return fmt::format("{}", v); }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(const std::vector<std::string>& v) const {
      return "[" + fmt::format("{}", fmt::join(v, ", ")) + "]";
    }
    std::string operator()(const std::vector<int64_t>& v) const {
      return "[" + fmt::format("{}", fmt::join(v, ", ")) + "]";
    }
    std::string operator()(const std::vector<double>& v) const {
      return "[" + fmt::format("{}", fmt::join(v, ", ")) + "]";
    }
    // Nested as written: [[1, 2], [3, 4]].
    std::string operator()(const FloatList& v) const {
      size_t next = 0;
      return nested(v, 0, next);
    }
    static std::string nested(const FloatList& v, size_t level, size_t& next) {
      if (level == v.shape.size()) return next < v.values.size() ? fmt::format("{}", v.values[next++]) : "?";
      std::string text = "[";
      for (int64_t i = 0; i < v.shape[level]; ++i) text += (i ? ", " : "") + nested(v, level + 1, next);
      return text + "]";
    }
  };
  return std::visit(Printer{}, value);
}

const AttrValue& Attributes::at(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw std::out_of_range("attribute '" + name + "' is not set");
  return it->second;
}

int64_t Attributes::get_int(const std::string& name) const { return std::get<int64_t>(at(name)); }

double Attributes::get_float(const std::string& name) const {
  const AttrValue& v = at(name);
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return std::get<double>(v);
}

bool Attributes::get_bool(const std::string& name) const { return std::get<bool>(at(name)); }

const std::string& Attributes::get_string(const std::string& name) const {
  return std::get<std::string>(at(name));
}

const std::vector<std::string>& Attributes::get_strings(const std::string& name) const {
  return std::get<std::vector<std::string>>(at(name));
}

const std::vector<int64_t>& Attributes::get_ints(const std::string& name) const {
  return std::get<std::vector<int64_t>>(at(name));
}

FloatList Attributes::get_float_list(const std::string& name) const {
  const AttrValue& v = at(name);
  if (const auto* list = std::get_if<FloatList>(&v)) return *list;
  return FloatList{{get_float(name)}, {}};
}

std::array<int64_t, 2> Attributes::get_pair(const std::string& name) const {
  const AttrValue& v = at(name);
  if (const auto* i = std::get_if<int64_t>(&v)) return {*i, *i};
  const auto& list = std::get<std::vector<int64_t>>(v);
  if (list.size() != 2)
    throw std::invalid_argument("attribute '" + name + "' is not a pair: " + to_string(v));
  return {list[0], list[1]};
}

std::optional<std::array<int64_t, 2>> Attributes::get_optional_pair(const std::string& name) const {
  const auto* list = std::get_if<std::vector<int64_t>>(&at(name));
  if (list && list->empty()) return std::nullopt;
  return get_pair(name);
}

std::array<double, 2> Attributes::get_number_pair(const std::string& name) const {
  const AttrValue& v = at(name);
  if (const auto* d = std::get_if<double>(&v)) return {*d, *d};
  if (const auto* i = std::get_if<int64_t>(&v)) return {static_cast<double>(*i), static_cast<double>(*i)};
  const auto& list = std::get<std::vector<double>>(v);
  if (list.size() != 2)
    throw std::invalid_argument("attribute '" + name + "' is not a pair: " + to_string(v));
  return {list[0], list[1]};
}

}  // namespace gradflow
