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
  // Random directions checked per tensor besides its elements: every element moves by ±epsilon
  // at once (signs from `seed`, the tensor's name and the direction), and the change of the
  // objective is compared with the gradient's dot product with that move, summed in double. The
  // round-off of a float32 objective is the same for one element or all, but the derivative
  // along a direction is about sqrt(elements) times an element's: a small gradient that the
  // per-element check cannot tell from round-off (a backward missing a whole term, of a
  // parameter whose gradients are all ~1e-3) is resolved. A direction passes when the two
  // differ by at most rtol * |numeric| plus the larger of rtol times the RMS of the tensor's
  // derivatives along its directions and 6 float32 roundings of the objective over the step
  // (6 * FLT_EPSILON * |objective| / epsilon): `atol` is for one element. A direction whose
  // differences at epsilon, epsilon/2 and epsilon/4 disagree beyond round-off crosses a kink
  // (relu, max_pool) and is left out of the report. 0: none.
  int64_t directions = 8;

  // For one operator on inputs of magnitude ~1: L sums many outputs, so its round-off
  // (~1e-7 * |L| / epsilon) needs a larger step; the O(epsilon^2 * f''') truncation error is
  // then ~1e-4 for smooth ops. A tolerance of 1e-2 + 1e-2 * |numeric| leaves a wide margin above
  // both, yet any wrong factor, sign or missing term in a backward is off by far more.
  // Every element is checked, and each has a gradient of order 1: no random directions needed.
  static GradcheckOptions for_operator() { return {1e-2, 1e-2, 1e-2, 0, 7, 0}; }
};

struct GradcheckEntry {
  std::string tensor;  // "<node>.<param>" (model); "input <i>" or "<param>" (operator)
  int64_t index = 0;      // the element checked, when direction < 0
  int64_t direction = -1;  // >= 0: a random direction (GradcheckOptions::directions), not one element
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
