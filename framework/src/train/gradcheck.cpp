#include "gradflow/gradcheck.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <stdexcept>
#include <vector>

namespace gradflow {

bool GradcheckReport::ok() const {
  return std::all_of(entries.begin(), entries.end(), [](const GradcheckEntry& e) { return e.ok; });
}

namespace {

// Passes when |analytic - numeric| <= atol + rtol * |numeric|.
void add_entry(GradcheckEntry entry, double atol, double rtol, GradcheckReport& report) {
  const double error = std::abs(entry.analytic - entry.numeric);
  entry.ok = error <= atol + rtol * std::abs(entry.numeric);
  report.max_abs_error = std::max(report.max_abs_error, error);
  report.entries.push_back(std::move(entry));
}

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
    add_entry({name, index, -1, analytic[index], (plus - minus) / step}, options.atol, options.rtol, report);
  }
}

// The derivative of `objective` along `sign` (each element moved by ±step at once) by central
// differences, against the dot product of `analytic` with the step actually taken (each
// element's saved ± step rounds in float), summed in double; both divided by 2 * step.
struct AlongDirection {
  double analytic = 0.0, numeric = 0.0, objective = 0.0;
};

AlongDirection along_direction(Tensor& values, const std::vector<float>& saved, const std::vector<float>& sign,
                               const Tensor& analytic, const std::function<double()>& objective, float step) {
  double change = 0.0;
  for (size_t i = 0; i < saved.size(); ++i)
    change += static_cast<double>(analytic.data()[i]) *
              (static_cast<double>(saved[i] + sign[i] * step) - static_cast<double>(saved[i] - sign[i] * step));
  for (size_t i = 0; i < saved.size(); ++i) values.data()[i] = saved[i] + sign[i] * step;
  const double plus = objective();
  for (size_t i = 0; i < saved.size(); ++i) values.data()[i] = saved[i] - sign[i] * step;
  const double minus = objective();
  std::copy(saved.begin(), saved.end(), values.data());
  const double scale = 2.0 * static_cast<double>(step);
  return {change / scale, (plus - minus) / scale, std::max(std::abs(plus), std::abs(minus))};
}

// Random ±1 directions over every element of `values` (signs from the seed, the tensor's name
// and the direction), each at steps epsilon, epsilon/2 and epsilon/4. The absolute tolerance is
// the larger of rtol times the RMS of the tensor's derivatives along the directions and six
// float32 roundings of the objective over 2 * epsilon (not `atol`, sized for one element).
// Moving every element at once can cross a kink (relu, max_pool): a direction whose three
// differences disagree beyond round-off is not smooth there and is left out, not judged.
void check_directions(const std::string& name, Tensor& values, const Tensor& analytic,
                      const std::function<double()>& objective, const GradcheckOptions& options,
                      GradcheckReport& report) {
  const std::vector<float> saved(values.values().begin(), values.values().end());
  const auto eps = static_cast<float>(options.epsilon);
  std::vector<std::array<AlongDirection, 3>> found;  // at epsilon, epsilon/2, epsilon/4
  double squares = 0.0, roundoff = 0.0;
  for (int64_t d = 0; d < options.directions; ++d) {
    Rng rng = Rng::derive(options.seed, name, static_cast<uint64_t>(d));
    std::vector<float> sign(saved.size());
    for (float& s : sign) s = rng.uniform() < 0.5 ? -1.0f : 1.0f;
    found.push_back({along_direction(values, saved, sign, analytic, objective, eps),
                     along_direction(values, saved, sign, analytic, objective, eps / 2),
                     along_direction(values, saved, sign, analytic, objective, eps / 4)});
    squares += found.back()[0].numeric * found.back()[0].numeric;
    // One float32 rounding of the objective, as a derivative over the smaller steps.
    roundoff = std::max(roundoff, std::numeric_limits<float>::epsilon() * found.back()[0].objective /
                                      static_cast<double>(eps));
  }
  if (found.empty()) return;
  const double atol = std::max(options.rtol * std::sqrt(squares / static_cast<double>(found.size())), 6.0 * roundoff);
  for (size_t d = 0; d < found.size(); ++d) {
    const auto& [full, half, quarter] = found[d];
    // Not smooth along d: the differences at the three steps disagree beyond round-off.
    if (std::abs(full.numeric - half.numeric) > 2.0 * roundoff || std::abs(half.numeric - quarter.numeric) > 4.0 * roundoff)
      continue;
    add_entry({name, 0, static_cast<int64_t>(d), full.analytic, full.numeric}, atol, options.rtol, report);
  }
}

// The element-wise check of one tensor, then its random directions.
void check_tensor_all(const std::string& name, Tensor& values, const Tensor& analytic,
                      const std::function<double()>& objective, const GradcheckOptions& options,
                      GradcheckReport& report) {
  check_tensor(name, values, analytic, objective, options, report);
  check_directions(name, values, analytic, objective, options, report);
}

GradcheckReport check_every_parameter(Model& model, const GradcheckOptions& options) {
  model.forward();
  model.backward();
  GradcheckReport report;
  auto objective = [&] {
    model.forward();
    return model.objective();
  };
  for (const ParamRef& p : model.parameters()) check_tensor_all(p.name, *p.value, *p.grad, objective, options, report);
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
    if (needs_grad[i]) check_tensor_all("input " + std::to_string(i), inputs[i], grads[i], objective, options, report);
  size_t k = 0;
  for (Parameter& p : op.parameters()) check_tensor_all(p.name, p.value, param_grads[k++], objective, options, report);
  return report;
}

}  // namespace gradflow
