#pragma once
// Files that are replaced all at once: checkpoints, plots, anything a crash must not tear.

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gradflow {

// "<target>: <what went wrong>", with the operating system's reason.
struct FileWriteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Writes `<target>.tmp-<pid>`, then commit() fsyncs it, renames it over the target and fsyncs
// the directory: a crash at any point leaves the old file or the new one, never a torn one.
// Destroyed without commit() (an error, an exception), it removes its temp file. Temp files
// that a killed process left beside the same target (their pid no longer runs) are removed
// when the next write to it starts.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(const void* bytes, size_t n);
  void write(std::string_view text) { write(text.data(), text.size()); }
  void commit();

 private:
  [[noreturn]] void fail(const std::string& what) const;

  std::filesystem::path target_;
  std::string temporary_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

void write_file_atomically(const std::filesystem::path& target, std::string_view contents);

// Before a long job writes `target`: throws FileWriteError "cannot write WHAT TARGET: why"
// (`what`: "the checkpoint") when its directory is missing or not writable, or it is a
// directory or a file this process may not write.
void check_writable(const std::filesystem::path& target, const std::string& what);

// Removes `<target>.tmp-<pid>` files whose process no longer runs; returns how many.
int remove_stale_temporaries(const std::filesystem::path& target);

}  // namespace gradflow
