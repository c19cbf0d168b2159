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
  // Where a resumed run's checkpoint was taken: epochs completed and optimizer steps taken.
  struct ResumePoint {
    int64_t epoch = 0;
    int64_t step = 0;
  };
  // A new run empties the file when it writes its first line, so that a run that fails before
  // then (a bad first step) leaves the old log as it was. A run resumed from a checkpoint keeps
  // the lines up to its step (lines without a step: up to its epoch) and cuts the rest: a run
  // killed after logging an epoch but before checkpointing it logs that epoch again, and the
  // log must hold it once.
  MetricsLog(std::string path, std::optional<ResumePoint> resumed);
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  ~MetricsLog();

  void append_line(const std::string& line);

 private:
  [[noreturn]] void fail(int error) const;
  void cut_after(const ResumePoint& point);

  std::string path_;
  int fd_;
  bool empty_before_first_line_;
};

}  // namespace gradflow::runner
