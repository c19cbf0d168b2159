#include "dashboard/server.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "dashboard/run_file.hpp"
#include "dashboard/assets.hpp"

namespace gradflow::runner::dashboard {

namespace {

using namespace std::chrono_literals;

constexpr int kThreads = 8;  // connections served at once (a browser keeps up to 6)

// The runs' files, read again whenever a page asks: nothing runs while no page is open.
class RunStore {
 public:
  explicit RunStore(const std::vector<std::string>& paths) {
    runs_.reserve(paths.size());
    for (const std::string& path : paths) runs_.emplace_back(path);
    const std::lock_guard lock(mutex_);
    refresh_locked();
  }

  // The answer to /api/runs for a client holding `have[i]` = (generation, lines) of run i.
  std::string answer(const std::vector<std::pair<uint64_t, size_t>>& have) {
    const std::lock_guard lock(mutex_);
    refresh_locked();
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    std::string out = fmt::format("{{\"started_ms\":{},\"now_ms\":{},\"runs\":[", started_ms_, now.count());
    for (size_t i = 0; i < runs_.size(); ++i) {
      const RunFile& run = runs_[i];
      const auto& lines = run.lines();
      size_t from = 0;
      if (i < have.size() && have[i].first == run.generation() && have[i].second <= lines.size()) from = have[i].second;
      nlohmann::json head{{"id", i},
                          {"path", run.path()},
                          {"state", to_string(run.state())},
                          {"message", run.message()},
                          {"generation", run.generation()},
                          {"from", from},
                          {"total", lines.size()}};
      std::string text = head.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      text.pop_back();  // the closing brace: the lines follow
      out += (i ? "," : "") + text + ",\"lines\":[";
      for (size_t k = from; k < lines.size(); ++k) out += (k > from ? "," : "") + lines[k];
      out += "]}";
    }
    return out + "]}";
  }


 private:
  void refresh_locked() {
    for (RunFile& run : runs_) {
      const std::string before = run.message();
      // A run that goes wrong while the dashboard runs is shown on the page, and said here once.
      if (run.refresh() && run.state() == RunState::Failed && run.message() != before)
        fmt::print(stderr, "warning: {}\n", run.message());
    }
  }

  std::mutex mutex_;
  std::vector<RunFile> runs_;
  // When this server started: a page that outlives it starts its runs again with the next one.
  int64_t started_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
};

std::optional<uint64_t> parse_number(std::string_view text) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "3.120,1.0": (generation, lines) per run; what does not parse counts as nothing held.
std::vector<std::pair<uint64_t, size_t>> parse_have(const std::string& text) {
  std::vector<std::pair<uint64_t, size_t>> have;
  std::stringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    const size_t dot = item.find('.');
    const auto generation = parse_number(std::string_view(item).substr(0, dot));
    const auto count = dot == std::string::npos ? std::nullopt : parse_number(std::string_view(item).substr(dot + 1));
    have.emplace_back(generation.value_or(~uint64_t{0}), count.value_or(0));
  }
  return have;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// The host part of a Host header: "localhost:6006" -> "localhost", "[::1]:6006" -> "::1".
std::string host_of(const std::string& header) {
  if (!header.empty() && header.front() == '[') return header.substr(1, header.find(']') - 1);
  return header.substr(0, header.find(':'));
}

// Why `host`:`port` cannot be listened on, for a bind that cpp-httplib reported failed.
std::string bind_problem(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found)
    return fmt::format("unknown host '{}'", host);
  int error = 0;
  const int fd = ::socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  if (fd < 0) {
    error = errno;
  } else {
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0) error = errno;
    ::close(fd);
  }
  ::freeaddrinfo(found);
  switch (error) {
    case EADDRINUSE: return "the port is in use (another dashboard? --port picks another)";
    case EACCES: return "permission denied (ports below 1024 need root)";
    case EADDRNOTAVAIL: return fmt::format("'{}' is not an address of this machine", host);
    case 0: return "the server could not start";
    default: return std::strerror(error);
  }
}

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string find_chart_library() {
  std::vector<std::filesystem::path> candidates;
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) candidates.push_back(exe.parent_path().parent_path() / "share/gradflow/dashboard/chart.min.js");
  candidates.emplace_back("/usr/share/javascript/chart.js/chart.min.js");
  for (const auto& path : candidates)
    if (std::filesystem::is_regular_file(path, error)) return path.string();
  std::string looked;
  for (const auto& path : candidates) looked += (looked.empty() ? "" : ", ") + path.string();
  throw DashboardError(fmt::format(
      "the dashboard's chart library (Chart.js) is missing: install Debian's libjs-chart.js (bash scripts/setup.sh); "
      "looked for {}",
      looked));
}

