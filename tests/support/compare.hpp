// Comparisons the tests share: against reference numbers (PyTorch's), and bit for bit across
// thread counts.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "gradflow/tensor.hpp"

namespace gradflow::test {

// Every value of `actual` within `margin` of `expected`'s, or within `epsilon` (default: the
// margin) relative to it, as Catch's Approx counts.
inline void check_close(const Tensor& actual, const std::vector<float>& expected, double margin,
                        std::optional<double> epsilon = std::nullopt) {
  REQUIRE(actual.size() == static_cast<int64_t>(expected.size()));
  for (int64_t i = 0; i < actual.size(); ++i) {
    INFO("value " << i);
    CHECK(actual[i] == Approx(expected[static_cast<size_t>(i)]).margin(margin).epsilon(epsilon.value_or(margin)));
  }
}

// The same bits, value by value, and no NaN (a NaN is never a result to agree on).
inline bool bit_identical(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::isnan(a[i]) || std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
  return true;
}

inline bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && bit_identical(a.values(), b.values());
}

}  // namespace gradflow::test
