// Shared by the sequence operators' tests: the closed-form inputs that
// tests/reference/torch_sequence_reference.py also builds, a comparison with torch's numbers, the
// forward/backward/SGD step the script takes, and a run at a given thread count.
#pragma once

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "gradcheck.hpp"
#include "support/compare.hpp"
#include "torch_sequence_reference.hpp"

namespace gradflow::test {

inline Tensor formula(const Shape& shape, double (*f)(int64_t)) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(f(i));
  return t;
}
inline double input_at(int64_t i) { return std::sin(0.7 * static_cast<double>(i)) * 2.0 + 0.1 * static_cast<double>(i); }
inline double r_at(int64_t i) { return std::cos(1.3 * static_cast<double>(i)); }

// PyTorch's numbers agree within float round-off.
constexpr double kTorchTolerance = 2e-6;

// Forward, backward of L = Σ output·R (R from r_at), one SGD step of lr 0.1 on every parameter,
// each checked against torch's numbers: "output", "grad_x" (when `check_grad_x`), and per
// parameter "grad_<name>" and "<name>_after_step".
inline void check_one_step(Operator& op, const Tensor& x, const std::map<std::string, std::vector<float>>& torch,
                           bool check_grad_x = true) {
  const std::vector<const Tensor*> in{&x};
  Tensor out, gx;
  op.forward(in, out);
  check_close(out, torch.at("output"), kTorchTolerance);
  const Tensor r = formula(out.shape(), r_at);
  std::vector<Tensor*> grads{check_grad_x ? &gx : nullptr};
  size_gradients(in, grads);  // as the model does before backward
  op.backward(in, out, r, grads);
  if (check_grad_x) {
    INFO("grad_x");
    check_close(gx, torch.at("grad_x"), kTorchTolerance);
  }
  for (Parameter& p : op.parameters()) {
    INFO("parameter " << p.name);
    check_close(p.grad, torch.at("grad_" + p.name), kTorchTolerance);
    for (int64_t k = 0; k < p.value.size(); ++k) p.value[k] -= 0.1f * p.grad[k];
    check_close(p.value, torch.at(p.name + "_after_step"), kTorchTolerance);
  }
}

// The output, the input gradient and every parameter gradient of one forward/backward at
// `threads` threads (R from r_at), concatenated: compared bit for bit across thread counts.
inline std::vector<float> pass_at(int threads, Operator& op, const Tensor& x, bool grad_x = true) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
  const std::vector<const Tensor*> in{&x};
  Tensor out, gx;
  op.forward(in, out);
  const Tensor r = formula(out.shape(), r_at);
  std::vector<Tensor*> grads{grad_x ? &gx : nullptr};
  size_gradients(in, grads);  // as the model does before backward
  op.backward(in, out, r, grads);
  std::vector<float> all(out.values().begin(), out.values().end());
  if (grad_x) all.insert(all.end(), gx.values().begin(), gx.values().end());
  for (Parameter& p : op.parameters()) all.insert(all.end(), p.grad.values().begin(), p.grad.values().end());
  return all;
}

}  // namespace gradflow::test
