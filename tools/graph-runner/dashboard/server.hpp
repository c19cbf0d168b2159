// The dashboard's web server (cpp-httplib): one page, its script and style, the chart library
// (Debian's libjs-chart.js, read from disk once at start) and the runs' lines at /api/runs.
// Nothing else is served: every other path is 404, and no path ever reaches the file system.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace gradflow::runner::dashboard {

// A dashboard that cannot start: the chart library is missing, or the address cannot be
// listened on (a port in use, a host that is not this machine's).
class DashboardError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 6006;  // 0: any free port (url() says which)
};

// Where the chart library is read from: the install's share folder (cmake --install copies it
// there), else Debian's libjs-chart.js. Throws DashboardError naming both when neither exists.
std::string find_chart_library();

class Server {
 public:
  // Reads the chart library and listens on options.host:options.port; throws DashboardError.
  // `runs`: the --metrics files, in the order the page lists them.
  Server(std::vector<std::string> runs, const ServerOptions& options);
  ~Server();  // stops serving
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // http://HOST:PORT/ with the port actually bound.
  std::string url() const;
  // Serves on this thread until stop() (from another thread or a signal-waiting one).
  void serve();
  // Serves on a thread of its own until stop() or destruction.
  void serve_in_background();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gradflow::runner::dashboard
