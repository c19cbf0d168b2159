// The benchmark's synthetic data (bench/README.md), defined by formulas that
// bench/torch_bench.py and bench/libtorch_bench.cpp reproduce bit for bit, so every side trains
// on the same numbers.
#pragma once

#include <cstdint>

#include "gradflow/in_memory_dataset.hpp"

namespace gradflow::bench {

// Knuth's multiplicative hash of element i, modulo 2^32.
uint64_t hash32(int64_t i);
// x [n, features] in [0, 1), labels cycling 0..classes-1 (large, wide).
Dataset synthetic(int64_t n, int64_t features, int64_t classes);
// uint8 pixels of `sample` shape read as byte / 255, as torchvision keeps MNIST (mnist, cnn, mobilenet).
Dataset synthetic_pixels(int64_t n, const Shape& sample, int64_t classes);
// conv: a fixed batch x [n, 1, 28, 28] and targets [n, targets].
Dataset synthetic_images(int64_t n, int64_t targets);
// transformer, lstm: n windows of T bytes and their offset-1 targets over one shared corpus.
Dataset synthetic_bytes(int64_t n, int64_t T);
// attention: x and the mse target [n, T, E].
Dataset attention_inputs(int64_t n, int64_t T, int64_t E);
Dataset xor_data();

}  // namespace gradflow::bench
