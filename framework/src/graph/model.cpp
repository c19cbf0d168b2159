// Running a built Model: batch buffers, the forward and backward passes on the scheduler,
// partial forward runs (predict), the optimizer step and the numerics checks.
#include "gradflow/model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "gradflow/kernels.hpp"
#include "gradflow/scheduler.hpp"

namespace gradflow {

Model::~Model() = default;

std::string ComputeNode::label() const { return fmt::format("node '{}' (op {})", name, op); }

std::vector<bool> Model::values_needed_for(const std::vector<int>& value_ids) const {
  std::vector<bool> needed(values_.size(), false);
  for (int v : value_ids) needed[static_cast<size_t>(v)] = true;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    const ComputeNode& node = nodes_[static_cast<size_t>(*it)];
    if (!needed[static_cast<size_t>(node.output)]) continue;
    for (int v : node.inputs) needed[static_cast<size_t>(v)] = true;
  }
  return needed;
}

bool Model::is_decisions(int v) const {
  const int producer = values_[static_cast<size_t>(v)].producer;
  return producer >= 0 && nodes_[static_cast<size_t>(producer)].outputs_decisions;
}

std::span<Parameter> Model::node_parameters(int n) { return nodes_[static_cast<size_t>(n)].impl->parameters(); }

std::vector<Model::BufferRef> Model::buffers() {
  std::vector<BufferRef> refs;
  for (int n : order_) {
    ComputeNode& node = nodes_[static_cast<size_t>(n)];
    for (Buffer& b : node.impl->buffers()) refs.push_back({node.name + "." + b.name, &b});
  }
  return refs;
}

void Model::set_training(bool training, int64_t step, int64_t first_sample) {
  context_.training = training;
  context_.step = step;
  context_.first_sample = first_sample;
}

void Model::begin_pass() {
  context_.seed = spec_.seed;
  for (ComputeNode& node : nodes_) {
    context_.node = node.name;
    node.impl->begin_pass(context_);
  }
}

int Model::find_value(const std::string& name) const {
  const auto it = value_ids_.find(name);
  return it == value_ids_.end() ? -1 : it->second;
}

void Model::add_value(Value value) {
  value_ids_.emplace(value.name, static_cast<int>(values_.size()));
  values_.push_back(std::move(value));
}

std::vector<ParamRef> Model::parameters() {
  std::vector<ParamRef> params;
  for (int n : order_) {
    ComputeNode& node = nodes_[static_cast<size_t>(n)];
    for (Parameter& p : node.impl->parameters()) params.push_back({node.name + "." + p.name, &p.value, &p.grad});
  }
  return params;
}

int64_t Model::parameter_count() const {
  int64_t count = 0;
  for (const ComputeNode& node : nodes_)
    for (const Parameter& p : node.impl->parameters()) count += p.value.size();
  return count;
}

void Model::init_parameters(uint64_t seed) {
  for (ComputeNode& node : nodes_) {
    Rng rng = Rng::derive(seed, "init:" + node.name);
    node.impl->init_parameters(rng);
  }
}

void Model::allocate_for_batch(int64_t batch) {
  batch_ = batch;
  for (Value& v : values_) {
    const bool is_loss = v.producer >= 0 && nodes_[static_cast<size_t>(v.producer)].kind == OpKind::Loss;
    const Shape shape = is_loss ? Shape{} : batched(batch, v.sample_shape);
    v.data.resize(shape);
    for (Tensor* slot : v.grad_slots) slot->resize(shape);
    if (v.grad_slots.size() > 1) v.grad.resize(shape);
  }
}

int64_t Model::value_bytes_per_sample() const {
  int64_t values = 0;
  for (const Value& v : values_) values += numel(v.sample_shape);
  return values * static_cast<int64_t>(sizeof(float));
}

void Model::load_batch(const BatchSource& data, std::span<const int64_t> indices) {
  const auto batch = static_cast<int64_t>(indices.size());
  if (batch != batch_) allocate_for_batch(batch);
  for (Value& v : values_)
    if (v.producer < 0) data.gather(v.name, indices, v.data);
}

namespace {
// Throws when `t` holds a NaN or an Inf, saying which and where.
void require_finite(const Tensor& t, const std::string& what) {
  const float* p = t.data();
  for (int64_t i = 0; i < t.size(); ++i)
    if (!std::isfinite(p[i]))
      throw std::domain_error(fmt::format("{} at element {} of {} (shape {})", std::isnan(p[i]) ? "NaN" : "Inf", i,
                                          what, to_string(t.shape())));
}

double step_flops(const std::vector<ComputeNode>& nodes, int64_t batch) {
  double flops = 0.0;
  for (const ComputeNode& node : nodes) flops += node.impl->flops_per_sample();
  return 3.0 * flops * static_cast<double>(batch);  // forward, and backward at about twice that
}
}  // namespace

