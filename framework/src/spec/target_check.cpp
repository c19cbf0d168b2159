// Targets fed from data, checked against the loss that reads them before any training starts:
// a class index outside [0, classes) would otherwise surface as a crash or a silent wrong loss.
#include <algorithm>

#include <fmt/format.h>

#include "gradflow/graph_file.hpp"

namespace gradflow {

namespace {

// Reports the first value of `input`'s column in `data` that `expected_of(value)` rejects (it
// returns what was expected), naming the sample, and the position in it when a sample holds
// several values (a sequence's class indices or token ids).
template <class Check>
void check_column(const Dataset& data, const char* split, const std::string& input, const char* what,
                  const ComputeNode& node, const Check& expected_of, const SourceLocation& where,
                  Diagnostics& diagnostics) {
  auto column = data.columns.find(input);
  if (column == data.columns.end()) return;
  const Column& values = column->second;
  const int64_t per_sample = std::max<int64_t>(1, numel(values.sample_shape()));
  for (int64_t i = 0; i < values.value_count(); ++i) {
    const float value = values.value(i);
    const std::optional<std::string> expected = expected_of(value);
    if (!expected) continue;
    const int64_t sample = i / per_sample;
    auto origin = data.origins.find(input);
    std::string place = origin != data.origins.end()
                            ? fmt::format("data.{}.{} ({})", split, input, origin->second.describe(sample))
                            : fmt::format("data.{}.{}: sample {}", split, input, sample + 1);
    if (per_sample > 1) place += fmt::format(", position {},", i % per_sample);
    diagnostics.error(where, fmt::format("{} has {} {}, but {} {}", place, what, value, node.label(), *expected));
    return;
  }
}

}  // namespace

// Operators' checks of the graph inputs they read directly (InputChecker) run here too,
// so that every caller checks a data set's inputs along with its targets.
void check_inputs(const Model& model, const DataSets& data, Diagnostics& diagnostics) {
  for (const ComputeNode& node : model.nodes()) {
    const auto* checker = dynamic_cast<const InputChecker*>(node.impl.get());
    if (!checker) continue;
    for (size_t slot = 0; slot < node.inputs.size(); ++slot) {
      const Value& input = model.values()[static_cast<size_t>(node.inputs[slot])];
      if (input.producer >= 0) continue;  // computed by the graph, not fed from data
      for (const auto& [split, set] : {std::pair{"train", &data.train}, std::pair{"test", &data.test},
                                       std::pair{"validation", &data.validation}})
        check_column(*set, split, input.name, "value", node,
                     [&](float value) { return checker->check_input(slot, value); }, data.where, diagnostics);
    }
  }
}

void check_targets(const Model& model, const DataSets& data, Diagnostics& diagnostics) {
  for (const ComputeNode& node : model.nodes()) {
    const auto* checker = dynamic_cast<const TargetChecker*>(node.impl.get());
    if (!checker || node.inputs.size() != 2) continue;
    const Value& prediction = model.values()[static_cast<size_t>(node.inputs[0])];
    const Value& target = model.values()[static_cast<size_t>(node.inputs[1])];
    if (target.producer >= 0) continue;  // computed by the graph, not fed from data
    for (const auto& [split, set] :
         {std::pair{"train", &data.train}, std::pair{"test", &data.test}, std::pair{"validation", &data.validation}})
      check_column(*set, split, target.name, "label", node,
                   [&](float value) { return checker->check_target(value, prediction.sample_shape, target.sample_shape); },
                   data.where, diagnostics);
  }
  check_inputs(model, data, diagnostics);
}

}  // namespace gradflow
