// Builds a Model from a GraphSpec: resolves names, checks the DAG (Boost.Graph), infers
// shapes, instantiates operators and plans the gradient buffers and the scheduler's passes.
// Every stage reports what it finds and carries on, so one run reports all problems.
#include "gradflow/model.hpp"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/topological_sort.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "gradflow/closest_name.hpp"
#include "gradflow/kernels.hpp"
#include "gradflow/scheduler.hpp"
#include "graph/gradient_buffers.hpp"

namespace gradflow {

using Dag = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;

// The stages of Model::build, each recording diagnostics and carrying on where it can.
class ModelBuilder {
 public:
  // The model owns the spec (moved in, so its data sets are not held twice); the stages read it there.
  ModelBuilder(GraphSpec spec, const Registry& registry, Diagnostics& diagnostics, const ModelCheck& check)
      : model_(new Model), spec_(model_->spec_), registry_(registry), diagnostics_(diagnostics), check_(check) {
    model_->spec_ = std::move(spec);
  }

  std::unique_ptr<Model> build() {
    const size_t before = diagnostics_.size();
    declare_values();
    resolve_inputs();
    if (!sort_topologically()) return nullptr;
    infer_shapes();
    connect_optimizers();
    choose_metric_losses();
    if (check_) check_(*model_, diagnostics_);
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
      model_->add_value(Value{input.name, input.shape, -1, false, {}, {}, {}});
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
      compute.class_rule = entry->schema.class_rule;
      compute.outputs_decisions = entry->schema.outputs_decisions;
      compute.where = node.where;
      compute.output = static_cast<int>(model_->values_.size());
      node_specs_.push_back(&node);
      model_->add_value(Value{node.name, {}, static_cast<int>(model_->nodes_.size()), false, {}, {}, {}});
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

  // Depth-first with an explicit stack: a graph file (or an imported ONNX model) may chain
  // tens of thousands of nodes, deeper than recursion on the thread's stack allows.
  bool report_cycles(const Dag& dag) {
    enum class Mark { New, Active, Done };
    using OutEdge = boost::graph_traits<Dag>::out_edge_iterator;
    struct Frame {
      size_t node;
      OutEdge next, end;
    };
    std::vector<Mark> marks(boost::num_vertices(dag), Mark::New);
    std::vector<size_t> path;  // the Active nodes, in stack order
    std::vector<Frame> stack;
    bool found = false;
    auto enter = [&](size_t u) {
      marks[u] = Mark::Active;
      path.push_back(u);
      auto [begin, end] = boost::out_edges(u, dag);
      stack.push_back({u, begin, end});
    };
    for (size_t root = 0; root < marks.size(); ++root) {
      if (marks[root] != Mark::New) continue;
      enter(root);
      while (!stack.empty()) {
        Frame& top = stack.back();
        if (top.next == top.end) {
          marks[top.node] = Mark::Done;
          path.pop_back();
          stack.pop_back();
          continue;
        }
        const size_t v = boost::target(*top.next++, dag);
        if (marks[v] == Mark::Active) {
          report_cycle(std::vector<size_t>(std::find(path.begin(), path.end(), v), path.end()));
          found = true;
        } else if (marks[v] == Mark::New) {
          enter(v);  // invalidates `top`; the loop takes the new back()
        }
      }
    }
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
      if (node.inputs.empty())  // parameter, constant
        error(spec.where, fmt::format("{}: {}", node.label(), e.what()));
      else
        error(spec.where, fmt::format("{}: {}; its input{} {} {}", node.label(), e.what(),
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
      opt.where = spec->where;
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
    for (const std::string& name : spec.params) check_param_node(spec, name, upstream);
    for (int n : model_->order_) {
      ComputeNode& node = model_->nodes_[static_cast<size_t>(n)];
      if (!upstream.count(n) || !node.impl || node.impl->parameters().empty()) continue;
      if (!restrict_to.empty() && !restrict_to.count(node.name)) continue;
      if (auto [it, fresh] = claimed.emplace(node.name, spec.name); !fresh) {
        error(spec.where, fmt::format("optimizer '{}' and optimizer '{}' both update node '{}'", it->second, spec.name, node.name));
        continue;
      }
      for (Parameter& p : node.impl->parameters()) {
        opt.params.push_back(ParamRef{node.name + "." + p.name, &p.value, &p.grad});
        opt.gradients.push_back(&p.grad);
      }
    }
  }

  // An entry of an optimizer's `params` must name a node with parameters that its losses depend on: any other
  // would train nothing, silently.
  void check_param_node(const NodeSpec& spec, const std::string& name, const std::set<int>& upstream) {
    const int v = model_->find_value(name);
    const int n = v < 0 ? -1 : model_->values_[static_cast<size_t>(v)].producer;
    if (n < 0) {
      error(spec.where, fmt::format("optimizer '{}': params names '{}', which is not a node", spec.name, name));
      return;
    }
    const ComputeNode& node = model_->nodes_[static_cast<size_t>(n)];
    if (!node.impl) return;  // its own error is reported
    std::vector<std::string> trainable;
    for (int m : model_->order_) {
      const ComputeNode& other = model_->nodes_[static_cast<size_t>(m)];
      if (upstream.count(m) && other.impl && !other.impl->parameters().empty()) trainable.push_back(other.name);
    }
    const std::string which = node.impl->parameters().empty() ? "which has no parameters"
                              : !upstream.count(n)              ? "which its losses do not depend on"
                                                                : "";
    if (!which.empty())
      error(spec.where, fmt::format("optimizer '{}': params names {}, {}; it would train nothing (nodes it can "
                                    "train: {})",
                                    spec.name, node.label(), which, fmt::join(trainable, ", ")));
  }

  // The nodes that `roots` (node ids) depend on, themselves included.
  std::set<int> upstream_nodes(const std::vector<int>& roots) const {
    std::vector<int> outputs;
    for (int n : roots) outputs.push_back(model_->nodes_[static_cast<size_t>(n)].output);
    const std::vector<bool> needed = model_->values_needed_for(outputs);
    std::set<int> upstream;
    for (int n : model_->order_)
      if (needed[static_cast<size_t>(model_->nodes_[static_cast<size_t>(n)].output)]) upstream.insert(n);
    return upstream;
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
    std::vector<GradientSlot> slots;
    for (int n : model_->order_) {
      ComputeNode& node = nodes[static_cast<size_t>(n)];
      node.runs_backward = reach.count(n) && carries_params[static_cast<size_t>(node.output)];
      node.input_grad_ptrs.assign(node.inputs.size(), nullptr);
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        Value& input = values[static_cast<size_t>(node.inputs[i])];
        // Once true, it stays: another reader may have asked for this value's gradient.
        const bool wanted = node.runs_backward && carries_params[static_cast<size_t>(node.inputs[i])];
        input.needs_grad = input.needs_grad || wanted;
        if (wanted) slots.push_back({n, i});
      }
      for (int v : node.inputs) node.input_ptrs.push_back(&values[static_cast<size_t>(v)].data);
    }
    std::reverse(slots.begin(), slots.end());  // backward order
    model_->gradient_buffers_ = share_gradient_buffers(nodes, values, model_->order_, slots);
    for (int n : model_->order_) {  // each value's slots in topological reader order: a fixed sum
      const ComputeNode& node = nodes[static_cast<size_t>(n)];
      for (size_t i = 0; i < node.inputs.size(); ++i)
        if (Tensor* slot = node.input_grad_ptrs[i]) values[static_cast<size_t>(node.inputs[i])].grad_slots.push_back(slot);
    }
    for (OptimizerNode& opt : model_->optimizers_) opt.impl->setup(opt.params);
  }

  // Before the check, which may ask for the classifier among them.
  void choose_metric_losses() {
    model_->metric_losses_ = model_->optimised_losses_;
    if (model_->metric_losses_.empty())
      for (int n : model_->order_)
        if (model_->nodes_[static_cast<size_t>(n)].kind == OpKind::Loss) model_->metric_losses_.push_back(n);
  }

  void make_scheduler() {
    const auto& nodes = model_->nodes_;
    PassPlan forward, backward;
    forward.predecessors.resize(nodes.size());
    backward.predecessors.resize(nodes.size());
    std::vector<std::string> labels;
    std::vector<SourceLocation> places;
    for (const ComputeNode& node : nodes) {
      labels.push_back(node.label());
      places.push_back(node.where);
    }
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
    model_->scheduler_ = std::make_unique<Scheduler>(std::move(forward), std::move(backward), std::move(labels),
                                                     std::move(places));
  }

  std::unique_ptr<Model> model_;
  const GraphSpec& spec_;
  const Registry& registry_;
  Diagnostics& diagnostics_;
  const ModelCheck& check_;
  std::vector<const NodeSpec*> node_specs_;       // parallel to model_->nodes_
  std::vector<const NodeSpec*> optimizer_specs_;
};

std::unique_ptr<Model> Model::build(GraphSpec spec, const Registry& registry, Diagnostics& diagnostics,
                                    const ModelCheck& check) {
  kernels::initialize();
  return ModelBuilder(std::move(spec), registry, diagnostics, check).build();
}

}  // namespace gradflow
