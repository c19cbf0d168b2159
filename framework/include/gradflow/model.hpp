// A graph built for running: the DAG (Boost.Graph) checked and sorted, shapes inferred,
// operators instantiated, parameters and gradient buffers allocated.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "gradflow/batch_source.hpp"
#include "gradflow/diagnostics.hpp"
#include "gradflow/graph_spec.hpp"
#include "gradflow/operator.hpp"
#include "gradflow/registry.hpp"

namespace gradflow {

class Scheduler;

// A tensor that flows along the graph: a graph input or the output of a compute node.
struct Value {
  std::string name;
  Shape sample_shape;        // per sample; a loss's output is a scalar ([])
  int producer = -1;         // index into Model::nodes(), -1 for a graph input
  bool needs_grad = false;   // some parameter lies upstream and some optimised loss downstream
  Tensor data;               // [batch, ...sample_shape]
  // One gradient buffer per reader that needs one, in a fixed reader order; the producer's
  // backward sums them into `grad` (or reads the single slot directly).
  std::vector<Tensor*> grad_slots;
  Tensor grad;
};

struct ComputeNode {
  std::string name;
  std::string op;
  OpKind kind = OpKind::Layer;
  ClassRule class_rule = ClassRule::None;  // its OpSchema's facts
  bool outputs_decisions = false;
  std::unique_ptr<Operator> impl;
  std::vector<int> inputs;  // value ids
  int output = -1;          // value id
  std::vector<const Tensor*> input_ptrs;  // cached for forward/backward calls
  // Where backward writes each input's gradient: null where the input needs none, else one of
  // the model's gradient buffers, which slots with disjoint lifetimes share.
  std::vector<Tensor*> input_grad_ptrs;
  bool runs_backward = false;
  SourceLocation where;

