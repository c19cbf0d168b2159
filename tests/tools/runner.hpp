// Runs graph-runner as a user would and captures what it prints.
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace gradflow::test {

struct RunResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};

inline RunResult run_graph_runner(const std::string& arguments) {
  const std::string command = std::string(GRADFLOW_BINARY_DIR) + "/tools/graph-runner " + arguments + " 2>&1";
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline std::string source_path(const std::string& relative) { return std::string(GRADFLOW_SOURCE_DIR) + "/" + relative; }

// A fresh folder under the temp directory, removed when the test ends.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& file) const { return (path / file).string(); }
};

}  // namespace gradflow::test
