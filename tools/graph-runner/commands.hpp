// graph-runner's subcommands: each adds its options to the CLI and returns what it runs.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

namespace gradflow::runner {

// Options every graph-file command takes.
struct CommonOptions {
  std::string graph;
  int threads = 0;  // 0: all cores
  std::optional<uint64_t> seed;
};

// A subcommand and what runs when it is chosen; returns the exit status.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command add_train(CLI::App& app);
Command add_eval(CLI::App& app);
Command add_predict(CLI::App& app);
Command add_validate(CLI::App& app);
Command add_ops(CLI::App& app);
Command add_dot(CLI::App& app);
Command add_gradcheck(CLI::App& app);
Command add_plot(CLI::App& app);
Command add_generate(CLI::App& app);
Command add_dashboard(CLI::App& app);  // dashboard/dashboard.cpp

}  // namespace gradflow::runner
