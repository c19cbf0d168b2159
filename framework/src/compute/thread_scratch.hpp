// Per-thread scratch for kernels that split their work into tiles over oneTBB (conv2d's im2col
// columns, attention's score blocks): one buffer per thread slot of the current arena, plus one
// for a thread that is in no arena. The kernel sizes them before its tiles start, so the tiles
// themselves never allocate, and each tile takes its thread's buffer. Tiles must run only
// serial code: a thread waiting inside a tile could otherwise steal another tile and reuse its
// own buffer under it.
#pragma once

#include <tbb/task_arena.h>

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace gradflow::kernels {

class ThreadScratch {
 public:
  // `kernel` names the kernel in the error of a thread slot that has no buffer.
  explicit ThreadScratch(const char* kernel) : kernel_(kernel) {}

  // Every slot of the current arena (and the outside one) holds at least `floats` floats.
  // Buffers only grow: once sized, a later call with the same size allocates nothing.
  void reserve(size_t floats) {
    const size_t slots = static_cast<size_t>(std::max(1, tbb::this_task_arena::max_concurrency())) + 1;
    if (buffers_.size() < slots) buffers_.resize(slots);
    for (std::vector<float>& b : buffers_)
      if (b.size() < floats) b.resize(floats);
  }

  // The buffer of the calling thread's slot.
  float* get() {
    const int index = tbb::this_task_arena::current_thread_index();
    const size_t outside = buffers_.size() - 1;  // a thread that is in no arena
    const size_t slot = index < 0 ? outside : static_cast<size_t>(index);
    // Two threads sharing a buffer would corrupt each other's data: refuse rather than race.
    if (slot > outside || (index >= 0 && slot == outside))
      throw std::logic_error(std::string(kernel_) + ": thread slot beyond the arena's concurrency");
    return buffers_[slot].data();
  }

 private:
  const char* kernel_;
  std::vector<std::vector<float>> buffers_;  // by thread slot (the last: a thread outside any arena)
};

}  // namespace gradflow::kernels
