#include "gradflow/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <vector>

namespace gradflow {

bool GradcheckReport::ok() const {
  return std::all_of(entries.begin(), entries.end(), [](const GradcheckEntry& e) { return e.ok; });
}

namespace {

// Central differences of `objective` at sampled elements of `values`, each against the same
// element of `analytic`, appended to `report`. Every element is restored.
void check_tensor(const std::string& name, Tensor& values, const Tensor& analytic,
                  const std::function<double()>& objective, const GradcheckOptions& options,
                  GradcheckReport& report) {
  if (analytic.shape() != values.shape())
    throw std::logic_error("gradcheck: the gradient of " + name + " has shape " + to_string(analytic.shape()) +
                           ", the tensor " + to_string(values.shape()));
  const int64_t size = values.size();
  const int64_t limit = options.max_elements_per_tensor;
  const int64_t count = limit > 0 ? std::min(size, limit) : size;
  const auto eps = static_cast<float>(options.epsilon);
  for (int64_t k = 0; k < count; ++k) {
    const int64_t index = count == size ? k : k * size / count;
    float& element = values[index];
    const float saved = element;
    element = saved + eps;
    const double plus = objective();
    element = saved - eps;
    const double minus = objective();
    element = saved;
    // The step actually taken, in float: saved ± eps rounds.
    const double step = static_cast<double>(saved + eps) - static_cast<double>(saved - eps);
    GradcheckEntry entry{name, index, analytic[index], (plus - minus) / step};
    const double error = std::abs(entry.analytic - entry.numeric);
    entry.ok = error <= options.atol + options.rtol * std::abs(entry.numeric);
    report.max_abs_error = std::max(report.max_abs_error, error);
    report.entries.push_back(entry);
  }
}

GradcheckReport check_every_parameter(Model& model, const GradcheckOptions& options) {
  model.forward();
  model.backward();
  GradcheckReport report;
  auto objective = [&] {
    model.forward();
    return model.objective();
  };
  for (const ParamRef& p : model.parameters()) check_tensor(p.name, *p.value, *p.grad, objective, options, report);
  model.forward();
  return report;
}

// sum(output * r), in double.
double weighted_sum(const Tensor& output, const Tensor& r) {
  double s = 0.0;
  for (int64_t i = 0; i < output.size(); ++i) s += static_cast<double>(output[i]) * r[i];
  return s;
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

GradcheckReport gradcheck(Operator& op, std::span<Tensor> inputs, const std::vector<bool>& needs_grad,
                          const GradcheckOptions& options) {
  if (needs_grad.size() != inputs.size())
    throw std::invalid_argument("gradcheck: needs_grad has " + std::to_string(needs_grad.size()) +
                                " entries for " + std::to_string(inputs.size()) + " inputs");
  std::vector<const Tensor*> in;
  for (const Tensor& t : inputs) in.push_back(&t);
  Tensor output;
  op.forward(in, output);
  Tensor r(output.shape());
  Rng rng(options.seed);
  for (float& v : r.values()) v = static_cast<float>(rng.uniform(-1.0, 1.0));

  std::vector<Tensor> grads(inputs.size());
  std::vector<Tensor*> grad_ptrs;
  for (size_t i = 0; i < inputs.size(); ++i) grad_ptrs.push_back(needs_grad[i] ? &grads[i] : nullptr);
  size_gradients(in, grad_ptrs);  // as the model does before backward
  op.backward(in, output, r, grad_ptrs);
  // Copies: the forward passes below may reuse what backward wrote into the operator.
  std::vector<Tensor> param_grads;
  for (Parameter& p : op.parameters()) param_grads.push_back(p.grad);

  Tensor out;
  auto objective = [&] {
    op.forward(in, out);
    return weighted_sum(out, r);
  };
  GradcheckReport report;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (needs_grad[i]) check_tensor("input " + std::to_string(i), inputs[i], grads[i], objective, options, report);
  size_t k = 0;
  for (Parameter& p : op.parameters()) check_tensor(p.name, p.value, param_grads[k++], objective, options, report);
  return report;
}

}  // namespace gradflow
