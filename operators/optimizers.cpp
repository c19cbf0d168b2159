// Optimizers with torch.optim's update rules (single-tensor, non-foreach code path of
// torch 1.13), so a run here and in PyTorch agree step for step.
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <tbb/parallel_for.h>

#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

// Elements per update chunk of one large parameter. Updates are elementwise, so the chunking
// only decides parallelism, never a result bit.
constexpr int64_t kUpdateChunk = 1 << 14;

AttrSpec lr_attr(std::optional<AttrValue> default_value) {
  return bounded(attr("lr", AttrType::Float, std::move(default_value), "learning rate"), 0.0,
                 true);
}

AttrSpec non_negative(std::string name, double default_value, std::string help) {
  return bounded(attr(std::move(name), AttrType::Float, AttrValue{default_value}, std::move(help)),
                 0.0, false);
}

double beta(const Attributes& attrs, const char* name) {
  const double b = attrs.get_float(name);
  if (b >= 1.0)
    throw std::invalid_argument(std::string(name) + " must be below 1, got " + std::to_string(b));
  return b;
}

// Holds the parameter list and runs the per-parameter update in parallel: parameters in a
// tbb::parallel_for, each large one in fixed chunks.
class ParamOptimizer : public Optimizer {
 public:
  void setup(std::span<const ParamRef> params) override {
    params_.assign(params.begin(), params.end());
    allocate_state();
  }

  void step() override {
    tbb::parallel_for(size_t{0}, params_.size(), [&](size_t i) {
      begin_param_step(i);
      kernels::for_tiles(params_[i].value->size(), kUpdateChunk,
                         [&](int64_t begin, int64_t end) { update(i, begin, end); });
    });
  }

 protected:
  virtual void allocate_state() = 0;
  virtual void begin_param_step(size_t /*i*/) {}
  // Updates elements [begin, end) of parameter i.
  virtual void update(size_t i, int64_t begin, int64_t end) = 0;

  // Zero tensors shaped like each parameter.
  std::vector<Tensor> zeros_like_params() const {
    std::vector<Tensor> state;
    state.reserve(params_.size());
    for (const ParamRef& p : params_) state.emplace_back(p.value->shape());
    return state;
  }

  std::vector<ParamRef> params_;
};

// SGD's elementwise updates, compiled per instruction set (GRADFLOW_CPU_DISPATCH, kernels.hpp);
// the invariant branches are unswitched out of the loops by the compiler.
GRADFLOW_CPU_DISPATCH void sgd_update(float* __restrict p, const float* __restrict g, int64_t n, float lr,
                                      float weight_decay) {
  for (int64_t k = 0; k < n; ++k) {
    float d = g[k];
    if (weight_decay != 0.0f) d += weight_decay * p[k];
    p[k] -= lr * d;
  }
}

struct MomentumConstants {
  float lr, momentum, weight_decay;
  bool nesterov;
};

GRADFLOW_CPU_DISPATCH void sgd_momentum_update(float* __restrict p, const float* __restrict g, float* __restrict buf,
                                               int64_t n, const MomentumConstants& c) {
  for (int64_t k = 0; k < n; ++k) {
    float d = g[k];
    if (c.weight_decay != 0.0f) d += c.weight_decay * p[k];
    buf[k] = c.momentum * buf[k] + d;
    p[k] -= c.lr * (c.nesterov ? d + c.momentum * buf[k] : buf[k]);
  }
}

class Sgd final : public ParamOptimizer {
 public:
  static OpSchema schema() {
    return {"sgd",
            OpKind::Optimizer,
            "stochastic gradient descent with optional momentum (torch.optim.SGD)",
            1,
            -1,
            {lr_attr(std::nullopt), non_negative("momentum", 0.0, "momentum factor"),
             attr("nesterov", AttrType::Bool, AttrValue{false}, "use Nesterov momentum"),
             non_negative("weight_decay", 0.0, "L2 penalty added to the gradient")}};
  }

