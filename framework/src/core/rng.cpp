#include "gradflow/rng.hpp"

#include <cmath>
#include <numbers>

namespace gradflow {

namespace {
// FNV-1a then splitmix64: a stable hash of a stream name, mixed with the seed.
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t Rng::stream_key(uint64_t seed, std::string_view stream, uint64_t index) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : stream) h = (h ^ c) * 0x100000001b3ULL;
  return splitmix64(splitmix64(seed) ^ h ^ splitmix64(index + 0x51ed27));
}

Rng Rng::derive(uint64_t seed, std::string_view stream, uint64_t index) { return Rng(stream_key(seed, stream, index)); }

double Rng::uniform_at(uint64_t key, uint64_t counter) {
  return static_cast<double>(splitmix64(key ^ splitmix64(counter)) >> 11) * 0x1.0p-53;
}

double Rng::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

double Rng::uniform(double low, double high) { return low + (high - low) * uniform(); }

double Rng::normal(double mean, double stddev) {
  const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
  const double u2 = uniform();
  return mean + stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

uint64_t Rng::below(uint64_t n) {
  // Lemire's rejection keeps every value equally likely.
  const uint64_t limit = -n % n;
  uint64_t x;
  do x = engine_(); while (x < limit);
  return x % n;
}

void Rng::shuffle(std::span<int64_t> order) {
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[below(i)]);
}

}  // namespace gradflow
