// Seeded random numbers with the same stream on every platform: the standard library's
// distributions are implementation-defined, so gradflow draws its own from mt19937_64.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string_view>

namespace gradflow {

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // An independent stream for one named consumer (a node's initialiser, an epoch's shuffle),
  // so that adding a node does not change the numbers another node draws.
  static Rng derive(uint64_t seed, std::string_view stream, uint64_t index = 0);
  // The key of that stream, for counter-based draws.
  static uint64_t stream_key(uint64_t seed, std::string_view stream, uint64_t index = 0);
  // A counter-based draw in [0, 1): the value at `counter` of the stream `key`, computed alone,
  // so that parallel tiles draw the same numbers in any order (dropout masks).
  static double uniform_at(uint64_t key, uint64_t counter);

  uint64_t next_u64() { return engine_(); }
  double uniform();                       // [0, 1)
  double uniform(double low, double high);
  double normal(double mean = 0.0, double stddev = 1.0);  // Box-Muller
  uint64_t below(uint64_t n);             // [0, n), unbiased
  // Puts `order` in a random order (Fisher-Yates, last position first).
  void shuffle(std::span<int64_t> order);

 private:
  std::mt19937_64 engine_;
};

}  // namespace gradflow
