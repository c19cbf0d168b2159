// Builds a Model from a GraphSpec: resolves names, checks the DAG (Boost.Graph), infers
// shapes, instantiates operators and plans the gradient buffers. All problems are reported.
#include "gradflow/model.hpp"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/topological_sort.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "gradflow/kernels.hpp"
#include "gradflow/scheduler.hpp"

namespace gradflow {

using Dag = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;

namespace {
std::string node_label(const ComputeNode& n) { return fmt::format("node '{}' (op {})", n.name, n.op); }
}  // namespace

// The stages of Model::build, each recording diagnostics and carrying on where it can.
class ModelBuilder {
 public:
  // The model owns the spec (moved in, so its data sets are not held twice); the stages read it there.
  ModelBuilder(GraphSpec spec, const Registry& registry, Diagnostics& diagnostics)
      : model_(new Model), spec_(model_->spec_), registry_(registry), diagnostics_(diagnostics) {
    model_->spec_ = std::move(spec);
  }

  std::unique_ptr<Model> build() {
    const size_t before = diagnostics_.size();
    declare_values();
    resolve_inputs();
    if (!sort_topologically()) return nullptr;
    infer_shapes();
    connect_optimizers();
    check_class_labels();
    if (diagnostics_.size() != before) return nullptr;
    plan_gradients();
    make_scheduler();
    return std::move(model_);
  }

 private:
  void error(const SourceLocation& where, std::string message) {
    diagnostics_.error(where, std::move(message));
  }

  void declare_values() {
    std::map<std::string, SourceLocation> defined;
    for (const InputSpec& input : spec_.inputs) {
      defined[input.name] = input.where;
      model_->values_.push_back(Value{input.name, input.shape, -1, false, {}, {}, {}});
    }
    for (const NodeSpec& node : spec_.nodes) {
      auto [it, fresh] = defined.emplace(node.name, node.where);
      if (!fresh) {
        error(node.where, fmt::format("duplicate node name '{}' (first defined at line {}, column {})", node.name,
                                      it->second.line, it->second.column));
        continue;
      }
      const OpEntry* entry = registry_.find(node.op);
      if (entry->schema.kind == OpKind::Optimizer) {
        optimizer_specs_.push_back(&node);
        continue;
      }
      ComputeNode compute;
      compute.name = node.name;
      compute.op = node.op;
      compute.kind = entry->schema.kind;
      compute.where = node.where;
      compute.output = static_cast<int>(model_->values_.size());
      node_specs_.push_back(&node);
      model_->values_.push_back(Value{node.name, {}, static_cast<int>(model_->nodes_.size()), false, {}, {}, {}});
      model_->nodes_.push_back(std::move(compute));
    }
  }

  std::vector<std::string> value_names() const {
    std::vector<std::string> names;
    for (const Value& v : model_->values_) names.push_back(v.name);
    return names;
  }

  void resolve_inputs() {
    std::set<std::string> optimizer_names;
    for (const NodeSpec* o : optimizer_specs_) optimizer_names.insert(o->name);
    for (size_t n = 0; n < model_->nodes_.size(); ++n) {
      ComputeNode& node = model_->nodes_[n];
      const NodeSpec& spec = *node_specs_[n];
      for (size_t i = 0; i < spec.inputs.size(); ++i) {
        const std::string& name = spec.inputs[i];
        const int id = model_->find_value(name);
        if (id >= 0) {
          node.inputs.push_back(id);
        } else if (optimizer_names.count(name)) {
          error(spec.input_where[i], fmt::format("input '{}' of node '{}' is an optimizer, which produces no tensor",
                                                 name, node.name));
        } else {
          const std::string close = closest_name(name, value_names());
          error(spec.input_where[i],
                fmt::format("input '{}' of node '{}' is not a graph input or a node{}", name, node.name,
                            close.empty() ? "" : fmt::format(" (did you mean '{}'?)", close)));
        }
      }
    }
  }

