// Checks a model's analytic parameter gradients against central finite differences of the
// objective on one batch: what `graph-runner gradcheck` runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gradflow/model.hpp"

namespace gradflow {

struct GradcheckOptions {
  double epsilon = 1e-3;
  // |analytic - numeric| <= atol + rtol * |numeric|. In float32 the quotient's round-off is
  // about 1e-7 * |loss| / epsilon, ~1e-4 for a loss near 1, well inside atol.
  double atol = 1e-3;
  double rtol = 1e-2;
  int64_t max_elements_per_parameter = 32;  // sampled evenly when a parameter is larger
};

struct GradcheckEntry {
  std::string parameter;  // "<node>.<param>"
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

}  // namespace gradflow
