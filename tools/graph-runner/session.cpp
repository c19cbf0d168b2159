// What every graph-file command shares: its common options, plugins, and the loaded session.
#include "command_line.hpp"
#include "session.hpp"

#include <fmt/format.h>

#include "gradflow/plugin.hpp"

namespace gradflow::runner {

// --plugin PATH of the chosen command (one command runs per process), loaded by open_session
// (or by `ops`) after the libraries on GRADFLOW_PLUGIN_PATH.
namespace {
std::vector<std::string>& plugin_paths() {
  static std::vector<std::string> paths;
  return paths;
}
}  // namespace

void add_plugin_option(CLI::App& command) {
  command.add_option("--plugin", plugin_paths(), "load an operator plugin (shared library); repeatable")
      ->type_name("PATH")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);  // one path per --plugin: `--plugin a.so graph.yaml` works
}

void load_requested_plugins() {
  load_plugins_from_environment(default_registry());
  for (const std::string& path : plugin_paths()) load_plugin(path, default_registry());
}

void add_common_options(CLI::App& command, CommonOptions& options) {
  command.add_option("graph", options.graph, "graph file (YAML)")->required()->check(existing_file("graph file"));
  command.add_option("--threads", options.threads, "worker threads (default: all cores)")->check(whole_number(0));
  add_plugin_option(command);
}

Session open_session(const CommonOptions& options) {
  Session session;
  if (options.threads > 0)
    session.threads = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                            static_cast<size_t>(options.threads));
  load_requested_plugins();  // --plugin and GRADFLOW_PLUGIN_PATH: errors print "error: ..."
  ParseOptions parse;
  parse.seed = options.seed;
  parse.load_plugin = graph_plugin_loader(default_registry());  // `plugins:`: diagnostics
  LoadedGraph loaded = load_graph(options.graph, default_registry(), parse);
  session.model = std::move(loaded.model);
  session.data = std::move(loaded.data);
  return session;
}

std::string percent(const std::optional<double>& fraction) {
  return fraction ? fmt::format("{:.2f}%", *fraction * 100.0) : "";
}

}  // namespace gradflow::runner
