#include "checkpoint_pacer.hpp"

namespace gradflow {

bool CheckpointPacer::due(int64_t epoch) {
  if (every_) return epoch % *every_ == 0;
  const auto now = std::chrono::steady_clock::now();
  if (any_ && now - last_ < std::chrono::seconds(5)) return false;
  any_ = true;
  last_ = now;
  return true;
}

}  // namespace gradflow
