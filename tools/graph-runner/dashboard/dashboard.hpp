// graph-runner dashboard (docs/dashboard.md): live curves of --metrics files in a browser; and
// train --dashboard, which serves the run it trains.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dashboard/server.hpp"

namespace gradflow::runner::dashboard {

// What is wrong with the named files before serving them: a directory, a file that cannot be
// read or holds a line that is no --metrics line, a missing folder. Throws DashboardError; a
// file that does not exist yet is fine (the page shows it waiting), and is returned.
std::vector<std::string> check_runs(const std::vector<std::string>& paths);

// train --dashboard: serves the --metrics file of the run (a temporary one without --metrics)
// on a thread of its own while it trains, from before its first step to the end of the run.
class TrainingDashboard {
 public:
  // `metrics`: the run's --metrics file, or "" for a temporary one named after `graph`.
  TrainingDashboard(const std::string& metrics, const std::string& graph, int port);
  ~TrainingDashboard();
  TrainingDashboard(const TrainingDashboard&) = delete;
  TrainingDashboard& operator=(const TrainingDashboard&) = delete;

  const std::string& metrics() const { return metrics_; }
  std::string url() const { return server_->url(); }

 private:
  std::string metrics_;
  bool temporary_;
  std::unique_ptr<Server> server_;
};

}  // namespace gradflow::runner::dashboard