void Model::forward() {
  begin_pass();
  scheduler_->run_forward(
      [this](int n) {
        ComputeNode& node = nodes_[static_cast<size_t>(n)];
        node.impl->forward(node.input_ptrs, values_[static_cast<size_t>(node.output)].data);
        if (check_numerics_) require_finite(values_[static_cast<size_t>(node.output)].data, "its output");
      },
      step_flops(nodes_, batch_));
}

std::vector<int> Model::inputs_needed_for(const std::vector<int>& value_ids) const {
  const std::vector<bool> needed = values_needed_for(value_ids);
  std::vector<int> inputs;
  for (size_t v = 0; v < values_.size(); ++v)
    if (needed[v] && values_[v].producer < 0) inputs.push_back(static_cast<int>(v));
  return inputs;
}

void Model::forward_to(const std::vector<int>& value_ids) {
  const std::vector<bool> needed = values_needed_for(value_ids);
  begin_pass();
  for (int n : order_) {
    ComputeNode& node = nodes_[static_cast<size_t>(n)];
    if (needed[static_cast<size_t>(node.output)])
      node.impl->forward(node.input_ptrs, values_[static_cast<size_t>(node.output)].data);
  }
}

// Sums a fanned-out value's gradient slots into its `grad`, always in slot order.
void Model::accumulate_grad(Value& value) {
  Tensor& sum = value.grad;
  const auto& slots = value.grad_slots;
  kernels::for_tiles(sum.size(), kernels::kElementwiseGrain, [&](int64_t begin, int64_t end) {
    float* out = sum.data();
    std::copy(slots[0]->data() + begin, slots[0]->data() + end, out + begin);
    for (size_t s = 1; s < slots.size(); ++s) {
      const float* in = slots[s]->data();
      for (int64_t i = begin; i < end; ++i) out[i] += in[i];
    }
  });
}

void Model::backward() {
  static const Tensor loss_seed(Shape{}, {1.0f});  // d(sum of losses)/d(loss)
  scheduler_->run_backward(
      [this](int n) {
        ComputeNode& node = nodes_[static_cast<size_t>(n)];
        Value& out = values_[static_cast<size_t>(node.output)];
        const Tensor* grad_output = &loss_seed;
        if (node.kind != OpKind::Loss) {
          if (out.grad_slots.size() == 1) {
            grad_output = out.grad_slots.front();
          } else {
            accumulate_grad(out);
            grad_output = &out.grad;
          }
        }
        // Gradient buffers are shared (gradient_buffers.hpp): each gets its input's shape here.
        size_gradients(node.input_ptrs, node.input_grad_ptrs);
        node.impl->backward(node.input_ptrs, out.data, *grad_output, node.input_grad_ptrs);
        if (check_numerics_) {
          for (size_t i = 0; i < node.input_grad_ptrs.size(); ++i)
            if (node.input_grad_ptrs[i]) require_finite(*node.input_grad_ptrs[i], fmt::format("the gradient of input {}", i + 1));
          for (const Parameter& p : node.impl->parameters()) require_finite(p.grad, "the gradient of parameter '" + p.name + "'");
        }
        if (on_gradients_ready_ && !node.impl->parameters().empty()) on_gradients_ready_(n);
      },
      step_flops(nodes_, batch_));
}

void Model::optimizer_step() {
  for (OptimizerNode& opt : optimizers_) {
    opt.impl->step();
    if (!check_numerics_) continue;
    for (const ParamRef& p : opt.params) {
      try {
        require_finite(*p.value, "'" + p.name + "'");
      } catch (const std::exception& e) {
        throw NodeError(fmt::format("optimizer '{}' (op {}) failed in the optimizer step: {}", opt.name, opt.op, e.what()),
                        opt.where);
      }
    }
  }
}

double Model::objective() const {
  double total = 0.0;
  for (int n : metric_losses_) total += values_[static_cast<size_t>(nodes_[static_cast<size_t>(n)].output)].data[0];
  return total;
}

std::optional<int64_t> Model::correct_count() const {
  for (int n : metric_losses_) {
    const ComputeNode& node = nodes_[static_cast<size_t>(n)];
    const auto* counter = dynamic_cast<const AccuracyCounter*>(node.impl.get());
    const Value& prediction = values_[static_cast<size_t>(node.inputs[0])];
    if (counter && counter->reports_accuracy(is_decisions(node.inputs[0])))
      return counter->count_correct(prediction.data, values_[static_cast<size_t>(node.inputs[1])].data);
  }
  return std::nullopt;
}

std::vector<int> Model::output_values() const {
  std::vector<int> outputs;
  for (const std::string& name : spec_.outputs) outputs.push_back(find_value(name));
  if (outputs.empty() && !metric_losses_.empty())
    outputs.push_back(nodes_[static_cast<size_t>(metric_losses_.front())].inputs[0]);
  return outputs;
}

int Model::classifier() const {
  for (int n : metric_losses_) {
    const ComputeNode& node = nodes_[static_cast<size_t>(n)];
    if (class_count(node.class_rule, values_[static_cast<size_t>(node.inputs[0])].sample_shape) > 0) return n;
  }
  return -1;
}

}  // namespace gradflow
