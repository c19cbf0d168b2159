#include "metrics_file.hpp"

#include <fmt/format.h>

#include <array>
#include <stdexcept>

namespace gradflow::runner {

namespace {

// Every key that holds a number in some kind of line; each must be a number or null.
constexpr std::array kNumberKeys = {"epoch",    "step",         "loss",          "accuracy", "val_loss",
                                    "val_accuracy", "test_loss", "test_accuracy", "lr",       "best_epoch",
                                    "samples_per_s", "elapsed_s"};

const char* json_kind(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    default: return "a number";
  }
}

// A value as the message shows it: short, on one line.
std::string shown(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

}  // namespace

std::optional<double> MetricsLine::number(const char* key) const {
  const auto it = fields.find(key);
  if (it == fields.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

ParsedMetricsLine parse_metrics_line(std::string_view text) {
  ParsedMetricsLine parsed;
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) {
    parsed.problem = "not JSON: a --metrics file holds one JSON object per line";
    return parsed;
  }
  if (!json.is_object()) {
    parsed.problem = fmt::format("expected a JSON object, got {}", json_kind(json));
    return parsed;
  }
  for (const char* key : kNumberKeys) {
    const auto it = json.find(key);
    if (it != json.end() && !it->is_number() && !it->is_null()) {
      parsed.problem = fmt::format("'{}' must be a number, got {}", key, shown(*it));
      return parsed;
    }
  }
  const bool step = json.contains("step"), loss = json.contains("loss");
  MetricsLine line;
  if (json.contains("samples_per_s") && step && loss) line.kind = MetricsLineKind::Step;
  else if (json.contains("epoch") && loss) line.kind = MetricsLineKind::Epoch;
  else if (step && json.contains("val_loss") && !loss) line.kind = MetricsLineKind::StepValidation;
  else {
    parsed.problem =
        "expected 'epoch' and 'loss' (an epoch's line), 'step', 'loss' and 'samples_per_s' (a step line) or 'step' "
        "and 'val_loss' (a validation inside an epoch)";
    return parsed;
  }
  line.fields = std::move(json);
  parsed.line = std::move(line);
  return parsed;
}

MetricsText parse_metrics_text(std::string_view text, const std::string& path) {
  MetricsText out;
  size_t begin = 0;
  for (int number = 1; begin < text.size(); ++number) {
    const size_t end = text.find('\n', begin);
    const bool last = end == std::string_view::npos;
    const std::string_view line = text.substr(begin, last ? std::string_view::npos : end - begin);
    begin = last ? text.size() : end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    ParsedMetricsLine parsed = parse_metrics_line(line);
    if (parsed.line) {
      out.lines.push_back(std::move(*parsed.line));
    } else if (last) {
      out.torn = true;  // still being written, or the run was killed mid-write
    } else {
      throw std::runtime_error(fmt::format("{}:{}: {}", path, number, parsed.problem));
    }
  }
  return out;
}

}  // namespace gradflow::runner
