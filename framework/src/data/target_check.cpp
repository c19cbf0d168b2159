// Targets fed from data, checked against the loss that reads them before any training starts:
// a class index outside [0, classes) would otherwise surface as a crash or a silent wrong loss.
#include <algorithm>

#include <fmt/format.h>

#include "gradflow/model.hpp"

namespace gradflow {

namespace {

// Reports the first value of `input`'s column in `data` that `loss` rejects.
void check_column(const Dataset& data, const char* split, const std::string& input, const ComputeNode& node,
                  const Loss& loss, const Shape& prediction_shape, const Shape& target_shape,
                  const SourceLocation& where, Diagnostics& diagnostics) {
  auto column = data.columns.find(input);
  if (column == data.columns.end()) return;
  const Column& targets = column->second;
  for (int64_t i = 0; i < targets.value_count(); ++i) {
    const float value = targets.value(i);
    const std::optional<std::string> expected = loss.check_target(value, prediction_shape, target_shape);
    if (!expected) continue;
    auto origin = data.origins.find(input);
    const std::string place = origin != data.origins.end()
                                  ? fmt::format("data.{}.{} ({})", split, input, origin->second.describe(i))
                                  : fmt::format("data.{}.{}: sample {}", split, input, i + 1);
    diagnostics.error(where, fmt::format("{} has label {}, but {} {}", place, value, node.label(), *expected));
    return;
  }
}

// Reports the first value of `input`'s column in `data` that `node` rejects as its input
// `slot` (Operator::check_input): an embedding's token id outside [0, num_embeddings), say.
void check_input_column(const Dataset& data, const char* split, const std::string& input, const ComputeNode& node,
                        size_t slot, const SourceLocation& where, Diagnostics& diagnostics) {
  auto column = data.columns.find(input);
  if (column == data.columns.end()) return;
  const Column& values = column->second;
  const int64_t per_sample = std::max<int64_t>(1, numel(values.sample_shape()));
  for (int64_t i = 0; i < values.value_count(); ++i) {
    const float value = values.value(i);
    const std::optional<std::string> expected = node.impl->check_input(slot, value);
    if (!expected) continue;
    const int64_t sample = i / per_sample;
    auto origin = data.origins.find(input);
    std::string place = origin != data.origins.end()
                            ? fmt::format("data.{}.{} ({})", split, input, origin->second.describe(sample))
                            : fmt::format("data.{}.{}: sample {}", split, input, sample + 1);
    if (per_sample > 1) place += fmt::format(", position {},", i % per_sample);
    diagnostics.error(where, fmt::format("{} has value {}, but {} {}", place, value, node.label(), *expected));
    return;
  }
}

}  // namespace

// Operators' checks of the graph inputs they read directly (Operator::check_input) run here too,
// so that every caller checks a data set's inputs along with its targets.
void check_inputs(const Model& model, const DataSets& data, Diagnostics& diagnostics) {
  for (const ComputeNode& node : model.nodes()) {
    if (!node.impl) continue;
    for (size_t slot = 0; slot < node.inputs.size(); ++slot) {
      const Value& input = model.values()[static_cast<size_t>(node.inputs[slot])];
      if (input.producer >= 0) continue;  // computed by the graph, not fed from data
      for (const auto& [split, set] : {std::pair{"train", &data.train}, std::pair{"test", &data.test},
                                       std::pair{"validation", &data.validation}})
        check_input_column(*set, split, input.name, node, slot, data.where, diagnostics);
    }
  }
}

void check_targets(const Model& model, const DataSets& data, Diagnostics& diagnostics) {
  for (const ComputeNode& node : model.nodes()) {
    const auto* loss = dynamic_cast<const Loss*>(node.impl.get());
    if (!loss || node.inputs.size() != 2) continue;
    const Value& prediction = model.values()[static_cast<size_t>(node.inputs[0])];
    const Value& target = model.values()[static_cast<size_t>(node.inputs[1])];
    if (target.producer >= 0) continue;  // computed by the graph, not fed from data
    for (const auto& [split, set] :
         {std::pair{"train", &data.train}, std::pair{"test", &data.test}, std::pair{"validation", &data.validation}})
      check_column(*set, split, target.name, node, *loss, prediction.sample_shape, target.sample_shape, data.where,
                   diagnostics);
  }
  check_inputs(model, data, diagnostics);
}

}  // namespace gradflow
