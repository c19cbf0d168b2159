// Checks analytic gradients against central finite differences: of a model's objective on one
// batch (what `graph-runner gradcheck` runs), or of one operator on given inputs (what the
// all-operators test table runs, and what a plugin author runs on a new operator;
// docs/plugins.md). Both share GradcheckOptions and one comparison.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gradflow/model.hpp"
#include "gradflow/operator.hpp"

namespace gradflow {

struct GradcheckOptions {
  double epsilon = 1e-3;  // the step of the central difference
  // |analytic - numeric| <= atol + rtol * |numeric|. In float32 the quotient's round-off is
  // about 1e-7 * |loss| / epsilon, ~1e-4 for a loss near 1, well inside atol.
  double atol = 1e-3;
  double rtol = 1e-2;
  // Elements checked per tensor (a parameter, or an operator's input), sampled evenly when it
  // is larger; 0 checks every element.
  int64_t max_elements_per_tensor = 32;
  uint64_t seed = 7;  // operator check: the random weights R of its loss L = sum(output * R)

  // For one operator on inputs of magnitude ~1: L sums many outputs, so its round-off
  // (~1e-7 * |L| / epsilon) needs a larger step; the O(epsilon^2 * f''') truncation error is
  // then ~1e-4 for smooth ops. A tolerance of 1e-2 + 1e-2 * |numeric| leaves a wide margin above
  // both, yet any wrong factor, sign or missing term in a backward is off by far more.
  static GradcheckOptions for_operator() { return {1e-2, 1e-2, 1e-2, 0, 7}; }
};

struct GradcheckEntry {
  std::string tensor;  // "<node>.<param>" (model); "input <i>" or "<param>" (operator)
  int64_t index = 0;
  double analytic = 0.0;
  double numeric = 0.0;
  bool ok = true;
};

struct GradcheckReport {
  std::vector<GradcheckEntry> entries;
  double max_abs_error = 0.0;
  bool ok() const;
};

// Runs on the model's current batch (call load_batch first).
GradcheckReport gradcheck(Model& model, const GradcheckOptions& options);

// The gradients of L = sum(output * R), R uniform in [-1, 1] from options.seed, with respect to
// every inputs[i] where needs_grad[i] and to every parameter, from one backward, against central
// differences of forward. `op` must be ready to run: infer_shape and init_parameters done, and
// begin_pass when it behaves differently in training (every forward then belongs to that pass,
// so dropout keeps one mask). Inputs are perturbed in place and restored.
GradcheckReport gradcheck(Operator& op, std::span<Tensor> inputs, const std::vector<bool>& needs_grad,
                          const GradcheckOptions& options);

}  // namespace gradflow
