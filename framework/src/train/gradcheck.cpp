#include "gradflow/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace gradflow {

bool GradcheckReport::ok() const {
  return std::all_of(entries.begin(), entries.end(), [](const GradcheckEntry& e) { return e.ok; });
}

namespace {

GradcheckReport check_every_parameter(Model& model, const GradcheckOptions& options) {
  model.forward();
  model.backward();
  GradcheckReport report;
  auto objective_at = [&](float* element, float value) {
    *element = value;
    model.forward();
    return model.objective();
  };
  for (const ParamRef& p : model.parameters()) {
    const int64_t size = p.value->size();
    const int64_t count = std::min(size, options.max_elements_per_parameter);
    for (int64_t k = 0; k < count; ++k) {
      const int64_t index = count == size ? k : k * size / count;
      float* element = p.value->data() + index;
      const float saved = *element;
      const auto eps = static_cast<float>(options.epsilon);
      const double plus = objective_at(element, saved + eps);
      const double minus = objective_at(element, saved - eps);
      *element = saved;
      GradcheckEntry entry{p.name, index, (*p.grad)[index],
                           (plus - minus) / (static_cast<double>(saved + eps) - static_cast<double>(saved - eps))};
      const double error = std::abs(entry.analytic - entry.numeric);
      entry.ok = error <= options.atol + options.rtol * std::abs(entry.numeric);
      report.max_abs_error = std::max(report.max_abs_error, error);
      report.entries.push_back(entry);
    }
  }
  model.forward();
  return report;
}

}  // namespace

// Gradients of the training computation (batch statistics, dropout with one fixed mask: every
// pass has the same step, so the same mask), and the buffers left as they were: the many
// forward passes must not move batch norm's running statistics.
GradcheckReport gradcheck(Model& model, const GradcheckOptions& options) {
  std::vector<Tensor> saved_buffers;
  for (const Model::BufferRef& b : model.buffers()) saved_buffers.push_back(b.buffer->value);
  const bool was_training = model.training();
  model.set_training(true);
  GradcheckReport report = check_every_parameter(model, options);
  size_t i = 0;
  for (const Model::BufferRef& b : model.buffers()) b.buffer->value = saved_buffers[i++];
  model.set_training(was_training);
  return report;
}

}  // namespace gradflow
