// graph-runner: trains, evaluates, predicts, validates and draws gradflow graphs
// (docs/graph-format.md). Exit status: 0 ok, 1 bad graph, data or checkpoint,
// 2 bad command line.
#include <fmt/core.h>

#include <cstdio>
#include <iostream>
#include <vector>

#include "command_line.hpp"
#include "commands.hpp"
#include "onnx_commands.hpp"
#include "gradflow/diagnostics.hpp"

int main(int argc, char** argv) {
  using namespace gradflow::runner;
  // Line by line into a pipe or a file too (`train ... | tee log`): a long run's epoch lines
  // should not wait for the run to end.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"graph-runner: train and run gradflow graphs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "graph-runner 0.1.0");
  std::vector<Command> commands = {add_train(app),    add_eval(app), add_predict(app), add_validate(app),
                                   add_ops(app),      add_dot(app),  add_gradcheck(app), add_plot(app),
                                   add_export(app),   add_import(app), add_generate(app), add_dashboard(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const MissingFile& e) {  // a graph, checkpoint or input file that is not there: bad input
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "error: {}\nRun with --help for more information.\n", explain(e, app, argc, argv));
    return 2;
  }
  const CLI::App* chosen = app.get_subcommands().front();
  for (const Command& command : commands) {
    if (command.app != chosen) continue;
    try {
      return command.run();
    } catch (const gradflow::GraphError& e) {
      for (const auto& d : e.diagnostics()) fmt::print(stderr, "{}\n", d.format());
      return 1;
    } catch (const gradflow::LocatedError& e) {  // a checkpoint or a run-time error about a node: at its line
      fmt::print(stderr, "{}\n", gradflow::Diagnostic{e.where(), e.what()}.format());
      return 1;
    } catch (const std::exception& e) {
      fmt::print(stderr, "error: {}\n", e.what());
      return 1;
    }
  }
  return 2;
}
