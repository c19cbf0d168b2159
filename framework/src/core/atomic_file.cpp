#include "gradflow/atomic_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>
#include <utility>

namespace gradflow {

namespace {

constexpr std::string_view kTempInfix = ".tmp-";

std::string errno_text() { return std::strerror(errno); }

// A pid that no process has. A live one, even an unrelated process that reused the number,
// keeps its file: a stale file left behind is harmless, removing a live writer's is not.
bool process_gone(std::string_view pid_text) {
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
  if (ec != std::errc() || end != pid_text.data() + pid_text.size() || pid <= 0) return false;
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

std::filesystem::path directory_of(const std::filesystem::path& path) {
  std::filesystem::path dir = path.parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}

}  // namespace

int remove_stale_temporaries(const std::filesystem::path& target) {
  const std::string prefix = target.filename().string() + std::string(kTempInfix);
  std::error_code ec;
  int removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory_of(target), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (!process_gone(std::string_view(name).substr(prefix.size()))) continue;
    std::error_code remove_error;
    if (std::filesystem::remove(entry.path(), remove_error)) ++removed;
  }
  return removed;
}

AtomicFile::AtomicFile(std::filesystem::path target)
    : target_(std::move(target)), temporary_(target_.string() + std::string(kTempInfix) + std::to_string(::getpid())) {
  remove_stale_temporaries(target_);
  file_ = std::fopen(temporary_.c_str(), "wb");
  if (!file_) fail("cannot create " + temporary_ + ": " + errno_text());
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_) std::remove(temporary_.c_str());
}

void AtomicFile::fail(const std::string& what) const { throw FileWriteError(target_.string() + ": " + what); }

void AtomicFile::write(const void* bytes, size_t n) {
  if (n > 0 && std::fwrite(bytes, 1, n, file_) != n) fail("cannot write " + temporary_ + ": " + errno_text());
}

void AtomicFile::commit() {
  // Data on disk before the rename, so a crash cannot leave a renamed but empty file.
  if (std::fflush(file_) != 0) fail("cannot write " + temporary_ + ": " + errno_text());
  if (::fsync(::fileno(file_)) != 0) fail("cannot fsync " + temporary_ + ": " + errno_text());
  if (std::fclose(std::exchange(file_, nullptr)) != 0) fail("cannot close " + temporary_ + ": " + errno_text());
  if (std::rename(temporary_.c_str(), target_.c_str()) != 0)
    fail("cannot rename " + temporary_ + " to it: " + errno_text());
  committed_ = true;
  // Makes the rename itself durable. Some file systems cannot fsync a directory (EINVAL);
  // there is nothing more to do on those.
  const int fd = ::open(directory_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("written, but cannot open its directory to fsync it: " + errno_text());
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0 && saved != EINVAL) fail("written, but cannot fsync its directory: " + std::string(std::strerror(saved)));
}

void write_file_atomically(const std::filesystem::path& target, std::string_view contents) {
  AtomicFile out(target);
  out.write(contents);
  out.commit();
}

void check_writable(const std::filesystem::path& target, const std::string& what) {
  const auto refuse = [&](const std::string& why) {
    throw FileWriteError(fmt::format("cannot write {} {}: {}", what, target.string(), why));
  };
  std::error_code ec;
  const std::filesystem::path dir = directory_of(target);
  if (std::filesystem::is_directory(target, ec)) refuse("it is a directory");
  if (!std::filesystem::is_directory(dir, ec)) refuse(fmt::format("the directory {} does not exist", dir.string()));
  if (::access(dir.c_str(), W_OK | X_OK) != 0) refuse(fmt::format("cannot create files in {}: {}", dir.string(), errno_text()));
  if (std::filesystem::exists(target, ec) && ::access(target.c_str(), W_OK) != 0) refuse(errno_text());
}

}  // namespace gradflow