struct Server::Impl {
  Impl(std::vector<std::string> runs, const ServerOptions& options)
      : store(runs), chart(read_whole(find_chart_library())), host(options.host) {
    if (chart.empty()) throw DashboardError("the dashboard's chart library (Chart.js) is empty or unreadable");
    // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, which would let a second
    // dashboard share a port in use instead of saying so.
    http.set_socket_options([](socket_t sock) {
      const int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    http.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
    http.set_keep_alive_timeout(2);
    routes();
    if (options.port == 0) {
      port = http.bind_to_any_port(host);
      if (port < 0) throw DashboardError(fmt::format("cannot listen on {}: {}", host, bind_problem(host, 0)));
    } else {
      port = options.port;
      if (!http.bind_to_port(host, port))
        throw DashboardError(fmt::format("cannot listen on {}:{}: {}", host, port, bind_problem(host, port)));
    }
  }

  void routes() {
    const bool loopback = is_loopback(host);
    // A page elsewhere on the web may make the browser ask 127.0.0.1 under its own name (DNS
    // rebinding): a dashboard on the loopback answers only to the loopback's names.
    http.set_pre_routing_handler([this, loopback](const httplib::Request& request, httplib::Response& response) {
      const std::string asked = host_of(request.get_header_value("Host"));
      if (!loopback || asked == "localhost" || asked == "127.0.0.1" || asked == "::1" || asked == host)
        return httplib::Server::HandlerResponse::Unhandled;
      response.status = 403;
      response.set_content("403 forbidden: this dashboard answers to localhost only\n", "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    });
    http.set_post_routing_handler([](const httplib::Request&, httplib::Response& response) {
      response.set_header("Cache-Control", "no-store");
      response.set_header("X-Content-Type-Options", "nosniff");
      response.set_header("Content-Security-Policy",
                          "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                          "frame-ancestors 'none'");
    });
    http.set_error_handler([](const httplib::Request&, httplib::Response& response) {
      if (response.status == 404) response.set_content("404 not found\n", "text/plain; charset=utf-8");
    });
    auto asset = [this](const char* path, std::string_view body, const char* type) {
      http.Get(path, [body, type](const httplib::Request&, httplib::Response& response) {
        response.set_content(body.data(), body.size(), type);
      });
    };
    asset("/", assets::kIndexHtml, "text/html; charset=utf-8");
    asset("/dashboard\\.js", assets::kDashboardJs, "text/javascript; charset=utf-8");
    asset("/dashboard\\.css", assets::kDashboardCss, "text/css; charset=utf-8");
    asset("/chart\\.js", chart, "text/javascript; charset=utf-8");
    http.Get("/api/runs", [this](const httplib::Request& request, httplib::Response& response) {
      response.set_content(store.answer(parse_have(request.get_param_value("have"))), "application/json");
    });
  }

  // Serves until stop(); nothing when stop() came first.
  void listen() {
    listening = true;
    if (!stopping) http.listen_after_bind();
    done = true;
  }

  void stop() {
    stopping = true;
    // cpp-httplib's stop() does nothing until its loop has started: wait for that.
    while (listening && !done && !http.is_running()) std::this_thread::sleep_for(1ms);
    http.stop();
  }

  RunStore store;
  std::string chart;
  std::string host;
  int port = 0;
  httplib::Server http;
  std::thread thread;
  std::atomic<bool> stopping{false}, listening{false}, done{false};
};

Server::Server(std::vector<std::string> runs, const ServerOptions& options)
    : impl_(std::make_unique<Impl>(std::move(runs), options)) {}

Server::~Server() {
  stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string Server::url() const {
  const std::string& host = impl_->host;
  return fmt::format("http://{}:{}/", host.find(':') != std::string::npos ? "[" + host + "]" : host, impl_->port);
}

void Server::serve() { impl_->listen(); }

void Server::serve_in_background() {
  impl_->listening = true;  // stop() from now on waits for the loop to start
  impl_->thread = std::thread([this] { impl_->listen(); });
}

void Server::stop() { impl_->stop(); }

}  // namespace gradflow::runner::dashboard
