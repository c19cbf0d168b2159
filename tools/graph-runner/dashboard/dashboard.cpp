// graph-runner dashboard and train --dashboard.
#include "dashboard/dashboard.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <memory>
#include <thread>

#include "commands.hpp"
#include "dashboard/run_file.hpp"

namespace gradflow::runner::dashboard {

std::vector<std::string> check_runs(const std::vector<std::string>& paths) {
  std::vector<std::string> missing;
  for (const std::string& path : paths) {
    std::error_code error;
    const auto status = std::filesystem::status(path, error);
    if (status.type() == std::filesystem::file_type::not_found) {
      const std::filesystem::path folder = std::filesystem::path(path).parent_path();
      if (!folder.empty() && !std::filesystem::is_directory(folder, error))
        throw DashboardError(fmt::format("cannot watch {}: there is no folder {}", path, folder.string()));
      missing.push_back(path);
      continue;
    }
    RunFile run(path);
    run.refresh();
    if (run.state() == RunState::Failed) throw DashboardError(run.problem());
  }
  return missing;
}

namespace {

std::string temporary_metrics(const std::string& graph) {
  const std::string name = std::filesystem::path(graph).stem().string();
  return (std::filesystem::temp_directory_path() / fmt::format("gradflow-{}-{}.jsonl", name, ::getpid())).string();
}

}  // namespace

TrainingDashboard::TrainingDashboard(const std::string& metrics, const std::string& graph, int port)
    : metrics_(metrics.empty() ? temporary_metrics(graph) : metrics), temporary_(metrics.empty()) {
  // No check of what the file holds now: the run starts it afresh (or, resumed, cuts it back).
  ServerOptions options;
  options.port = port;
  server_ = std::make_unique<Server>(std::vector<std::string>{metrics_}, options);
  server_->serve_in_background();
}

TrainingDashboard::~TrainingDashboard() {
  server_.reset();
  if (temporary_) {
    std::error_code ignored;
    std::filesystem::remove(metrics_, ignored);
  }
}

}  // namespace gradflow::runner::dashboard

namespace gradflow::runner {

Command add_dashboard(CLI::App& app) {
  struct Args {
    std::vector<std::string> runs;
    dashboard::ServerOptions server;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand(
      "dashboard", "serve a web page with live curves of train --metrics files (one or more runs, finished or not)");
  command->add_option("runs", args->runs, "metrics files written by train --metrics (they may not exist yet)")
      ->required();
  command->add_option("--port", args->server.port, "port to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  command->add_option("--host", args->server.host, "address to listen on (0.0.0.0: every interface)")
      ->capture_default_str();
  return {command, [args] {
            const std::vector<std::string> missing = dashboard::check_runs(args->runs);
            // SIGINT and SIGTERM stop the server and end the command cleanly: they wait on a
            // thread of their own, blocked everywhere else (the server's threads inherit that).
            sigset_t stop_signals;
            sigemptyset(&stop_signals);
            sigaddset(&stop_signals, SIGINT);
            sigaddset(&stop_signals, SIGTERM);
            pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
            dashboard::Server server(args->runs, args->server);
            for (const std::string& path : missing) fmt::print("waiting for {}: it does not exist yet\n", path);
            fmt::print("dashboard: {} ({} run{}); Ctrl-C stops it\n", server.url(), args->runs.size(),
                       args->runs.size() == 1 ? "" : "s");
            if (args->server.host != "127.0.0.1" && args->server.host != "localhost" && args->server.host != "::1")
              fmt::print("note: listening on {}: whoever reaches this machine there can read these runs\n",
                         args->server.host);
            std::fflush(stdout);
            std::thread waiter([&server, stop_signals] {
              int received = 0;
              sigwait(&stop_signals, &received);
              server.stop();
            });
            server.serve();
            // The server ended without a signal (it could not run): wake the waiter.
            pthread_kill(waiter.native_handle(), SIGTERM);
            waiter.join();
            return 0;
          }};
}

}  // namespace gradflow::runner
