// Test inputs of the image operators that PyTorch and the C++ tests compute alike, and the
// cases tests/reference/torch_image_reference.py writes into torch_image_reference.hpp.
#pragma once

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gradcheck.hpp"

namespace gradflow::test {

// Value i (row-major) is scale·sin(0.37·i + phase), rounded to float: the script's pattern().
inline Tensor pattern(const Shape& shape, double phase, double scale) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(scale * std::sin(0.37 * static_cast<double>(i) + phase));
  return t;
}

struct TorchCase {
  std::string name;
  std::string op;
  Overrides attrs;
  Shape input;                            // [N, C, H, W]
  std::vector<float> output;              // torch's forward
  std::vector<std::vector<float>> grads;  // the input's, then (conv2d) the weight's and the bias's
};

}  // namespace gradflow::test

namespace gradflow::test {

// Every value of `got` within float round-off of torch's (sums of up to ~100 products of
// values ~1: a few ulps of the largest term).
inline void check_close(const std::string& what, const Tensor& got, const std::vector<float>& expected) {
  REQUIRE(static_cast<size_t>(got.size()) == expected.size());
  for (int64_t i = 0; i < got.size(); ++i) {
    INFO(what << " element " << i);
    CHECK(got[i] == Approx(expected[static_cast<size_t>(i)]).margin(2e-5).epsilon(1e-5));
  }
}

// Runs `c` through the operator: forward on pattern(input, 0.1, 1), the weight and bias set to
// pattern(·, 1.0, 0.5) and pattern(·, 2.0, 0.5), backward from pattern(output, 0.5, 1); then
// compares the output and every gradient with torch's.
inline void check_against_torch(const TorchCase& c) {
  INFO("case " << c.name);
  auto op = make_op(c.op, c.attrs);
  const std::vector<Tensor> inputs{pattern(c.input, 0.1, 1.0)};
  prepare(*op, inputs);
  const std::vector<double> phases{1.0, 2.0};
  size_t k = 0;
  for (Parameter& p : op->parameters()) p.value = pattern(p.value.shape(), phases.at(k++), 0.5);
  Tensor y, gx;
  op->forward(pointers(inputs), y);
  check_close("output", y, c.output);
  std::vector<Tensor*> grads{&gx};
  op->backward(pointers(inputs), y, pattern(y.shape(), 0.5, 1.0), grads);
  REQUIRE(c.grads.size() >= 1 + op->parameters().size());
  check_close("input gradient", gx, c.grads[0]);
  k = 1;
  for (Parameter& p : op->parameters()) check_close(p.name + " gradient", p.grad, c.grads[k++]);
}

inline bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), static_cast<size_t>(a.size()) * sizeof(float)) == 0;
}

}  // namespace gradflow::test
