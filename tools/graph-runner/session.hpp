// A graph-file command's session: the options every such command takes, and the graph it
// loads under the requested thread count, with the data sets its file names.
#pragma once

#include <CLI/CLI.hpp>
#include <tbb/global_control.h>

#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "gradflow/graph_file.hpp"
#include "gradflow/in_memory_dataset.hpp"
#include "gradflow/model.hpp"

namespace gradflow::runner {

// The graph file, --threads and --plugin.
void add_common_options(CLI::App& command, CommonOptions& options);
// --plugin alone (`ops`), and loading what it and GRADFLOW_PLUGIN_PATH name.
void add_plugin_option(CLI::App& command);
void load_requested_plugins();

// TBB is the only pool: `threads` bounds it for the whole command.
struct Session {
  std::unique_ptr<tbb::global_control> threads;
  std::unique_ptr<Model> model;
  DataSets data;
};
Session open_session(const CommonOptions& options);

// A fraction as train and eval print it: "97.22%", or "" when there is none.
std::string percent(const std::optional<double>& fraction);

}  // namespace gradflow::runner
