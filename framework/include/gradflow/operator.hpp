// The operator contract. Every operator, built-in or from a plugin, implements one of these
// interfaces and is registered by name through a Registrar (registry.hpp).
//
// Lifecycle of a compute operator (a layer or a loss), one instance per graph node:
//   1. constructed from its validated Attributes;
//   2. infer_shape(): sample shapes in (batch dimension excluded), sample shape out; this is
//      where parameters get their shapes (throw ShapeError on a mismatch);
//   3. init_parameters(rng) once, unless a checkpoint supplies them;
//   4. (an operator that is a DataFitter: fitted to the training data when a run starts fresh)
//   5. begin_pass(context), then forward()/backward() once per step each, never concurrently
//      on one instance, so an operator may keep what backward needs from forward in its own
//      members.
//
// Gradient rule (dlib's, inverted): backward ASSIGNS every grad_inputs[i] that is not null and
// every parameter's `grad`. Each grad_inputs[i] arrives sized to its input's shape (the
// framework sizes the buffers, which gradient slots with disjoint lifetimes share), and each
// parameter's `grad` has its parameter's shape. The framework owns accumulation: a tensor read by several nodes
// gets one gradient buffer per reader, summed in a fixed order, so results do not depend on
// thread timing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gradflow/attributes.hpp"
#include "gradflow/onnx.hpp"
#include "gradflow/rng.hpp"
#include "gradflow/tensor.hpp"

namespace gradflow {

enum class OpKind { Layer, Loss, Optimizer };
const char* to_string(OpKind kind);

// How a loss's prediction names a class, so that predict and eval classify without knowing ops.
enum class ClassRule {
  None,         // not a classifier (regression)
  Softmax,      // logits [C]: probabilities are the softmax over the last axis, C classes
  Sigmoid,      // one logit per sample: class 1 with probability sigmoid(x), 2 classes
  Probability,  // one probability per sample (already the probability of class 1), 2 classes
};

// The classes `rule` gives a prediction of sample shape `prediction_shape`; 0 when it gives
// none (None; softmax over a sequence [T, C], which is per position, not per sample; or a
// binary rule over more than one value per sample: multi-label, not classes).
inline int64_t class_count(ClassRule rule, const Shape& prediction_shape) {
  switch (rule) {
    case ClassRule::Softmax: return prediction_shape.size() == 1 ? prediction_shape.back() : 0;
    case ClassRule::Sigmoid:
    case ClassRule::Probability: return numel(prediction_shape) == 1 ? 2 : 0;
    case ClassRule::None: break;
  }
  return 0;
}

// What an op is, fixed for every node of it: the parser checks nodes against it before anything
// is built, and the framework reads its facts without building an operator.
struct OpSchema {
  std::string name;     // the `op:` of a node
  OpKind kind = OpKind::Layer;
  std::string summary;  // one line for `graph-runner ops`
  int min_inputs = 1;
  int max_inputs = 1;   // -1: no upper bound
  std::vector<AttrSpec> attributes;
  // A loss: how its prediction names a class (predict --classes, eval's confusion matrix,
  // `labels:`); see class_count for the predictions a rule classifies.
  ClassRule class_rule = ClassRule::None;
  // A layer: every output value is exactly 0 or 1, a hard decision (as `step` gives); a loss
  // that counts exact matches (mse) reports accuracy only over such a prediction.
  bool outputs_decisions = false;
};

// Thrown by infer_shape with what was expected; the loader adds file, line and node names.
struct ShapeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Parameter {
  std::string name;  // local name: "weight"; checkpoints store "<node>.<name>"
  Tensor value;
  Tensor grad;
};

// State an operator keeps that is not trained (batch norm's running statistics): saved and
// loaded with checkpoints as "<node>.<name>", never touched by optimizers, weight decay or
// gradcheck, broadcast from rank 0 under data parallelism.
struct Buffer {
  std::string name;
  Tensor value;
  bool integer = false;  // a counter: stored as I64 (torch's num_batches_tracked)
};

// The pass that a forward and the backward after it belong to.
struct RunContext {
  bool training = false;     // train runs in training mode; eval, predict, test evaluation,
                             // the embedding API and export in evaluation mode
  int64_t step = 0;          // optimizer steps taken before this pass
  uint64_t seed = 0;         // the graph's seed
  int64_t first_sample = 0;  // position of the batch's first sample in the global batch (data
                             // parallelism: draws follow the sample, not the rank)
  std::string_view node;     // the node the context is given to

  // The random stream of this node in this step, fixed by (seed, node, step): a dropout mask
  // drawn from it with Rng::uniform_at at each value's position in the global batch is the
  // same whatever the thread count, the rank or a resume.
  uint64_t random_key() const { return Rng::stream_key(seed, node, static_cast<uint64_t>(step)); }
};

class Operator {
 public:
  virtual ~Operator() = default;

  virtual Shape infer_shape(std::span<const Shape> input_shapes) = 0;
  virtual std::span<Parameter> parameters() { return {}; }
  virtual void init_parameters(Rng& /*rng*/) {}
  // Non-trained state, initialised at construction or infer_shape (batch norm: 0 and 1).
  virtual std::span<Buffer> buffers() { return {}; }

  // Before every forward pass: training or evaluation, the step, the random stream. Operators
  // that behave differently in training (dropout, batch_norm) keep what they need; the
  // backward that follows belongs to the same pass.
  virtual void begin_pass(const RunContext& /*context*/) {}

