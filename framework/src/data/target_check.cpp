// Targets fed from data, checked against the loss that reads them before any training starts:
// a class index outside [0, classes) would otherwise surface as a crash or a silent wrong loss.
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

}  // namespace

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
}

}  // namespace gradflow
