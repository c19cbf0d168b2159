// Losses, numerically like their torch.nn counterparts. Each element's term is computed in
// double and summed in a fixed order (fixed tiles, partial sums added in tile order), so the
// scalar is the same for any thread count.
#include <tbb/parallel_reduce.h>
#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "families.hpp"
#include "compute/fast_math.hpp"
#include "gradflow/kernels.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

OpSchema loss_schema(std::string name, std::string summary, std::vector<AttrSpec> extra = {}) {
  extra.push_back(reduction_attr());
  return {std::move(name), OpKind::Loss, std::move(summary), 2, 2, std::move(extra)};
}

void require_pair(std::span<const Shape> shapes, const char* op) {
  if (shapes.size() != 2)
    throw ShapeError(std::string(op) + " takes (prediction, target), got " +
                     std::to_string(shapes.size()) + " inputs");
}

// Sum of term(i) over [0, n) in double. parallel_deterministic_reduce splits the range by the
// grain alone and joins partial sums in a fixed tree, so the bits do not depend on the thread
// count; unlike a vector of partial sums it allocates nothing.
template <class Term>
double deterministic_sum(int64_t n, const Term& term) {
  return tbb::parallel_deterministic_reduce(
      tbb::blocked_range<int64_t>(0, n, kernels::kElementwiseGrain), 0.0,
      [&](const tbb::blocked_range<int64_t>& r, double s) {
        for (int64_t i = r.begin(); i < r.end(); ++i) s += term(i);
        return s;
      },
      [](double a, double b) { return a + b; });
}

// Reduction and the scalar output shared by every loss.
class ReducedLoss : public Loss {
 protected:
  explicit ReducedLoss(const Attributes& attrs) : mean_(attrs.get_string("reduction") == "mean") {}

 public:
  Reduction reduction() const override { return mean_ ? Reduction::Mean : Reduction::Sum; }

 protected:

  // `count` is what a mean divides by: elements, or samples for cross_entropy.
  void write_scalar(Tensor& output, double sum, int64_t count) const {
    output.resize(Shape{});
    output[0] = static_cast<float>(mean_ && count > 0 ? sum / static_cast<double>(count) : sum);
  }
  // d(output)/d(term) times the incoming scalar gradient.
  double term_scale(const Tensor& grad_output, int64_t count) const {
    const double g = grad_output[0];
    return mean_ && count > 0 ? g / static_cast<double>(count) : g;
  }

 private:
  bool mean_;
};

struct TermGrad {
  double prediction;
  double target;
};

// What a pointwise loss checks of a target fed from data: nothing (any number will do), or that it
// is a probability (bce's), as a TargetChecker.
struct AnyTarget {};
struct ProbabilityTarget : TargetChecker {
  std::optional<std::string> check_target(float t, const Shape&, const Shape&) const override {
    if (t >= 0.0f && t <= 1.0f) return std::nullopt;
    return "expects a target probability in [0, 1]";
  }
};

// A loss that is a sum of per-element terms f(p, t). Fn provides kName, kClassRule, schema(),
// Fn(const Attributes&), value(p, t), grad(p, t) -> TermGrad, reports_accuracy(decisions),
// correct(p, t) for one element, and Target (AnyTarget or ProbabilityTarget).
template <class Fn>
class PointwiseLoss final : public ReducedLoss, public AccuracyCounter, public Fn::Target {
 public:

  static OpSchema schema() {
    OpSchema schema = Fn::schema();
    schema.class_rule = Fn::kClassRule;
    return schema;
  }
  explicit PointwiseLoss(const Attributes& attrs) : ReducedLoss(attrs), fn_(attrs) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    require_pair(input_shapes, Fn::kName);
    if (input_shapes[0] != input_shapes[1])
      throw ShapeError("prediction has shape " + to_string(input_shapes[0]) +
                       " but target has shape " + to_string(input_shapes[1]) +
                       "; expected equal shapes");
    return Shape{};
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const float* p = inputs[0]->data();
    const float* t = inputs[1]->data();
    const double sum = deterministic_sum(inputs[0]->size(),
                                         [&](int64_t i) { return fn_.value(p[i], t[i]); });
    write_scalar(output, sum, inputs[0]->size());
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    const int64_t n = inputs[0]->size();
    const double scale = term_scale(grad_output, n);
    const float* p = inputs[0]->data();
    const float* t = inputs[1]->data();
    float* gp = grad_inputs[0] ? grad_inputs[0]->data() : nullptr;
    float* gt = grad_inputs[1] ? grad_inputs[1]->data() : nullptr;
    kernels::for_tiles(n, kernels::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const TermGrad g = fn_.grad(p[i], t[i]);
        if (gp) gp[i] = static_cast<float>(scale * g.prediction);
        if (gt) gt[i] = static_cast<float>(scale * g.target);
      }
    });
  }

  bool reports_accuracy(bool prediction_is_decisions) const override {
    return Fn::reports_accuracy(prediction_is_decisions);
  }

  // A sample counts when every one of its elements is right.
  int64_t count_correct(const Tensor& prediction, const Tensor& target) const override {
    if (prediction.rank() == 0 || prediction.dim(0) == 0) return 0;
    const int64_t batch = prediction.dim(0);
    const int64_t per_sample = prediction.size() / batch;
    int64_t correct = 0;
    for (int64_t s = 0; s < batch; ++s) {
      bool all = true;
      for (int64_t i = s * per_sample; i < (s + 1) * per_sample && all; ++i)
        all = fn_.correct(prediction[i], target[i]);
      correct += all ? 1 : 0;
    }
    return correct;
  }

 private:
  Fn fn_;
};

