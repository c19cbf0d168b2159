#include "stop_signals.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <string_view>

namespace gradflow::runner {

namespace {

std::atomic<TrainingRun*> g_run{nullptr};
volatile sig_atomic_t g_signal = 0;
volatile sig_atomic_t g_saving = 0;
struct sigaction g_previous_int, g_previous_term;

// Only async-signal-safe calls here: write(2), _exit(2), a lock-free atomic store.
void say(std::string_view text) {
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
}

void on_signal(int signal) {
  if (g_signal != 0) {
    say("\ngraph-runner: a second signal: exiting now without saving (the last checkpoint written stays whole)\n");
    ::_exit(exit_status_of(signal));
  }
  g_signal = signal;
  say(signal == SIGINT ? "\ngraph-runner: SIGINT: " : "\ngraph-runner: SIGTERM: ");
  say(g_saving ? "stopping after the current step to write the checkpoint (a second signal exits at once)\n"
               : "stopping after the current step (a second signal exits at once)\n");
  if (TrainingRun* run = g_run.load()) run->request_stop();
}

}  // namespace

StopSignals::StopSignals(TrainingRun& run, bool saving) {
  g_saving = saving ? 1 : 0;
  g_run.store(&run);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
  g_run.store(nullptr);
}

int StopSignals::received() const { return g_signal; }

int StopSignals::exit_status(const TrainingRun& run, bool show, const std::string& save) const {
  if (!run.stopped_on_request()) return 0;
  const int signal = g_signal != 0 ? static_cast<int>(g_signal) : SIGINT;
  if (show)
    fmt::print(stderr, "{}: exit status {}{}\n", g_signal != 0 ? signal_name(signal) : "a signal to another rank",
               exit_status_of(signal), save.empty() ? "" : fmt::format("; --resume {} continues the run", save));
  return exit_status_of(signal);
}

int exit_status_of(int signal) { return 128 + signal; }

const char* signal_name(int signal) { return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal"; }

}  // namespace gradflow::runner
