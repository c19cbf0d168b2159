// Test helpers for operators: building them through the registry (the path the loader takes)
// with defaulted attributes, and a central-difference gradient check.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "gradflow/operator.hpp"
#include "gradflow/registry.hpp"
#include "gradflow/rng.hpp"
#include "gradflow/tensor.hpp"

namespace gradflow::test {

using Overrides = std::vector<std::pair<std::string, AttrValue>>;

// Every default of the schema, then the overrides (the loader's validation does the same).
inline Attributes with_defaults(const OpSchema& schema, const Overrides& overrides = {}) {
  Attributes attrs;
  for (const AttrSpec& spec : schema.attributes)
    if (spec.default_value) attrs.set(spec.name, *spec.default_value);
  for (const auto& [name, value] : overrides) attrs.set(name, value);
  return attrs;
}

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

struct GradcheckOptions {
  // Step of the central difference, for inputs and parameters of magnitude ~1.
  float eps = 1e-2f;
  // Accept |analytic − numeric| <= tolerance·max(1, |numeric|). The forward runs in float32:
  // each L is exact to ~1e-7·|L|, so the quotient (L+ − L−)/2eps carries ~1e-7·|L|/eps ≈
  // 1e-5·|L| of round-off, and the O(eps²·f''') truncation error is ~1e-4 for smooth ops of
  // inputs ~1. 2e-2 leaves a wide margin above both, yet any wrong factor, sign or missing
  // term in a backward is off by far more.
  double tolerance = 2e-2;
  uint64_t seed = 7;
};

// L = Σ output·R for a fixed random R, in double.
inline double weighted_sum(const Tensor& output, const Tensor& r) {
  double s = 0.0;
  for (int64_t i = 0; i < output.size(); ++i) s += static_cast<double>(output[i]) * r[i];
  return s;
}

// Compares the analytic gradient of L = Σ output·R, with respect to inputs[i] where
// needs_grad[i] and to every parameter, against central differences. `op` must be prepared.
inline void gradcheck(Operator& op, std::vector<Tensor> inputs, const std::vector<bool>& needs_grad,
                      const GradcheckOptions& options = {}) {
  REQUIRE(inputs.size() == needs_grad.size());
  const std::vector<const Tensor*> in = pointers(inputs);
  Tensor output;
  op.forward(in, output);
  const Tensor r = random_tensor(output.shape(), options.seed, -1.0, 1.0);

  std::vector<Tensor> grads(inputs.size());
  std::vector<Tensor*> grad_ptrs;
  for (size_t i = 0; i < inputs.size(); ++i)
    grad_ptrs.push_back(needs_grad[i] ? &grads[i] : nullptr);
  op.backward(in, output, r, grad_ptrs);

  auto loss = [&] {
    Tensor out;
    op.forward(in, out);
    return weighted_sum(out, r);
  };
  // Perturbs every element of `values` in turn and checks it against `analytic`.
  auto check = [&](const std::string& what, Tensor& values, const Tensor& analytic) {
    REQUIRE(analytic.shape() == values.shape());
    for (int64_t k = 0; k < values.size(); ++k) {
      const float saved = values[k];
      values[k] = saved + options.eps;
      const double plus = loss();
      values[k] = saved - options.eps;
      const double minus = loss();
      values[k] = saved;
      const double numeric = (plus - minus) / (2.0 * static_cast<double>(options.eps));
      INFO(what << " element " << k << ": analytic " << analytic[k] << ", numeric " << numeric);
      const double allowed = options.tolerance * std::max(1.0, std::abs(numeric));
      CHECK(std::abs(analytic[k] - numeric) <= allowed);
    }
  };

  for (size_t i = 0; i < inputs.size(); ++i)
    if (needs_grad[i]) check("input " + std::to_string(i), inputs[i], grads[i]);
  for (Parameter& p : op.parameters()) check("parameter " + p.name, p.value, p.grad);
}

}  // namespace gradflow::test
