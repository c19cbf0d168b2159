// Test helpers for operators: building them through the registry (the path the loader takes)
// with defaulted attributes, and the library's central-difference gradient check.
#pragma once

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gradflow/gradcheck.hpp"
#include "gradflow/operator.hpp"
#include "gradflow/registry.hpp"
#include "gradflow/rng.hpp"
#include "gradflow/tensor.hpp"
#include "op_factory.hpp"
#include "support/compare.hpp"

namespace gradflow::test {

inline const OpEntry& entry(const std::string& name) {
  const OpEntry* e = default_registry().find(name);
  INFO("operator '" << name << "'");
  REQUIRE(e != nullptr);
  return *e;
}

inline std::unique_ptr<Operator> make_op(const std::string& name, const Overrides& overrides = {}) {
  const OpEntry& e = entry(name);
  return e.make_operator(with_defaults(e.schema, overrides));
}

inline std::unique_ptr<Optimizer> make_optimizer(const std::string& name,
                                                 const Overrides& overrides = {}) {
  const OpEntry& e = entry(name);
  return e.make_optimizer(with_defaults(e.schema, overrides));
}

// The sample shape of a batched tensor: its shape without the leading batch dimension.
// The context of one pass of node `node` under seed 11 (dropout's and attention's masks).
inline RunContext pass_context(std::string_view node, bool training, int64_t step = 0, int64_t first_sample = 0) {
  RunContext c;
  c.training = training;
  c.step = step;
  c.seed = 11;
  c.first_sample = first_sample;
  c.node = node;
  return c;
}

inline Shape sample_shape(const Tensor& t) { return Shape(t.shape().begin() + 1, t.shape().end()); }

// infer_shape from the inputs' sample shapes, then init_parameters from a fixed seed.
inline Shape prepare(Operator& op, const std::vector<Tensor>& inputs, uint64_t seed = 42) {
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(sample_shape(t));
  const Shape out = op.infer_shape(shapes);
  Rng rng(seed);
  op.init_parameters(rng);
  return out;
}

inline std::vector<const Tensor*> pointers(const std::vector<Tensor>& inputs) {
  std::vector<const Tensor*> p;
  for (const Tensor& t : inputs) p.push_back(&t);
  return p;
}

// Uniform values in [low, high], kept at least `gap` away from 0 so that a central difference
// never straddles the kink of relu/leaky_relu/huber-at-zero.
inline Tensor random_tensor(const Shape& shape, uint64_t seed, double low = -2.0,
                            double high = 2.0, double gap = 0.0) {
  Tensor t(shape);
  Rng rng(seed);
  for (float& v : t.values()) {
    double x = rng.uniform(low, high);
    if (std::abs(x) < gap) x = x < 0 ? x - gap : x + gap;
    v = static_cast<float>(x);
  }
  return t;
}

// The library's operator gradcheck (gradflow/gradcheck.hpp) with GradcheckOptions::for_operator(),
// each element outside the tolerance a failed CHECK that names it.
inline void gradcheck(Operator& op, std::vector<Tensor> inputs, const std::vector<bool>& needs_grad,
                      const GradcheckOptions& options = GradcheckOptions::for_operator()) {
  REQUIRE(inputs.size() == needs_grad.size());
  const GradcheckReport report = gradflow::gradcheck(op, inputs, needs_grad, options);
  for (const GradcheckEntry& e : report.entries) {
    INFO(e.tensor << " element " << e.index << ": analytic " << e.analytic << ", numeric " << e.numeric);
    CHECK(e.ok);
  }
}

// The parameter `name` of an operator; fails the test when it has none.
inline Parameter& param(Operator& op, const std::string& name) {
  for (Parameter& p : op.parameters())
    if (p.name == name) return p;
  FAIL("no parameter " << name);
  throw std::logic_error("unreachable");
}

// A layer with a weight and a bias (conv2d, linear, ...) at 1 and 2 threads on the same input
// and output gradient: output, input gradient and both parameter gradients bit for bit the same.
inline void check_layer_bit_identical(const std::string& op_name, const Overrides& attrs,
                                      const std::vector<Tensor>& inputs, const Tensor& grad_output) {
  struct Result {
    Tensor y, gx, gw, gb;
  };
  auto run = [&](size_t threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    auto op = make_op(op_name, attrs);
    prepare(*op, inputs);
    Result r;
    const auto in = pointers(inputs);
    op->forward(in, r.y);
    std::vector<Tensor*> grads{&r.gx};
    size_gradients(in, grads);  // as the model does before backward
    op->backward(in, r.y, grad_output, grads);
    r.gw = param(*op, "weight").grad;
    r.gb = param(*op, "bias").grad;
    return r;
  };
  const Result one = run(1);
  const Result two = run(2);
  CHECK(bit_identical(one.y, two.y));
  CHECK(bit_identical(one.gx, two.gx));
  CHECK(bit_identical(one.gw, two.gw));
  CHECK(bit_identical(one.gb, two.gb));
}

}  // namespace gradflow::test
