#include "metrics_log.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace gradflow::runner {

MetricsLog::MetricsLog(std::string path, std::optional<ResumePoint> resumed)
    : path_(std::move(path)),
      fd_(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)),
      empty_before_first_line_(!resumed) {
  if (fd_ < 0) fail(errno);
  if (resumed) cut_after(*resumed);
}

namespace {
// Whether one metrics line comes after `point`: its "step" is later, or (without one) its
// "epoch"; a line this tool did not write does not.
bool after(std::string_view line, const MetricsLog::ResumePoint& point) {
  const auto json = nlohmann::json::parse(line, nullptr, false);
  if (!json.is_object()) return false;
  for (const auto& [key, bound] : {std::pair{"step", point.step}, std::pair{"epoch", point.epoch}})
    if (json.contains(key) && json[key].is_number_integer()) return json[key].get<int64_t>() > bound;
  return false;
}
}  // namespace

// Cuts the file at the first line after `point`, or at a torn last line (no newline). Lines it
// does not recognise stay: they are not ours to drop.
void MetricsLog::cut_after(const ResumePoint& point) {
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::pread(fd_, buffer, sizeof buffer, static_cast<off_t>(text.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(errno);
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  size_t keep = 0;
  while (keep < text.size()) {
    const size_t end = text.find('\n', keep);
    if (end == std::string::npos) break;  // torn: the write that ended here never finished
    if (after(std::string_view(text).substr(keep, end - keep), point)) break;
    keep = end + 1;
  }
  if (keep < text.size() && ::ftruncate(fd_, static_cast<off_t>(keep)) != 0) fail(errno);
}

MetricsLog::~MetricsLog() { ::close(fd_); }

void MetricsLog::fail(int error) const {
  throw std::runtime_error(fmt::format("cannot write the metrics file {}: {}", path_, std::strerror(error)));
}

void MetricsLog::append_line(const std::string& line) {
  if (empty_before_first_line_) {
    if (::ftruncate(fd_, 0) != 0) fail(errno);
    empty_before_first_line_ = false;
  }
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
