#pragma once
// train --metrics: one JSON line per epoch.

#include <string>

namespace gradflow::runner {

// Appends whole lines with write(2). A line that cannot be written (a full disk, an I/O error)
// stops the run with the reason, and the file is cut back to its last whole line: a log that
// is silently short, or ends in a torn line that breaks a resumed run's log, would mislead.
class MetricsLog {
 public:
  MetricsLog(std::string path, bool append);
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  ~MetricsLog();

  void append_line(const std::string& line);

 private:
  [[noreturn]] void fail(int error) const;

  std::string path_;
  int fd_;
};

}  // namespace gradflow::runner
