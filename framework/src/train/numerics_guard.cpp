#include "numerics_guard.hpp"

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "gradflow/scheduler.hpp"

namespace gradflow {

namespace {

const char* nonfinite_name(float v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "infinite" : "-infinite";
}

// "digits.csv: row 17" for a sample read from a file, else "sample 17 of the training data".
std::string sample_place(const Dataset& data, const std::string& input, int64_t sample) {
  const auto origin = data.origins.find(input);
  if (origin != data.origins.end()) return origin->second.describe(sample);
  return fmt::format("sample {} of the data set", sample + 1);
}

// Where the graph file names the input's data source (unknown for inline data and data sets
// built in code).
SourceLocation source_of(const Dataset& data, const std::string& input) {
  const auto origin = data.origins.find(input);
  return origin != data.origins.end() ? origin->second.source : SourceLocation{};
}

}  // namespace

GraphError nonfinite_loss_error(const Model& model, const StepPosition& at) {
  for (const ComputeNode& node : model.nodes()) {
    if (node.kind != OpKind::Loss) continue;
    const float value = model.values()[static_cast<size_t>(node.output)].data[0];
    if (std::isfinite(value)) continue;
    return GraphError({{node.where,
                        fmt::format("{}: the loss is {} at epoch {}, step {} of {} (optimizer step {}); training "
                                    "stopped and nothing was saved (--check-numerics names the first node or data "
                                    "row that gave a NaN or an infinity; train.on_nonfinite: continue trains on)",
                                    node.label(), nonfinite_name(value), at.epoch, at.step, at.steps_in_epoch,
                                    at.steps_before + 1)}});
  }
  return file_error(model.spec().file.string(), "the loss is not finite");  // a sum that overflowed
}

void require_finite_batch(const Model& model, const Dataset& data, std::span<const int64_t> indices) {
  for (const Value& v : model.values()) {
    if (v.producer >= 0 || v.data.size() == 0) continue;
    const int64_t per_sample = v.data.size() / static_cast<int64_t>(indices.size());
    for (int64_t i = 0; i < v.data.size(); ++i) {
      if (std::isfinite(v.data[i])) continue;
      const int64_t sample = indices[static_cast<size_t>(i / per_sample)];
      throw NodeError(fmt::format("input '{}' is {} at value {} of {}: the data holds it (after the source's scale "
                                  "and normalize)",
                                  v.name, nonfinite_name(v.data[i]), i % per_sample + 1,
                                  sample_place(data, v.name, sample)),
                      source_of(data, v.name));
    }
  }
}

}  // namespace gradflow
