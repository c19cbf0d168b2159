// Counts heap allocations by replacing the global operator new: include it in exactly one
// source file of a test binary of its own (the replacement is program-wide), then read
// gradflow::test::allocations before and after the code under test, or call
// allocations_per_steps for a graph's steady-state training step.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include "framework/graph_fixtures.hpp"
#include "gradflow/scheduler.hpp"

namespace gradflow::test {
inline std::atomic<int64_t> allocations{0};
}

// The replacements pair malloc with free by design; GCC cannot see that they are a pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  gradflow::test::allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace gradflow::test {

// Heap allocations in 20 training steps of `yaml`'s graph over samples {0, 1, 1, 0, 1, 0, 0, 1}
// of its training data, after 3 warm-up steps (buffers sized, TBB's pools filled).
inline int64_t allocations_per_steps(const std::string& yaml, SchedulePolicy policy, int threads) {
  tbb::global_control control(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
  LoadedGraph loaded = load(yaml);
  auto& model = loaded.model;
  model->scheduler().set_policy(policy);
  model->init_parameters(1);
  const std::vector<int64_t> batch = {0, 1, 1, 0, 1, 0, 0, 1};  // 8 samples: every path splits
  int64_t steps = 0;
  auto step = [&] {  // training mode: batch statistics and fresh dropout masks included
    model->load_batch(loaded.data.train, batch);
    model->set_training(true, steps++);
    model->forward();
    model->backward();
    model->optimizer_step();
  };
  for (int i = 0; i < 3; ++i) step();
  const int64_t before = allocations.load();
  for (int i = 0; i < 20; ++i) step();
  return allocations.load() - before;
}

}  // namespace gradflow::test
