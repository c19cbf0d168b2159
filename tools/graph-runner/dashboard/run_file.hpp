// One run of the dashboard: a `--metrics` file followed as it grows. Each refresh reads what was
// appended since the last one; a file that is replaced or cut shorter (a new run over the same
// path) starts again as a new generation. Not thread-safe: the RunStore's lock guards it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gradflow::runner::dashboard {

enum class RunState {
  Waiting,  // the file does not exist yet, or holds no whole line yet
  Live,     // lines were read; more may come
  Failed,   // it cannot be read, or a line is no --metrics line (the lines before it are kept)
};
const char* to_string(RunState state);

class RunFile {
 public:
  explicit RunFile(std::string path);

  // Reads what was appended since the last call; true when anything the page shows changed.
  bool refresh();

  const std::string& path() const { return path_; }
  RunState state() const { return state_; }
  // Why the run waits or failed, in words ("" when it is live and well).
  const std::string& message() const { return message_; }
  // A failed run's first problem alone: "FILE:N: WHAT", or why the file cannot be read.
  const std::string& problem() const { return first_problem_.empty() ? message_ : first_problem_; }
  // Bumped when the file was replaced or cut: the lines start again.
  uint64_t generation() const { return generation_; }
  // The valid lines read so far, each a JSON object as served (re-serialised after checking).
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  void restart();
  void fail(std::string message);
  void read_from(int fd, off_t size);
  void take(std::string_view text);  // the whole lines of newly read text
  bool tail_unchanged(int fd) const;

  std::string path_;
  RunState state_ = RunState::Waiting;
  std::string message_;
  uint64_t generation_ = 0;
  std::vector<std::string> lines_;
  bool stuck_ = false;  // a line too long to be a metrics line: nothing more is read
  // Lines that are no --metrics lines: left out; the first one's message is shown.
  int64_t bad_lines_ = 0;
  std::string first_problem_;
  // Where reading goes on: the file's identity, the bytes consumed (and the last of them, to
  // notice a file rewritten past that point), the next line's number, and the start of a line
  // whose newline has not been written yet.
  bool seen_ = false;
  dev_t device_ = 0;
  ino_t inode_ = 0;
  off_t offset_ = 0;
  std::string tail_;
  int64_t line_number_ = 1;
  std::string pending_;
};

}  // namespace gradflow::runner::dashboard
