#include "dashboard/run_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>
#include <utility>

#include "metrics_file.hpp"

namespace gradflow::runner::dashboard {

namespace {

constexpr size_t kMaxLine = size_t{1} << 20;  // a metrics line is ~200 bytes
constexpr size_t kTail = 64;                  // bytes compared to notice a rewritten file

bool blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }

// Reads [offset, offset + size) of `fd`; fewer bytes when the file is shorter.
std::string read_at(int fd, off_t offset, size_t size) {
  std::string text(size, '\0');
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, text.data() + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  text.resize(done);
  return text;
}

}  // namespace

const char* to_string(RunState state) {
  switch (state) {
    case RunState::Waiting: return "waiting";
    case RunState::Live: return "live";
    case RunState::Failed: return "failed";
  }
  return "?";
}

RunFile::RunFile(std::string path) : path_(std::move(path)) {
  message_ = fmt::format("waiting for {}: it does not exist yet", path_);
}

void RunFile::restart() {
  ++generation_;
  lines_.clear();
  stuck_ = false;
  bad_lines_ = 0;
  first_problem_.clear();
  offset_ = 0;
  tail_.clear();
  line_number_ = 1;
  pending_.clear();
  state_ = RunState::Waiting;
  message_.clear();
}

void RunFile::fail(std::string message) {
  state_ = RunState::Failed;
  message_ = std::move(message);
}

bool RunFile::tail_unchanged(int fd) const {
  return tail_.empty() || read_at(fd, offset_ - static_cast<off_t>(tail_.size()), tail_.size()) == tail_;
}

bool RunFile::refresh() {
  const auto before = std::make_tuple(state_, message_, generation_, lines_.size());
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    const int error = errno;
    if (error != ENOENT) fail(fmt::format("cannot read {}: {}", path_, std::strerror(error)));
    else if (seen_ && !lines_.empty()) message_ = fmt::format("{} was removed; what it held is shown", path_);
    else state_ = RunState::Waiting, message_ = fmt::format("waiting for {}: it does not exist yet", path_);
    return before != std::make_tuple(state_, message_, generation_, lines_.size());
  }
  if (S_ISDIR(st.st_mode)) {
    fail(fmt::format("{} is a directory, not a --metrics file", path_));
  } else if (!S_ISREG(st.st_mode)) {
    fail(fmt::format("{} is not a regular file", path_));
  } else {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fail(fmt::format("cannot read {}: {}", path_, std::strerror(errno)));
    } else {
      // Replaced (another inode), cut shorter, or rewritten past what was read: a new run
      // writes this path (train without --resume truncates it; a resumed run cuts its tail).
      if (seen_ && (st.st_dev != device_ || st.st_ino != inode_ || st.st_size < offset_ || !tail_unchanged(fd)))
        restart();
      seen_ = true;
      device_ = st.st_dev;
      inode_ = st.st_ino;
      if (!stuck_ && st.st_size > offset_) read_from(fd, st.st_size);
      ::close(fd);
      if (stuck_) {
        // fail() was called with the reason
      } else if (bad_lines_ > 0) {
        fail(fmt::format("{} ({} line{} left out)", first_problem_, bad_lines_, bad_lines_ == 1 ? "" : "s"));
      } else if (lines_.empty()) {
        state_ = RunState::Waiting;
        message_ = fmt::format("waiting for {}: it holds no whole line yet", path_);
      } else {
        state_ = RunState::Live;
        message_.clear();
      }
    }
  }
  return before != std::make_tuple(state_, message_, generation_, lines_.size());
}

void RunFile::read_from(int fd, off_t size) {
  // At most 64 MiB a refresh: a long file is read over several.
  const auto count = std::min<size_t>(static_cast<size_t>(size - offset_), size_t{64} << 20);
  const std::string text = read_at(fd, offset_, count);
  offset_ += static_cast<off_t>(text.size());
  tail_ = (tail_ + text).substr(tail_.size() + text.size() > kTail ? tail_.size() + text.size() - kTail : 0);
  take(text);
}

void RunFile::take(std::string_view text) {
  pending_.append(text);
  size_t begin = 0;
  for (size_t end; (end = pending_.find('\n', begin)) != std::string::npos; begin = end + 1, ++line_number_) {
    const std::string_view line(pending_.data() + begin, end - begin);
    if (blank(line)) continue;
    ParsedMetricsLine parsed = parse_metrics_line(line);
    if (parsed.line) {
      // Served re-serialised, never as the file's bytes; bad UTF-8 in a string becomes U+FFFD.
      lines_.push_back(parsed.line->fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      if (bad_lines_++ == 0) first_problem_ = fmt::format("{}:{}: {}", path_, line_number_, parsed.problem);
    }
  }
  pending_.erase(0, begin);
  if (pending_.size() > kMaxLine) {
    stuck_ = true;
    pending_.clear();
    fail(fmt::format("{}:{}: a line longer than 1 MiB: not a --metrics file", path_, line_number_));
  }
}

}  // namespace gradflow::runner::dashboard
