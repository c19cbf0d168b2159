// Reading and writing the training loop's state in checkpoint metadata (EpochSchedule, the
// position inside an epoch): exact numbers, and errors naming the file and the key.
#pragma once

#include <fmt/format.h>

#include <charconv>
#include <string>

#include "gradflow/checkpoint.hpp"
#include "gradflow/safetensors.hpp"  // CheckpointError

namespace gradflow {

// Doubles are stored as their shortest exact decimal ({} in fmt), so they read back bit for bit.
inline std::string exact(double value) { return fmt::format("{}", value); }

// Reads checkpoint metadata for the loop's state, naming the file and the key when it does not fit.
class StateReader {
 public:
  StateReader(const TrainingState& state, const std::string& file) : state_(state), file_(file) {}

  bool has(const std::string& key) const { return state_.metadata.count(key) != 0; }

  template <class T>
  T get(const std::string& key) const {
    const auto it = state_.metadata.find(key);
    T value{};
    if (it == state_.metadata.end() ||
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), value).ec != std::errc{})
      throw CheckpointError(fmt::format("{}: metadata '{}' is missing or not a number", file_, key));
    return value;
  }

  [[noreturn]] void refuse(const std::string& what) const {
    throw CheckpointError(fmt::format("{}: {}; resuming would not continue the same run", file_, what));
  }

 private:
  const TrainingState& state_;
  const std::string& file_;
};

}  // namespace gradflow