  // Cycles are reported as a path (Boost's not_a_dag names no node), then Boost sorts.
  bool sort_topologically() {
    const size_t count = model_->nodes_.size();
    Dag dag(count);
    for (size_t n = 0; n < count; ++n)
      for (int v : model_->nodes_[n].inputs)
        if (int producer = model_->values_[static_cast<size_t>(v)].producer; producer >= 0)
          boost::add_edge(static_cast<size_t>(producer), n, dag);
    if (report_cycles(dag)) return false;
    std::vector<size_t> reversed;
    boost::topological_sort(dag, std::back_inserter(reversed));
    model_->order_.assign(reversed.rbegin(), reversed.rend());
    return true;
  }

  bool report_cycles(const Dag& dag) {
    enum class Mark { New, Active, Done };
    std::vector<Mark> marks(boost::num_vertices(dag), Mark::New);
    std::vector<size_t> path;
    bool found = false;
    std::function<void(size_t)> visit = [&](size_t u) {
      marks[u] = Mark::Active;
      path.push_back(u);
      for (auto [e, end] = boost::out_edges(u, dag); e != end; ++e) {
        const size_t v = boost::target(*e, dag);
        if (marks[v] == Mark::Active) {
          report_cycle(std::vector<size_t>(std::find(path.begin(), path.end(), v), path.end()));
          found = true;
        } else if (marks[v] == Mark::New) {
          visit(v);
        }
      }
      path.pop_back();
      marks[u] = Mark::Done;
    };
    for (size_t u = 0; u < marks.size(); ++u)
      if (marks[u] == Mark::New) visit(u);
    return found;
  }

  void report_cycle(const std::vector<size_t>& cycle) {
    std::string text;
    for (size_t n : cycle) text += model_->nodes_[n].name + " -> ";
    text += model_->nodes_[cycle.front()].name;
    error(model_->nodes_[cycle.front()].where, "the graph has a cycle: " + text);
  }

  void infer_shapes() {
    std::vector<bool> known(model_->values_.size(), false);
    for (size_t v = 0; v < model_->values_.size(); ++v) known[v] = model_->values_[v].producer < 0;
    for (int n : model_->order_) {
      ComputeNode& node = model_->nodes_[static_cast<size_t>(n)];
      const NodeSpec& spec = *node_specs_[static_cast<size_t>(n)];
      if (node.inputs.size() != spec.inputs.size()) continue;  // an unresolved input, reported
      if (!std::all_of(node.inputs.begin(), node.inputs.end(), [&](int v) { return known[static_cast<size_t>(v)]; }))
        continue;
      for (int v : node.inputs) {
        const Value& input = model_->values_[static_cast<size_t>(v)];
        if (input.producer >= 0 && model_->nodes_[static_cast<size_t>(input.producer)].kind == OpKind::Loss) {
          error(spec.where, fmt::format("node '{}' reads loss '{}': a loss feeds only optimizers", node.name, input.name));
          continue;
        }
      }
      if (instantiate(node, spec)) known[static_cast<size_t>(node.output)] = true;
    }
  }

  bool instantiate(ComputeNode& node, const NodeSpec& spec) {
    std::vector<Shape> shapes;
    for (int v : node.inputs) shapes.push_back(model_->values_[static_cast<size_t>(v)].sample_shape);
    try {
      node.impl = registry_.find(node.op)->make_operator(spec.attributes);
      Shape out = node.impl->infer_shape(shapes);
      model_->values_[static_cast<size_t>(node.output)].sample_shape = node.kind == OpKind::Loss ? Shape{} : out;
      return true;
    } catch (const std::exception& e) {
      std::string inputs;
      for (size_t i = 0; i < node.inputs.size(); ++i)
        inputs += fmt::format("{}'{}' {}", i == 0 ? "" : (i + 1 == node.inputs.size() ? " and " : ", "),
                              spec.inputs[i], to_string(shapes[i]));
      error(spec.where, fmt::format("{}: {}; its input{} {} {}", node_label(node), e.what(),
                                    node.inputs.size() == 1 ? "" : "s", node.inputs.size() == 1 ? "is" : "are", inputs));
      node.impl.reset();
      return false;
    }
  }

