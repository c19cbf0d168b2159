// Counts heap allocations by replacing the global operator new: include it in exactly one
// source file of a test binary of its own (the replacement is program-wide), then read
// gradflow::test::allocations before and after the code under test.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

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
