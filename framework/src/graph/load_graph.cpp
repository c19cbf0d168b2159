// The one call that turns a graph file into something to run: parse, read the data, build,
// and check the data's targets against the losses, reporting every problem together.
#include "gradflow/model.hpp"

namespace gradflow {

namespace {

LoadedGraph build_loaded(GraphFile parsed, const Registry& registry, Diagnostics& diagnostics) {
  diagnostics.throw_if_any();
  LoadedGraph loaded{nullptr, std::move(parsed.data)};
  loaded.model = Model::build(std::move(parsed.graph), registry, diagnostics,
                              [&](const Model& model, Diagnostics& found) { check_targets(model, loaded.data, found); });
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