  void connect_optimizers() {
    std::map<std::string, std::string> claimed;  // parameter node -> optimizer
    for (const NodeSpec* spec : optimizer_specs_) {
      OptimizerNode opt;
      opt.name = spec->name;
      opt.op = spec->op;
      for (size_t i = 0; i < spec->inputs.size(); ++i) {
        const int v = model_->find_value(spec->inputs[i]);
        const int producer = v < 0 ? -1 : model_->values_[static_cast<size_t>(v)].producer;
        if (producer < 0) {
          error(spec->input_where[i], fmt::format("optimizer '{}': input '{}' is {}; an optimizer minimises losses",
                                                  spec->name, spec->inputs[i], v < 0 ? "not a node" : "a graph input, not a loss"));
        } else if (model_->nodes_[static_cast<size_t>(producer)].kind != OpKind::Loss) {
          error(spec->input_where[i], fmt::format("optimizer '{}': input '{}' is a {} node, not a loss; an optimizer minimises losses",
                                                  spec->name, spec->inputs[i], model_->nodes_[static_cast<size_t>(producer)].op));
        } else {
          opt.losses.push_back(producer);
        }
      }
      if (opt.losses.size() != spec->inputs.size()) continue;
      collect_parameters(*spec, opt, claimed);
      try {
        opt.impl = registry_.find(spec->op)->make_optimizer(spec->attributes);
      } catch (const std::exception& e) {
        error(spec->where, fmt::format("optimizer '{}' (op {}): {}", spec->name, spec->op, e.what()));
        continue;
      }
      for (int loss : opt.losses) model_->optimised_losses_.push_back(loss);
      model_->optimizers_.push_back(std::move(opt));
    }
  }

  void collect_parameters(const NodeSpec& spec, OptimizerNode& opt, std::map<std::string, std::string>& claimed) {
    std::set<int> upstream = upstream_nodes(opt.losses);
    std::set<std::string> restrict_to(spec.params.begin(), spec.params.end());
    for (const std::string& name : spec.params) {
      const int v = model_->find_value(name);
      if (v < 0 || model_->values_[static_cast<size_t>(v)].producer < 0)
        error(spec.where, fmt::format("optimizer '{}': params names '{}', which is not a node", spec.name, name));
    }
    for (int n : model_->order_) {
      ComputeNode& node = model_->nodes_[static_cast<size_t>(n)];
      if (!upstream.count(n) || !node.impl || node.impl->parameters().empty()) continue;
      if (!restrict_to.empty() && !restrict_to.count(node.name)) continue;
      if (auto [it, fresh] = claimed.emplace(node.name, spec.name); !fresh) {
        error(spec.where, fmt::format("optimizer '{}' and optimizer '{}' both update node '{}'", it->second, spec.name, node.name));
        continue;
      }
      for (Parameter& p : node.impl->parameters())
        opt.params.push_back(ParamRef{node.name + "." + p.name, &p.value, &p.grad});
    }
  }

  std::set<int> upstream_nodes(const std::vector<int>& roots) const {
    std::set<int> seen;
    std::vector<int> stack(roots.begin(), roots.end());
    while (!stack.empty()) {
      const int n = stack.back();
      stack.pop_back();
      if (!seen.insert(n).second) continue;
      for (int v : model_->nodes_[static_cast<size_t>(n)].inputs)
        if (int p = model_->values_[static_cast<size_t>(v)].producer; p >= 0) stack.push_back(p);
    }
    return seen;
  }

  // A class-index target fed from data must hold integers in [0, classes).
  void check_class_labels() {
    for (const ComputeNode& node : model_->nodes_) {
      if (node.op != "cross_entropy" || !node.impl || node.inputs.size() != 2) continue;
      const Value& logits = model_->values_[static_cast<size_t>(node.inputs[0])];
      const Value& target = model_->values_[static_cast<size_t>(node.inputs[1])];
      if (target.producer >= 0 || numel(target.sample_shape) != 1 || logits.sample_shape.empty()) continue;
      const int64_t classes = logits.sample_shape.back();
      check_labels(spec_.train_data, "train", target.name, node, classes);
      check_labels(spec_.test_data, "test", target.name, node, classes);
    }
  }

