// Shared helpers for the libFuzzer targets: the readers under test take paths, so each input
// is written to a private temp file (one per process, rewritten for every input).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace gradflow_fuzz {

class TempInput {
 public:
  explicit TempInput(const char* suffix) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/gradflow-fuzz-" +
            std::to_string(::getpid()) + suffix;
  }
  ~TempInput() { std::remove(path_.c_str()); }
  TempInput(const TempInput&) = delete;
  TempInput& operator=(const TempInput&) = delete;

  const std::filesystem::path& write(const uint8_t* data, size_t size) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    fs_path_ = path_;
    return fs_path_;
  }

 private:
  std::string path_;
  std::filesystem::path fs_path_;
};

}  // namespace gradflow_fuzz
