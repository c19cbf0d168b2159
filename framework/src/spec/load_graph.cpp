// The one call that turns a graph file into something to run: parse, read the data, build,
// and check the data's targets against the losses, reporting every problem together.
#include <fmt/format.h>

#include "gradflow/graph_file.hpp"

namespace gradflow {

namespace {

// `labels:` names one class each: as many as the classifier has.
void check_labels(const Model& model, const Registry& registry, Diagnostics& diagnostics) {
  const GraphSpec& spec = model.spec();
  if (spec.labels.empty()) return;
  for (const ComputeNode& node : model.nodes())
    if (!node.impl) return;  // its shape error is reported; the classes are unknown
  const auto count = spec.labels.size();
  const int n = model.classifier();
  if (n < 0) {
    diagnostics.error(spec.labels_where,
                      fmt::format("'labels' names {} classes, but no loss classifies its prediction (losses "
                                  "that do: {})",
                                  count, fmt::join(classifying_losses(registry), ", ")));
    return;
  }
  const ComputeNode& loss = model.nodes()[static_cast<size_t>(n)];
  const int64_t classes = class_count(loss.class_rule,
                                      model.values()[static_cast<size_t>(loss.inputs[0])].sample_shape);
  if (static_cast<int64_t>(count) != classes)
    diagnostics.error(spec.labels_where,
                      fmt::format("'labels' names {} classes, but {} classifies into {}", count, loss.label(), classes));
}

LoadedGraph build_loaded(GraphFile parsed, const Registry& registry, Diagnostics& diagnostics) {
  diagnostics.throw_if_any();
  LoadedGraph loaded{nullptr, std::move(parsed.data)};
  loaded.model = Model::build(std::move(parsed.graph), registry, diagnostics,
                              [&](const Model& model, Diagnostics& found) {
                                check_targets(model, loaded.data, found);
                                check_labels(model, registry, found);
                              });
  diagnostics.throw_if_any();
  return loaded;
}

}  // namespace

LoadedGraph load_graph(const std::filesystem::path& file, const Registry& registry, const ParseOptions& options) {
  Diagnostics diagnostics;
  return build_loaded(parse_graph_file(file, registry, diagnostics, options), registry, diagnostics);
}

LoadedGraph load_graph_text(const std::string& text, const std::filesystem::path& file, const Registry& registry,
                            const ParseOptions& options) {
  Diagnostics diagnostics;
  return build_loaded(parse_graph_text(text, file, registry, diagnostics, options), registry, diagnostics);
}

}  // namespace gradflow