  void check_labels(const Dataset& data, const char* split, const std::string& input, const ComputeNode& node,
                    int64_t classes) {
    auto column = data.columns.find(input);
    if (column == data.columns.end()) return;
    const Column& labels = column->second;
    for (int64_t i = 0; i < labels.value_count(); ++i) {
      const float label = labels.value(i);
      if (label >= 0.0f && label < static_cast<float>(classes) && label == static_cast<float>(static_cast<int64_t>(label)))
        continue;
      auto origin = data.origins.find(input);
      const std::string where = origin != data.origins.end()
                                    ? fmt::format("data.{}.{} ({})", split, input, origin->second.describe(i))
                                    : fmt::format("data.{}.{}: sample {}", split, input, i + 1);
      error(spec_.data_where, fmt::format("{} has label {}, but {} expects a class index in [0, {})", where, label,
                                          node_label(node), classes));
      return;
    }
  }

  // Which values need a gradient: downstream of a parameter and upstream of an optimised loss.
  void plan_gradients() {
    auto& values = model_->values_;
    auto& nodes = model_->nodes_;
    std::vector<bool> carries_params(values.size(), false);
    for (int n : model_->order_) {
      const ComputeNode& node = nodes[static_cast<size_t>(n)];
      bool carries = !node.impl->parameters().empty();
      for (int v : node.inputs) carries = carries || carries_params[static_cast<size_t>(v)];
      carries_params[static_cast<size_t>(node.output)] = carries;
    }
    const std::set<int> reach = upstream_nodes(model_->optimised_losses_);
    for (int n : model_->order_) {
      ComputeNode& node = nodes[static_cast<size_t>(n)];
      node.runs_backward = reach.count(n) && carries_params[static_cast<size_t>(node.output)];
      node.input_grads.resize(node.inputs.size());
      node.input_grad_ptrs.assign(node.inputs.size(), nullptr);
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        Value& input = values[static_cast<size_t>(node.inputs[i])];
        input.needs_grad = node.runs_backward && carries_params[static_cast<size_t>(node.inputs[i])];
        if (!input.needs_grad) continue;
        node.input_grads[i] = std::make_unique<Tensor>();
        node.input_grad_ptrs[i] = node.input_grads[i].get();
        input.grad_slots.push_back(node.input_grads[i].get());  // topological order: fixed
      }
      for (int v : node.inputs) node.input_ptrs.push_back(&values[static_cast<size_t>(v)].data);
    }
    for (OptimizerNode& opt : model_->optimizers_) opt.impl->setup(opt.params);
    model_->metric_losses_ = model_->optimised_losses_;
    if (model_->metric_losses_.empty())
      for (int n : model_->order_)
        if (nodes[static_cast<size_t>(n)].kind == OpKind::Loss) model_->metric_losses_.push_back(n);
  }

  void make_scheduler() {
    const auto& nodes = model_->nodes_;
    PassPlan forward, backward;
    forward.predecessors.resize(nodes.size());
    backward.predecessors.resize(nodes.size());
    std::vector<std::string> labels;
    for (const ComputeNode& node : nodes) labels.push_back(node_label(node));
    for (int n : model_->order_) {
      const ComputeNode& node = nodes[static_cast<size_t>(n)];
      forward.order.push_back(n);
      for (int v : node.inputs) {
        const int p = model_->values_[static_cast<size_t>(v)].producer;
        if (p < 0) continue;
        forward.predecessors[static_cast<size_t>(n)].push_back(p);
        if (node.runs_backward && nodes[static_cast<size_t>(p)].runs_backward)
          backward.predecessors[static_cast<size_t>(p)].push_back(n);
      }
    }
    for (auto it = model_->order_.rbegin(); it != model_->order_.rend(); ++it)
      if (nodes[static_cast<size_t>(*it)].runs_backward) backward.order.push_back(*it);
    for (auto& preds : forward.predecessors) preds.erase(std::unique(preds.begin(), preds.end()), preds.end());
    for (auto& preds : backward.predecessors) preds.erase(std::unique(preds.begin(), preds.end()), preds.end());
    model_->scheduler_ = std::make_unique<Scheduler>(std::move(forward), std::move(backward), std::move(labels));
  }

  std::unique_ptr<Model> model_;
  const GraphSpec& spec_;
  const Registry& registry_;
  Diagnostics& diagnostics_;
  std::vector<const NodeSpec*> node_specs_;       // parallel to model_->nodes_
  std::vector<const NodeSpec*> optimizer_specs_;
};

