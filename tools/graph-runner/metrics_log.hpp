#pragma once
// train --metrics: one JSON line per epoch.

#include <cstdint>
#include <optional>
#include <string>

namespace gradflow::runner {

// Appends whole lines with write(2). A line that cannot be written (a full disk, an I/O error)
// stops the run with the reason, and the file is cut back to its last whole line: a log that
// is silently short, or ends in a torn line that breaks a resumed run's log, would mislead.
class MetricsLog {
 public:
  // A new run empties the file when it writes its first line, so that a run that fails before
  // then (a bad first step) leaves the old log as it was. A run resumed from a checkpoint of epoch `resumed_epoch`
  // keeps the lines of epochs up to it and cuts the rest: a run killed after logging an epoch
  // but before checkpointing it logs that epoch again, and the log must hold it once.
  MetricsLog(std::string path, std::optional<int64_t> resumed_epoch);
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  ~MetricsLog();

  void append_line(const std::string& line);

 private:
  [[noreturn]] void fail(int error) const;
  void cut_after_epoch(int64_t epoch);

  std::string path_;
  int fd_;
  bool empty_before_first_line_;
};

}  // namespace gradflow::runner