  std::string label() const;  // "node 'NAME' (op OP)", as messages name a node
};

struct OptimizerNode {
  std::string name;
  std::string op;
  std::unique_ptr<Optimizer> impl;
  std::vector<int> losses;  // node ids
  std::vector<ParamRef> params;
  std::vector<Tensor*> gradients;  // params' gradients, writable: what clipping rescales before the step
  SourceLocation where;
};

class Model;
// A check that runs on a graph once its shapes are known, before build() decides (a loader's
// check of the data against the losses): what it reports makes build() fail too. Nodes whose
// shapes could not be inferred have no `impl`.
using ModelCheck = std::function<void(const Model&, Diagnostics&)>;

// A built graph and its passes: topology, shapes and operators (fixed once built), the batch
// buffers, and forward, backward and the optimizer step on the scheduler. It holds no data:
// the caller loads batches from data sets it owns.
class Model {
 public:
  // Builds and checks the graph. Problems go to `diagnostics`; returns null when any was found.
  static std::unique_ptr<Model> build(GraphSpec spec, const Registry& registry, Diagnostics& diagnostics,
                                      const ModelCheck& check = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const GraphSpec& spec() const { return spec_; }
  const std::vector<ComputeNode>& nodes() const { return nodes_; }
  const std::vector<Value>& values() const { return values_; }
  const std::vector<OptimizerNode>& optimizers() const { return optimizers_; }
  std::vector<int> topological_order() const { return order_; }
  int find_value(const std::string& name) const;  // -1 when absent
  // Which values `value_ids` depend on (themselves included), indexed by value id.
  std::vector<bool> values_needed_for(const std::vector<int>& value_ids) const;
  // Whether value `v` is the output of an op whose outputs are hard 0/1 decisions
  // (OpSchema::outputs_decisions); false for a graph input.
  bool is_decisions(int v) const;

  // Every trainable parameter, named "<node>.<param>", in topological node order.
  std::vector<ParamRef> parameters();
  int64_t parameter_count() const;
  // Compute node `n`'s parameters and their gradients: what data-parallel training reduces.
  std::span<Parameter> node_parameters(int n);
  // Every buffer (non-trained state), named "<node>.<buffer>", in topological node order.
  struct BufferRef {
    std::string name;
    Buffer* buffer;
  };
  std::vector<BufferRef> buffers();
  // Draws initial weights from streams derived from (seed, node name).
  void init_parameters(uint64_t seed);

  // Copies the samples at `indices` into the graph inputs; inputs the data lacks are left
  // empty (predict feeds only what the outputs need). `data` is usually a Dataset.
  void load_batch(const BatchSource& data, std::span<const int64_t> indices);
  int64_t batch_size() const { return batch_; }
  // Bytes every value (inputs and node outputs) takes per sample: what a batch costs in memory.
  int64_t value_bytes_per_sample() const;

  // The mode of the passes that follow, given to every operator before each forward:
  // evaluation until the trainer sets training for its steps (RunContext).
  void set_training(bool training, int64_t step = 0, int64_t first_sample = 0);
  bool training() const { return context_.training; }

  void forward();
  // Runs only the nodes that `value_ids` depend on, in topological order (predict).
  void forward_to(const std::vector<int>& value_ids);
  // The graph inputs that `value_ids` depend on.
  std::vector<int> inputs_needed_for(const std::vector<int>& value_ids) const;
  void backward();       // the gradients of every optimised loss
  // Buffers that hold the values' gradients during backward (slots with disjoint lifetimes
  // share one: graph/gradient_buffers.hpp).
  size_t gradient_buffer_count() const { return gradient_buffers_.size(); }
  void optimizer_step();

  // Sum of the optimised losses (of every loss when there is no optimizer) after forward().
  double objective() const;
  // Correct predictions in the batch by the first loss that reports accuracy; nothing when
  // no loss does (regression).
  std::optional<int64_t> correct_count() const;
  // The prediction input of the loss that reports accuracy / the default outputs.
  std::vector<int> output_values() const;
  // The first loss objective() sums whose OpSchema::class_rule gives its prediction classes
  // (class_count > 0): what predict --classes and eval's confusion matrix read; -1 when none.
  int classifier() const;

  Scheduler& scheduler() { return *scheduler_; }

  // When on, every node's output (forward), gradients (backward) and every parameter after an
  // optimizer step are checked for NaN and Inf; the first found throws NodeError naming the
  // node, its op and the pass.
  void set_check_numerics(bool on) { check_numerics_ = on; }
  bool check_numerics() const { return check_numerics_; }

  // Called with a node's index after its backward has written its parameters' gradients, from
  // the thread that ran it (possibly a TBB worker, possibly concurrently for independent
  // nodes): lets data-parallel training start reducing a gradient while backward runs.
  using GradientsReady = std::function<void(int node)>;
  void set_on_gradients_ready(GradientsReady callback) { on_gradients_ready_ = std::move(callback); }

 private:
  Model() = default;
  void allocate_for_batch(int64_t batch);
  void begin_pass();  // gives every operator the run context
  void accumulate_grad(Value& value);

  GraphSpec spec_;
  // Appends a value; find_value reads the first of a name through value_ids_.
  void add_value(Value value);

  std::vector<Value> values_;
  std::unordered_map<std::string, int> value_ids_;  // name -> index in values_ (imports have 20,000 of them)
  std::vector<ComputeNode> nodes_;
  std::vector<OptimizerNode> optimizers_;
  std::vector<int> order_;             // compute nodes in topological order
  std::vector<int> optimised_losses_;  // node ids
  std::vector<int> metric_losses_;     // node ids: optimised losses, or every loss
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<std::unique_ptr<Tensor>> gradient_buffers_;  // graph/gradient_buffers.hpp
  int64_t batch_ = -1;
  RunContext context_;
  bool check_numerics_ = false;
  GradientsReady on_gradients_ready_;
  friend class ModelBuilder;
};

}  // namespace gradflow
