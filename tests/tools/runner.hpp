// Runs graph-runner as a user would and captures what it prints.
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

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


}  // namespace gradflow::test