std::unique_ptr<Model> Model::build(GraphSpec spec, const Registry& registry, Diagnostics& diagnostics) {
  kernels::initialize();
  return ModelBuilder(std::move(spec), registry, diagnostics).build();
}

Model::~Model() = default;

int Model::find_value(const std::string& name) const {
  for (size_t v = 0; v < values_.size(); ++v)
    if (values_[v].name == name) return static_cast<int>(v);
  return -1;
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

void Model::load_batch(const Dataset& data, std::span<const int64_t> indices) {
  const auto batch = static_cast<int64_t>(indices.size());
  if (batch != batch_) allocate_for_batch(batch);
  for (Value& v : values_) {
    if (v.producer >= 0) continue;
    auto column = data.columns.find(v.name);
    if (column != data.columns.end()) column->second.gather(indices, v.data);
  }
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
  scheduler_->run_forward(
      [this](int n) {
        ComputeNode& node = nodes_[static_cast<size_t>(n)];
        node.impl->forward(node.input_ptrs, values_[static_cast<size_t>(node.output)].data);
        if (check_numerics_) require_finite(values_[static_cast<size_t>(node.output)].data, "its output");
      },
      step_flops(nodes_, batch_));
}

std::vector<int> Model::inputs_needed_for(const std::vector<int>& value_ids) const {
  std::vector<bool> needed(values_.size(), false);
  for (int v : value_ids) needed[static_cast<size_t>(v)] = true;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    const ComputeNode& node = nodes_[static_cast<size_t>(*it)];
    if (!needed[static_cast<size_t>(node.output)]) continue;
    for (int v : node.inputs) needed[static_cast<size_t>(v)] = true;
  }
  std::vector<int> inputs;
  for (size_t v = 0; v < values_.size(); ++v)
    if (needed[v] && values_[v].producer < 0) inputs.push_back(static_cast<int>(v));
  return inputs;
}

void Model::forward_to(const std::vector<int>& value_ids) {
  std::vector<bool> needed(values_.size(), false);
  for (int v : value_ids) needed[static_cast<size_t>(v)] = true;
  std::vector<int> run;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    const ComputeNode& node = nodes_[static_cast<size_t>(*it)];
    if (!needed[static_cast<size_t>(node.output)]) continue;
    run.push_back(*it);
    for (int v : node.inputs) needed[static_cast<size_t>(v)] = true;
  }
  for (auto it = run.rbegin(); it != run.rend(); ++it) {
    ComputeNode& node = nodes_[static_cast<size_t>(*it)];
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
        node.impl->backward(node.input_ptrs, out.data, *grad_output, node.input_grad_ptrs);
        if (check_numerics_) {
          for (size_t i = 0; i < node.input_grad_ptrs.size(); ++i)
            if (node.input_grad_ptrs[i]) require_finite(*node.input_grad_ptrs[i], fmt::format("the gradient of input {}", i + 1));
          for (const Parameter& p : node.impl->parameters()) require_finite(p.grad, "the gradient of parameter '" + p.name + "'");
        }
        if (on_gradients_ready_ && !node.impl->parameters().empty()) on_gradients_ready_(node);
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
        throw NodeError(fmt::format("optimizer '{}' (op {}) failed in the optimizer step: {}", opt.name, opt.op, e.what()));
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
    const auto* loss = dynamic_cast<const Loss*>(node.impl.get());
    const Value& prediction = values_[static_cast<size_t>(node.inputs[0])];
    const std::string producer_op = prediction.producer >= 0 ? nodes_[static_cast<size_t>(prediction.producer)].op : "";
    if (loss && loss->reports_accuracy(producer_op))
      return loss->count_correct(prediction.data, values_[static_cast<size_t>(node.inputs[1])].data);
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

}  // namespace gradflow

namespace gradflow {

std::unique_ptr<Model> load_model(const std::filesystem::path& file, const Registry& registry,
                                  const ParseOptions& options) {
  Diagnostics diagnostics;
  GraphSpec spec = parse_graph_file(file, registry, diagnostics, options);
  diagnostics.throw_if_any();
  auto model = Model::build(std::move(spec), registry, diagnostics);
  diagnostics.throw_if_any();
  return model;
}

}  // namespace gradflow
