// Atomic file replacement: contents, errors, and the temp files of killed writers.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "gradflow/atomic_file.hpp"
#include "support/temp_dir.hpp"

using gradflow::AtomicFile;
using gradflow::FileWriteError;
using gradflow::remove_stale_temporaries;
using gradflow::write_file_atomically;
using gradflow::test::TempDir;
using gradflow::test::write_file;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A pid that belonged to a process and no longer does (a child that has exited and been reaped).
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

}  // namespace

TEST_CASE("write_file_atomically replaces the file and leaves nothing else", "[atomic_file]") {
  TempDir dir;
  write_file(dir / "out.txt", "old contents");
  write_file_atomically(dir / "out.txt", "new");
  CHECK(read_all(dir / "out.txt") == "new");
  CHECK(dir.entries() == std::vector<std::string>{"out.txt"});
}

TEST_CASE("an AtomicFile dropped before commit leaves the old file as it was", "[atomic_file]") {
  TempDir dir;
  write_file(dir / "out.txt", "old contents");
  {
    AtomicFile out(dir / "out.txt");
    out.write("half of the new");
  }
  CHECK(read_all(dir / "out.txt") == "old contents");
  CHECK(dir.entries() == std::vector<std::string>{"out.txt"});
}

TEST_CASE("a file that cannot be created is an error naming the target and the reason", "[atomic_file]") {
  TempDir dir;
  const std::string target = dir / "no/such/dir/out.txt";
  const std::string expected = target + ": cannot create " + target + ".tmp-" + std::to_string(::getpid()) +
                               ": No such file or directory";
  CHECK_THROWS_MATCHES(write_file_atomically(target, "x"), FileWriteError, Catch::Message(expected));
}

TEST_CASE("temp files of writers that no longer run are removed by the next write", "[atomic_file]") {
  TempDir dir;
  const std::string target = dir / "ckpt.safetensors";
  const std::string dead = target + ".tmp-" + std::to_string(dead_pid());
  const std::string live = target + ".tmp-" + std::to_string(::getppid());  // a running process
  const std::string other = target + ".tmp-notapid";
  const std::string other_target = dir / "other.safetensors.tmp-" + std::to_string(dead_pid());
  for (const auto& path : {dead, live, other, other_target}) write_file(path, "partial");

  write_file_atomically(target, "complete");

  CHECK(read_all(target) == "complete");
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors", "ckpt.safetensors.tmp-" + std::to_string(::getppid()),
                                                  "ckpt.safetensors.tmp-notapid",
                                                  other_target.substr(dir.path.string().size() + 1)});
  CHECK(remove_stale_temporaries(target) == 0);
}
