#include "metrics_log.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace gradflow::runner {

MetricsLog::MetricsLog(std::string path, bool append)
    : path_(std::move(path)),
      fd_(::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644)) {
  if (fd_ < 0) fail(errno);
}

MetricsLog::~MetricsLog() { ::close(fd_); }

void MetricsLog::fail(int error) const {
  throw std::runtime_error(fmt::format("cannot write the metrics file {}: {}", path_, std::strerror(error)));
}

void MetricsLog::append_line(const std::string& line) {
  const std::string text = line + '\n';
  const off_t whole = ::lseek(fd_, 0, SEEK_END);
  if (whole < 0) fail(errno);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : ENOSPC;
      // Best effort: the write's error is the one to report.
      [[maybe_unused]] const int cut = ::ftruncate(fd_, whole);
      fail(error);
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace gradflow::runner