  explicit Sgd(const Attributes& attrs)
      : lr_(static_cast<float>(attrs.get_float("lr"))),
        lr_double_(attrs.get_float("lr")),
        momentum_(static_cast<float>(attrs.get_float("momentum"))),
        nesterov_(attrs.get_bool("nesterov")),
        weight_decay_(static_cast<float>(attrs.get_float("weight_decay"))) {
    if (nesterov_ && momentum_ <= 0.0f)
      throw std::invalid_argument("sgd: nesterov requires a momentum above 0");
  }

  std::optional<double> learning_rate() const override { return lr_double_; }
  void set_learning_rate(double lr) override {
    lr_double_ = lr;
    lr_ = static_cast<float>(lr);  // torch passes the Python double to a float kernel
  }

  void visit_state(StateVisitor& visitor) override {
    if (momentum_ == 0.0f) return;
    for (size_t i = 0; i < params_.size(); ++i)
      visitor.tensor(params_[i].name + ".momentum_buffer", buffers_[i]);
  }

 private:
  void allocate_state() override {
    if (momentum_ != 0.0f) buffers_ = zeros_like_params();
  }

  // torch sets buf = d_p on the first step, then buf = momentum·buf + d_p (dampening 0).
  // A zero-initialised buffer gives exactly that on the first step (momentum·0 + d_p = d_p),
  // so no "first step" flag has to be stored in checkpoints.
  void update(size_t i, int64_t begin, int64_t end) override {
    float* p = params_[i].value->data() + begin;
    const float* g = params_[i].grad->data() + begin;
    if (momentum_ == 0.0f) {
      sgd_update(p, g, end - begin, lr_, weight_decay_);
    } else {
      sgd_momentum_update(p, g, buffers_[i].data() + begin, end - begin, {lr_, momentum_, weight_decay_, nesterov_});
    }
  }

  float lr_;
  double lr_double_;
  float momentum_;
  bool nesterov_;
  float weight_decay_;
  std::vector<Tensor> buffers_;
};

struct AdamConstants {
  float b1, b2, one_minus_b1, one_minus_b2, eps, l2, step_size, inv_bc2_sqrt, decay_factor;
};

// Adam's elementwise update (~20% of an MNIST step), compiled per instruction set
// (GRADFLOW_CPU_DISPATCH, kernels.hpp). One division per element, not torch's two (sqrt(v) times 1/sqrt(bc2)): divisions and square
// roots share one unit, and this loop is bound by it.
GRADFLOW_CPU_DISPATCH void adam_update(
    float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v, int64_t n,
    const AdamConstants& c) {
  for (int64_t k = 0; k < n; ++k) {
    p[k] *= c.decay_factor;
    const float grad = g[k] + c.l2 * p[k];
    m[k] = m[k] * c.b1 + c.one_minus_b1 * grad;
    v[k] = v[k] * c.b2 + c.one_minus_b2 * grad * grad;
    const float denom = std::sqrt(v[k]) * c.inv_bc2_sqrt + c.eps;
    p[k] -= c.step_size * m[k] / denom;
  }
}

// Adam and AdamW differ only in how weight decay applies: added to the gradient (L2, Adam) or
// shrinking the parameter directly (decoupled, AdamW).
class AdamFamily : public ParamOptimizer {
 public:
  std::optional<double> learning_rate() const override { return lr_; }
  void set_learning_rate(double lr) override { lr_ = lr; }

  void visit_state(StateVisitor& visitor) override {
    for (size_t i = 0; i < params_.size(); ++i) {
      const std::string& name = params_[i].name;
      visitor.tensor(name + ".exp_avg", exp_avg_[i]);
      visitor.tensor(name + ".exp_avg_sq", exp_avg_sq_[i]);
      visitor.counter(name + ".step", steps_[i]);
    }
  }

