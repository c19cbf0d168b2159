// Test inputs of the image operators that PyTorch and the C++ tests compute alike, and the
// cases tests/reference/torch_image_reference.py writes into torch_image_reference.hpp.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "gradcheck.hpp"
#include "support/compare.hpp"

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

// Float round-off of torch's numbers (sums of up to ~100 products of values ~1: a few ulps of
// the largest term).
constexpr double kTorchMargin = 2e-5, kTorchEpsilon = 1e-5;

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
  {
    INFO("output");
    check_close(y, c.output, kTorchMargin, kTorchEpsilon);
  }
  std::vector<Tensor*> grads{&gx};
  size_gradients(pointers(inputs), grads);  // as the model does before backward
  op->backward(pointers(inputs), y, pattern(y.shape(), 0.5, 1.0), grads);
  REQUIRE(c.grads.size() >= 1 + op->parameters().size());
  {
    INFO("input gradient");
    check_close(gx, c.grads[0], kTorchMargin, kTorchEpsilon);
  }
  k = 1;
  for (Parameter& p : op->parameters()) {
    INFO(p.name << " gradient");
    check_close(p.grad, c.grads[k++], kTorchMargin, kTorchEpsilon);
  }
}

}  // namespace gradflow::test