  // inputs[i] is [batch, ...sample] (a loss's output is a scalar of shape []).
  virtual void forward(std::span<const Tensor* const> inputs, Tensor& output) = 0;
  virtual void backward(std::span<const Tensor* const> inputs, const Tensor& output,
                        const Tensor& grad_output, std::span<Tensor* const> grad_inputs) = 0;

  // Rough floating-point work per sample of one forward pass; the scheduler runs cheap
  // nodes inline rather than paying for a task.
  virtual double flops_per_sample() const { return 0.0; }
};

// Sizes each gradient buffer that is not null to its input's shape: what the framework does
// before every backward (backward may rely on it), and what code that calls backward itself
// does too (an operator-level gradcheck, a test). A buffer of the right shape is left as it is.
inline void size_gradients(std::span<const Tensor* const> inputs, std::span<Tensor* const> grad_inputs) {
  for (size_t i = 0; i < grad_inputs.size() && i < inputs.size(); ++i)
    if (grad_inputs[i]) grad_inputs[i]->resize(inputs[i]->shape());
}

// How a loss combines the terms of a batch: their mean or their sum.
enum class Reduction { Mean, Sum };

// A loss: inputs are (prediction, target), output a scalar of shape []. Its fixed facts are in
// its OpSchema (class_rule); what it can do beyond the loss itself, it says by implementing
// the abilities below (AccuracyCounter, TargetChecker), as a plugin loss does too.
class Loss : public Operator {
 public:
  // Data-parallel training weighs each rank's share of a batch by it.
  virtual Reduction reduction() const { return Reduction::Mean; }
};

// Optional abilities. An operator implements, beside Operator or Loss, the ones it has; the
// framework asks for them with dynamic_cast, so an operator without one is simply treated as
// not having it (a plugin's op without OnnxExportable makes export fail naming the node).

// Writes the standard ONNX nodes that compute the node's output in evaluation mode
// (graph-runner export; gradflow/onnx.hpp).
class OnnxExportable {
 public:
  virtual ~OnnxExportable() = default;
  // Returns false when this configuration of the op has no ONNX form.
  virtual bool export_onnx(OnnxNodeWriter& writer) const = 0;
};

// Checks each value fed from a data set to its input `input` (a graph input it reads
// directly), when the graph is loaded, before any training starts.
class InputChecker {
 public:
  virtual ~InputChecker() = default;
  // What was expected when `value` is wrong (embedding: "expects integer token ids in
  // [0, 256)"); nothing when it is fine.
  virtual std::optional<std::string> check_input(size_t input, float value) const = 0;
};

// A loss that checks each target value fed from a data set, for a prediction of sample shape
// `prediction_shape` and a target of sample shape `target_shape`, when the graph is loaded.
class TargetChecker {
 public:
  virtual ~TargetChecker() = default;
  // What was expected when `value` is wrong (e.g. "expects a class index in [0, 10)").
  virtual std::optional<std::string> check_target(float value, const Shape& prediction_shape,
                                                  const Shape& target_shape) const = 0;
};

// A loss that counts right predictions: train and eval report accuracy from it.
class AccuracyCounter {
 public:
  virtual ~AccuracyCounter() = default;
  // Whether accuracy applies to this node's prediction; `prediction_is_decisions`: the
  // prediction comes from an op whose OpSchema::outputs_decisions is set.
  virtual bool reports_accuracy(bool prediction_is_decisions) const = 0;
  // Number of samples of the batch whose prediction is right.
  virtual int64_t count_correct(const Tensor& prediction, const Tensor& target) const = 0;
};

// Fitted to the training data once, before the first step, and never trained (standardize's
// mean and std). A training run that starts from scratch (no --resume, no --weights) hands the
// operator its first input over the whole training set: begin_fit, then fit_batch for every
// batch in sample order (evaluation mode, upstream fitters already fitted), then end_fit. What
// it fits must live in its buffers(), so that checkpoints carry it to eval, predict, export
// and the embedding API, and a resumed run keeps it.
class DataFitter {
 public:
  virtual ~DataFitter() = default;
  virtual void begin_fit() = 0;
  virtual void fit_batch(const Tensor& input) = 0;  // [batch, ...sample shape]
  virtual void end_fit() = 0;
};

// A parameter an optimizer updates, by its checkpoint name.
struct ParamRef {
  std::string name;  // "<node>.<param>"
  Tensor* value;
  const Tensor* grad;
};

// Receives an optimizer's state for checkpoints: tensors (moments) and counters (steps).
// The same visitor shape is used to save and to restore, so the two cannot drift apart.
class StateVisitor {
 public:
  virtual ~StateVisitor() = default;
  virtual void tensor(const std::string& name, Tensor& value) = 0;
  virtual void counter(const std::string& name, int64_t& value) = 0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Called once with every parameter this optimizer updates; allocate per-parameter state.
  virtual void setup(std::span<const ParamRef> params) = 0;
  // One update of every parameter from its gradient. Parameters may be updated in parallel;
  // results must not depend on the thread count.
  virtual void step() = 0;
  virtual void visit_state(StateVisitor& visitor) = 0;
  // The learning rate of the next steps (torch's param_group['lr']), which train.lr_schedule
  // changes between epochs. An optimizer without one returns nothing, and a graph that
  // schedules it is refused.
  virtual std::optional<double> learning_rate() const { return std::nullopt; }
  virtual void set_learning_rate(double /*lr*/) {}
};

}  // namespace gradflow