 protected:
  AdamFamily(const Attributes& attrs, bool decoupled)
      : lr_(attrs.get_float("lr")),
        beta1_(beta(attrs, "beta1")),
        beta2_(beta(attrs, "beta2")),
        eps_(attrs.get_float("eps")),
        weight_decay_(attrs.get_float("weight_decay")),
        decoupled_(decoupled) {}

  static OpSchema schema_for(std::string name, std::string summary, double weight_decay,
                             std::string decay_help) {
    return {std::move(name),
            OpKind::Optimizer,
            std::move(summary),
            1,
            -1,
            {lr_attr(AttrValue{0.001}),
             non_negative("beta1", 0.9, "decay of the first-moment average, in [0, 1)"),
             non_negative("beta2", 0.999, "decay of the second-moment average, in [0, 1)"),
             bounded(attr("eps", AttrType::Float, AttrValue{1e-8}, "added to the denominator"),
                     0.0, false),
             non_negative("weight_decay", weight_decay, std::move(decay_help))}};
  }

 private:
  struct StepScalars {
    float step_size;      // lr / bias_correction1
    float inv_bc2_sqrt;   // 1 / sqrt(bias_correction2)
    float decay_factor;   // 1 − lr·wd for AdamW, else 1
  };

  void allocate_state() override {
    exp_avg_ = zeros_like_params();
    exp_avg_sq_ = zeros_like_params();
    steps_.assign(params_.size(), 0);
    scalars_.assign(params_.size(), {});
  }

  // The step count and bias corrections are per parameter (as torch keeps them), computed in
  // double like torch's Python scalars, once before the chunks run.
  void begin_param_step(size_t i) override {
    const double step = static_cast<double>(++steps_[i]);
    const double bias_correction1 = 1.0 - std::pow(beta1_, step);
    const double bias_correction2 = 1.0 - std::pow(beta2_, step);
    scalars_[i] = {static_cast<float>(lr_ / bias_correction1),
                   static_cast<float>(1.0 / std::sqrt(bias_correction2)),
                   static_cast<float>(decoupled_ ? 1.0 - lr_ * weight_decay_ : 1.0)};
  }

  void update(size_t i, int64_t begin, int64_t end) override {
    const StepScalars s = scalars_[i];
    // torch turns each Python double scalar into float separately: (float)(1 − β) is not
    // 1 − (float)β.
    const AdamConstants c{static_cast<float>(beta1_), static_cast<float>(beta2_),
                          static_cast<float>(1.0 - beta1_), static_cast<float>(1.0 - beta2_),
                          static_cast<float>(eps_), decoupled_ ? 0.0f : static_cast<float>(weight_decay_),
                          s.step_size, s.inv_bc2_sqrt, s.decay_factor};
    adam_update(params_[i].value->data() + begin, params_[i].grad->data() + begin, exp_avg_[i].data() + begin,
                exp_avg_sq_[i].data() + begin, end - begin, c);
  }

  double lr_, beta1_, beta2_, eps_, weight_decay_;
  bool decoupled_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
  std::vector<int64_t> steps_;
  std::vector<StepScalars> scalars_;
};

class Adam final : public AdamFamily {
 public:
  static OpSchema schema() {
    return schema_for("adam", "Adam (torch.optim.Adam)", 0.0, "L2 penalty added to the gradient");
  }
  explicit Adam(const Attributes& attrs) : AdamFamily(attrs, false) {}
};

class AdamW final : public AdamFamily {
 public:
  static OpSchema schema() {
    return schema_for("adamw", "Adam with decoupled weight decay (torch.optim.AdamW)", 0.01,
                      "decoupled decay: p *= 1 - lr*weight_decay before the Adam step");
  }
  explicit AdamW(const Attributes& attrs) : AdamFamily(attrs, true) {}
};

}  // namespace

void register_optimizers(Registrar& registrar) {
  registrar.add<Sgd>();
  registrar.add<Adam>();
  registrar.add<AdamW>();
}

}  // namespace gradflow::ops