struct MseFn {
  using Target = AnyTarget;
  static constexpr const char* kName = "mse";
  static constexpr ClassRule kClassRule = ClassRule::None;
  static OpSchema schema() { return loss_schema(kName, "mean squared error (torch.nn.MSELoss)"); }
  explicit MseFn(const Attributes&) {}
  double value(double p, double t) const { return (p - t) * (p - t); }
  TermGrad grad(double p, double t) const { return {2.0 * (p - t), -2.0 * (p - t)}; }
  // Exact equality only means something for discrete outputs: the perceptron's step.
  static bool reports_accuracy(bool decisions) { return decisions; }
  bool correct(float p, float t) const { return p == t; }
};

// torch clamps each log at -100 so that p = 0 or 1 gives a finite loss.
double clamped_log(double x) { return std::max(std::log(x), -100.0); }

struct BceFn {
  using Target = ProbabilityTarget;
  static constexpr const char* kName = "bce";
  static constexpr ClassRule kClassRule = ClassRule::Probability;
  static OpSchema schema() {
    return loss_schema(kName, "binary cross-entropy on probabilities (torch.nn.BCELoss)");
  }
  explicit BceFn(const Attributes&) {}
  double value(double p, double t) const {
    return -(t * clamped_log(p) + (1.0 - t) * clamped_log(1.0 - p));
  }
  TermGrad grad(double p, double t) const {
    // torch's binary_cross_entropy_backward guards the denominator with 1e-12.
    return {(p - t) / std::max((1.0 - p) * p, 1e-12), clamped_log(1.0 - p) - clamped_log(p)};
  }
  static bool reports_accuracy(bool) { return true; }
  bool correct(float p, float t) const { return (p >= 0.5f) == (t >= 0.5f); }
};

struct BceWithLogitsFn {
  using Target = ProbabilityTarget;
  static constexpr const char* kName = "bce_with_logits";
  static constexpr ClassRule kClassRule = ClassRule::Sigmoid;
  static OpSchema schema() {
    return loss_schema(kName,
                       "sigmoid + binary cross-entropy in one stable step "
                       "(torch.nn.BCEWithLogitsLoss)");
  }
  explicit BceWithLogitsFn(const Attributes&) {}
  // max(x, 0) − x·t + log(1 + exp(−|x|)): never exponentiates a positive number.
  double value(double x, double t) const {
    return std::max(x, 0.0) - x * t + std::log1p(std::exp(-std::abs(x)));
  }
  TermGrad grad(double x, double t) const {
    const double e = std::exp(-std::abs(x));  // stable σ(x) for either sign
    const double sigmoid = x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    return {sigmoid - t, -x};
  }
  static bool reports_accuracy(bool) { return true; }
  // σ(x) ≥ ½ ⇔ x ≥ 0
  bool correct(float x, float t) const { return (x >= 0.0f) == (t >= 0.5f); }
};

struct HuberFn {
  using Target = AnyTarget;
  static constexpr const char* kName = "huber";
  static constexpr ClassRule kClassRule = ClassRule::None;
  static OpSchema schema() {
    return loss_schema(kName, "quadratic within delta, linear beyond (torch.nn.HuberLoss)",
                       {bounded(attr("delta", AttrType::Float, AttrValue{1.0},
                                     "where the loss turns from quadratic to linear"),
                                0.0, true)});
  }
  explicit HuberFn(const Attributes& attrs) : delta(attrs.get_float("delta")) {}
  double value(double p, double t) const {
    const double d = std::abs(p - t);
    return d < delta ? 0.5 * d * d : delta * (d - 0.5 * delta);
  }
  TermGrad grad(double p, double t) const {
    const double g = std::clamp(p - t, -delta, delta);
    return {g, -g};
  }
  static bool reports_accuracy(bool) { return false; }
  bool correct(float, float) const { return false; }
  double delta;
};

