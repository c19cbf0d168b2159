#include "run_fingerprint.hpp"

#include <fstream>
#include <stdexcept>

namespace gradflow {

namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ull;

uint64_t fnv1a(uint64_t hash, const void* bytes, size_t n) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  for (size_t i = 0; i < n; ++i) hash = (hash ^ p[i]) * 1099511628211ull;
  return hash;
}

}  // namespace

uint64_t hash_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  uint64_t hash = kFnvOffset;
  char chunk[65536];
  while (in) {
    in.read(chunk, sizeof chunk);
    hash = fnv1a(hash, chunk, static_cast<size_t>(in.gcount()));
  }
  return hash;
}

uint64_t hash_parameters(Model& model) {
  uint64_t hash = kFnvOffset;
  for (const ParamRef& p : model.parameters()) {
    hash = fnv1a(hash, p.name.data(), p.name.size());
    hash = fnv1a(hash, p.value->data(), static_cast<size_t>(p.value->size()) * sizeof(float));
  }
  return hash;
}

}  // namespace gradflow
