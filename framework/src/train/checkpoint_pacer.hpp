// When a training run writes its checkpoint between epochs.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace gradflow {

// Every `checkpoint_every` epochs when the graph sets it; otherwise every epoch but at most
// once per few seconds (thousands of tiny XOR epochs would spend their time in fsync). The
// first epoch a run completes is always saved, so a run killed soon after it has a checkpoint;
// the end of the run is saved by the run itself.
class CheckpointPacer {
 public:
  explicit CheckpointPacer(std::optional<int64_t> every) : every_(every) {}
  bool due(int64_t epoch);

 private:
  std::optional<int64_t> every_;
  bool any_ = false;                           // whether a checkpoint was due yet in this run
  std::chrono::steady_clock::time_point last_;  // when the last one was
};

}  // namespace gradflow