// scale·exp(x_j − shift) over a row, branch-free so that it vectorises (fast_math.hpp's exp,
// within 3 ulp; this file builds with -fno-trapping-math for its clamp). A language model's
// logits are [T, 256] per sample: std::exp in double was 4% of a transformer's step.
GRADFLOW_CPU_DISPATCH void scaled_exp(const float* __restrict x, float shift, float scale, int64_t n,
                                      float* __restrict out) {
  for (int64_t j = 0; j < n; ++j) out[j] = scale * fast::exp(x[j] - shift);
}

// Cross-entropy on logits [C] against a class index ([1] or []) or a probability vector [C];
// or on logits [T, C] (one row per position of a sequence) against [T] class indices or [T, C]
// probabilities, averaged over every position of every sample as torch's CrossEntropyLoss is
// on the flattened positions. As in torch, a target with the logits' shape means probabilities.
class CrossEntropy final : public ReducedLoss, public AccuracyCounter, public TargetChecker {
 public:
  static OpSchema schema() {
    OpSchema schema = loss_schema("cross_entropy",
                                  "softmax cross-entropy on logits [C] or [T, C] against class indices or class "
                                  "probabilities (torch.nn.CrossEntropyLoss)");
    schema.class_rule = ClassRule::Softmax;  // per sample over [C]; [T, C] is per position (class_count)
    return schema;
  }
  explicit CrossEntropy(const Attributes& attrs) : ReducedLoss(attrs) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    require_pair(input_shapes, "cross_entropy");
    const Shape& logits = input_shapes[0];
    const Shape& target = input_shapes[1];
    if (logits.empty() || logits.size() > 2 || logits.back() < 1)
      throw ShapeError("cross_entropy expects logits of shape [C] or [T, C] with C >= 1, got " +
                       to_string(logits));
    index_target_ = target != logits;
    positions_ = logits.size() == 2 ? logits[0] : 1;
    const bool index_shape = logits.size() == 2 ? target == Shape{logits[0]} : (target == Shape{1} || target.empty());
    if (index_target_ && !index_shape) {
      const std::string index = logits.size() == 2 ? " or " + to_string(Shape{logits[0]}) + " (a class index per position)"
                                                   : ", [1] or [] (a class index)";
      throw ShapeError("prediction has shape " + to_string(logits) + " but target has shape " +
                       to_string(target) + "; expected " + to_string(logits) + " (class probabilities)" + index);
    }
    return Shape{};
  }

  // Rows are positions: a sample of [C] logits is one row, a [T, C] sample is T rows.
  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& logits = *inputs[0];
    const Tensor& target = *inputs[1];
    const int64_t c = logits.cols();
    const int64_t rows = logits.rows();
    if (index_target_)
      for (int64_t r = 0; r < rows; ++r) class_index(target[r], c);  // throw before computing
    lse_.resize(static_cast<size_t>(rows));
    row_max_.resize(static_cast<size_t>(rows));
    const double sum = deterministic_sum(rows, [&](int64_t r) {
      const float* x = logits.data() + r * c;
      const float max = *std::max_element(x, x + c);
      const double lse = max + std::log(sum_exp(x, max, c));
      lse_[static_cast<size_t>(r)] = lse;
      row_max_[static_cast<size_t>(r)] = max;
      if (index_target_) return lse - x[class_index(target[r], c)];
      const float* t = target.data() + r * c;
      double loss = 0.0;
      for (int64_t j = 0; j < c; ++j) loss -= t[j] * (x[j] - lse);
      return loss;
    });
    write_scalar(output, sum, rows);
  }

  // d/dx_j = softmax_j·Σt − t_j (Σt = 1 for a class index); d/dt_j = −log_softmax_j.
  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    const Tensor& logits = *inputs[0];
    const Tensor& target = *inputs[1];
    const int64_t c = logits.cols();
    const int64_t rows = logits.rows();
    const double scale = term_scale(grad_output, rows);
    Tensor* gx = grad_inputs[0];
    Tensor* gt = grad_inputs[1];
    if (gt) gt->zero();  // a class index has no gradient
    const int64_t grain = std::max<int64_t>(1, kernels::kElementwiseGrain / (8 * c));
    kernels::for_tiles(rows, grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const float* x = logits.data() + r * c;
        const double lse = lse_[static_cast<size_t>(r)];
        if (index_target_) {
          if (gx) index_row_grad(x, lse, row_max_[static_cast<size_t>(r)], class_index(target[r], c), c, scale,
                                 gx->data() + r * c);
          continue;
        }
        const float* t = target.data() + r * c;
        const double t_sum = row_sum(t, c);
        for (int64_t j = 0; j < c; ++j) {
          const double log_softmax = x[j] - lse;
          if (gx) gx->data()[r * c + j] = static_cast<float>(scale * (std::exp(log_softmax) * t_sum - t[j]));
          if (gt) gt->data()[r * c + j] = static_cast<float>(-scale * log_softmax);
        }
      }
    });
  }

  // Accuracy and classes are per sample: a sequence of predictions is neither.
  bool reports_accuracy(bool) const override { return positions_ == 1; }

  // A class index fed from data must be an integer in [0, classes).
  std::optional<std::string> check_target(float value, const Shape& prediction_shape,
                                          const Shape& target_shape) const override {
    if (prediction_shape.empty()) return std::nullopt;
    const bool probabilities = prediction_shape.size() == 2 ? target_shape == prediction_shape : numel(target_shape) != 1;
    if (probabilities) return std::nullopt;
    const int64_t classes = prediction_shape.back();
    if (value >= 0.0f && value < static_cast<float>(classes) && value == static_cast<float>(static_cast<int64_t>(value)))
      return std::nullopt;
    return fmt::format("expects a class index in [0, {})", classes);
  }

  int64_t count_correct(const Tensor& prediction, const Tensor& target) const override {
    const int64_t c = prediction.cols();
    int64_t correct = 0;
    for (int64_t r = 0; r < prediction.rows(); ++r) {
      const int64_t predicted = argmax(prediction.data() + r * c, c);
      const int64_t expected =
          index_target_ ? class_index(target[r], c) : argmax(target.data() + r * c, c);
      correct += predicted == expected ? 1 : 0;
    }
    return correct;
  }

 private:
  static int64_t class_index(float value, int64_t c) {
    const double v = value;
    if (!(v >= 0.0 && v < static_cast<double>(c)) || v != std::floor(v))
      throw std::out_of_range(fmt::format(
          "cross_entropy: class index {} is out of range for {} classes (expected an integer "
          "from 0 to {})",
          value, c, c - 1));
    return static_cast<int64_t>(v);
  }
  // The sum of exp(x_j − max) in double, in order; the exps in vectorised chunks.
  static double sum_exp(const float* x, float max, int64_t c) {
    constexpr int64_t kChunk = 64;
    float chunk[kChunk];
    double s = 0.0;
    for (int64_t j0 = 0; j0 < c; j0 += kChunk) {
      const int64_t n = std::min(kChunk, c - j0);
      scaled_exp(x + j0, max, 1.0f, n, chunk);
      for (int64_t j = 0; j < n; ++j) s += chunk[j];
    }
    return s;
  }
  static double row_sum(const float* t, int64_t c) {
    double s = 0.0;
    for (int64_t j = 0; j < c; ++j) s += t[j];
    return s;
  }
  static int64_t argmax(const float* x, int64_t c) { return std::max_element(x, x + c) - x; }
  // One row's gradient against class k: scale·(softmax_j − [j == k]), with softmax_j =
  // exp(x_j − max)·exp(max − lse): the shift by the row's max is exact in float.
  static void index_row_grad(const float* x, double lse, float max, int64_t k, int64_t c, double scale, float* g) {
    scaled_exp(x, max, static_cast<float>(scale * std::exp(max - lse)), c, g);
    g[k] = static_cast<float>(scale * (std::exp(x[k] - lse) - 1.0));
  }

  bool index_target_ = true;
  int64_t positions_ = 1;  // rows per sample: T for [T, C] logits
  std::vector<double> lse_;     // each row's log-sum-exp, for backward
  std::vector<float> row_max_;  // and its largest logit
};

}  // namespace

void register_losses(Registrar& registrar) {
  registrar.add<PointwiseLoss<MseFn>>();
  registrar.add<PointwiseLoss<BceFn>>();
  registrar.add<PointwiseLoss<BceWithLogitsFn>>();
  registrar.add<PointwiseLoss<HuberFn>>();
  registrar.add<CrossEntropy>();
}

}  // namespace gradflow::ops
