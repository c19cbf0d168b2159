// The benchmark's synthetic data: see bench_data.hpp.
#include "bench_data.hpp"

#include <memory>
#include <string>

namespace gradflow::bench {

uint64_t hash32(int64_t i) { return (static_cast<uint64_t>(i) * 2654435761ull) % 4294967296ull; }

// Synthetic MNIST-shaped data, defined by a formula that bench/torch_bench.py reproduces
// bit for bit, so both sides train on the same numbers: x in [0, 1), labels cycle 0..9.
// The large and wide workloads time fixed float batches.
Dataset synthetic(int64_t n, int64_t features, int64_t classes) {
  Tensor x({n, features}), y({n, 1});
  for (int64_t i = 0; i < n * features; ++i)
    x[i] = static_cast<float>(static_cast<double>(hash32(i)) / 4294967296.0);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(i % classes);
  Dataset data;  // moved in: an initializer list would copy, doubling the peak memory
  data.columns.emplace("x", std::move(x));
  data.columns.emplace("y", std::move(y));
  data.size = n;
  return data;
}

// The mnist and cnn workloads' data, kept as torchvision keeps MNIST: uint8 pixels (the top
// byte of the same hash, so every driver holds the same bytes), each read as byte * (1/255) in
// float when a batch is gathered; torch and LibTorch convert each batch with .float().mul_(1/255),
// which gives the same floats. `sample` is [784] for the MLP, [1, 28, 28] for the CNN: the same
// bytes either way. Labels cycle 0..9.
Dataset synthetic_pixels(int64_t n, const Shape& sample, int64_t classes) {
  const int64_t features = numel(sample);
  std::string pixels(static_cast<size_t>(n * features), '\0');
  for (int64_t i = 0; i < n * features; ++i)
    pixels[static_cast<size_t>(i)] = static_cast<char>(hash32(i) >> 24);
  ByteTable to_unit;
  for (size_t b = 0; b < to_unit.size(); ++b) to_unit[b] = static_cast<float>(b) * (1.0f / 255.0f);
  Tensor y({n, 1});
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(i % classes);
  Dataset data;
  data.columns.emplace("x", Column::from_bytes(std::move(pixels), batched(n, sample), to_unit));
  data.columns.emplace("y", std::move(y));
  data.size = n;
  return data;
}

// The conv workload's fixed batch: x [n, 1, 28, 28] and targets [n, 64], both filled by the
// hash formula of synthetic() (x from element 0, the targets from element 0 as well).
Dataset synthetic_images(int64_t n, int64_t targets) {
  auto hashed = [](const Shape& shape) {
    Tensor t(shape);
    for (int64_t i = 0; i < t.size(); ++i)
      t[i] = static_cast<float>(static_cast<double>(hash32(i)) / 4294967296.0);
    return t;
  };
  Dataset data;
  data.columns.emplace("x", hashed({n, 1, 28, 28}));
  data.columns.emplace("y", hashed({n, targets}));
  data.size = n;
  return data;
}

// The transformer workloads' corpus, as torch_bench.py's synthetic_bytes(): n * T + 1 bytes (the
// top byte of the hash), held once and read as the ids 0-255 through two window columns as the
// `text:` source builds them: x sample k = bytes [kT, kT + T), y the same from byte 1 (offset 1).
Dataset synthetic_bytes(int64_t n, int64_t T) {
  auto bytes = std::make_shared<std::string>(static_cast<size_t>(n * T + 1), '\0');
  for (size_t i = 0; i < bytes->size(); ++i) (*bytes)[i] = static_cast<char>(hash32(static_cast<int64_t>(i)) >> 24);
  ByteTable ids;
  for (size_t b = 0; b < ids.size(); ++b) ids[b] = static_cast<float>(b);
  Dataset data;
  data.columns.emplace("x", Column::from_windows(bytes, 0, T, {n, T}, ids));
  data.columns.emplace("y", Column::from_windows(bytes, 1, T, {n, T}, ids));
  data.size = n;
  return data;
}

// The attention workloads' fixed batch: x and the mse target [n, T, E], both filled by
// synthetic()'s formula from element 0.
Dataset attention_inputs(int64_t n, int64_t T, int64_t E) {
  Tensor x({n, T, E});
  for (int64_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(static_cast<double>(hash32(i)) / 4294967296.0);
  Tensor y = x;
  Dataset data;
  data.columns.emplace("x", std::move(x));
  data.columns.emplace("y", std::move(y));
  data.size = n;
  return data;
}

Dataset xor_data() {
  Tensor x({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1}), y({4, 1}, {0, 1, 1, 0});
  return Dataset{{{"x", std::move(x)}, {"y", std::move(y)}}, 4, {}};
}

}  // namespace gradflow::bench
