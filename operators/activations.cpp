// Activations. The elementwise ones share one operator template (elementwise.hpp) parameterised
// by a functor that gives the value and the derivative; softmax couples a row and has its own class.
#include <algorithm>
#include <cmath>
#include <string>

#include "compute/fast_math.hpp"
#include "elementwise.hpp"
#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

struct SigmoidFn {
  static constexpr const char* kName = "sigmoid";
  static OpSchema schema() {
    return activation_schema(kName, "logistic 1/(1+exp(-x)), elementwise");
  }
  explicit SigmoidFn(const Attributes&) {}
  float value(float x) const {
    // Split by sign so exp never overflows.
    if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
    const float e = std::exp(x);
    return e / (1.0f + e);
  }
  float derivative(float, float y) const { return y * (1.0f - y); }
  bool export_onnx(OnnxNodeWriter& w) const { return export_unary(w, "Sigmoid"); }
};

struct TanhFn {
  static constexpr const char* kName = "tanh";
  static OpSchema schema() { return activation_schema(kName, "hyperbolic tangent, elementwise"); }
  explicit TanhFn(const Attributes&) {}
  float value(float x) const { return std::tanh(x); }
  float derivative(float, float y) const { return 1.0f - y * y; }
  bool export_onnx(OnnxNodeWriter& w) const { return export_unary(w, "Tanh"); }
};

struct ReluFn {
  static constexpr const char* kName = "relu";
  static OpSchema schema() { return activation_schema(kName, "max(x, 0), elementwise"); }
  explicit ReluFn(const Attributes&) {}
  // Written so that NaN passes as torch's: relu(NaN) is NaN, and its gradient passes there.
  float value(float x) const { return x <= 0.0f ? 0.0f : x; }
  float derivative(float x, float) const { return x <= 0.0f ? 0.0f : 1.0f; }  // torch: 0 at 0
  bool export_onnx(OnnxNodeWriter& w) const { return export_unary(w, "Relu"); }
};

struct LeakyReluFn {
  static constexpr const char* kName = "leaky_relu";
  static OpSchema schema() {
    return activation_schema(kName, "x where x > 0 else negative_slope*x, elementwise",
                             {attr("negative_slope", AttrType::Float, AttrValue{0.01},
                                   "slope for negative inputs")});
  }
  explicit LeakyReluFn(const Attributes& attrs)
      : slope(static_cast<float>(attrs.get_float("negative_slope"))) {}
  float value(float x) const { return x > 0.0f ? x : slope * x; }
  float derivative(float x, float) const { return x > 0.0f ? 1.0f : slope; }
  bool export_onnx(OnnxNodeWriter& w) const { return export_unary(w, "LeakyRelu", {{"alpha", slope}}); }
  float slope;
};

// The perceptron's threshold unit. Its true derivative is zero almost everywhere, which would
// stop all learning; the contract (graph-format.md) is a straight-through identity instead.
struct StepFn {
  static constexpr const char* kName = "step";
  static constexpr bool kDecisions = true;
  static OpSchema schema() {
    return activation_schema(kName,
                             "1 where x >= 0 else 0; backward passes the gradient through "
                             "unchanged (straight-through)");
  }
  explicit StepFn(const Attributes&) {}
  float value(float x) const { return x >= 0.0f ? 1.0f : 0.0f; }
  float derivative(float, float) const { return 1.0f; }
  // No ONNX operator thresholds to 0/1: compare with a zero constant, then cast the boolean.
  bool export_onnx(OnnxNodeWriter& w) const {
    const std::string zero = w.constant("zero", Tensor(Shape{}, {0.0f}));
    const std::string decision = w.unique_name("ge0");
    w.add_node("GreaterOrEqual", {w.inputs()[0], zero}, {decision});
    w.add_node("Cast", {decision}, {w.output()}, {{"to", int64_t{1}}});  // 1: TensorProto FLOAT
    return true;
  }
};

// torch.nn.GELU: x·Φ(x), Φ the normal CDF (approximate: none), or torch's tanh form. Its
// formulas and order of operations are torch 1.13's; erf, exp and tanh are fast_math.hpp's
// vectorisable approximations (within 2e-7 of the C library's).
struct GeluFn {
  static constexpr const char* kName = "gelu";
  static constexpr float kSqrtHalf = 0.70710678118654752f;    // 1/√2
  static constexpr float kInvSqrt2Pi = 0.39894228040143268f;  // 1/√(2π)
  static constexpr float kSqrt2OverPi = 0.79788456080286536f;  // √(2/π)
  static constexpr float kKappa = 0.044715f;
  static OpSchema schema() {
    return activation_schema(kName, "x·Φ(x), Φ the standard normal CDF, elementwise (torch.nn.GELU)",
                             {with_choices(attr("approximate", AttrType::String, AttrValue{std::string("none")},
                                                "none: the exact erf form; tanh: torch's tanh approximation"),
                                           {"none", "tanh"})});
  }
  explicit GeluFn(const Attributes& attrs) : tanh_form(attrs.get_string("approximate") == "tanh") {}

  struct Exact {  // x·Φ(x) = x·½(1 + erf(x/√2))
    float value(float x) const { return x * 0.5f * (1.0f + fast::erf(x * kSqrtHalf)); }
    float derivative(float x, float) const {
      const float cdf = 0.5f * (1.0f + fast::erf(x * kSqrtHalf));
      // 0 where exp underflows (fast::exp clamps there): at ±inf, x·pdf is then NaN, as torch's.
      const float exponent = x * x * -0.5f;
      const float pdf = exponent < -87.0f ? 0.0f : kInvSqrt2Pi * fast::exp(exponent);
      return cdf + x * pdf;
    }
  };
  struct Tanh {  // ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
    float value(float x) const {
      const float inner = kSqrt2OverPi * (x + kKappa * (x * x * x));
      return 0.5f * x * (1.0f + fast::tanh(inner));
    }
    float derivative(float x, float) const {
      const float x_sq = x * x;
      const float inner = kSqrt2OverPi * (x + kKappa * (x_sq * x));
      const float t = fast::tanh(inner);
      const float left_derivative = 0.5f * (1.0f + t);
      const float right_derivative = 0.5f * x * (1.0f - t * t) * (kSqrt2OverPi * (1.0f + 3.0f * kKappa * x_sq));
      return left_derivative + right_derivative;
    }
  };
  template <class Body>
  void visit(const Body& body) const {
    if (tanh_form) body(Tanh{});
    else body(Exact{});
  }
  // Opset 17 has no Gelu: 0.5·x·(1 + Erf(x/√2)), or 0.5·x·(1 + Tanh(√(2/π)·(x + 0.044715·x³))).
  bool export_onnx(OnnxNodeWriter& w) const {
    const std::string& x = w.inputs()[0];
    auto scalar = [&](const char* hint, float v) { return w.constant(hint, Tensor(Shape{}, {v})); };
    auto node = [&](const char* op, const std::string& a, const std::string& b, const char* hint) {
      const std::string out = w.unique_name(hint);
      w.add_node(op, {a, b}, {out});
      return out;
    };
    std::string curve;
    if (!tanh_form) {
      const std::string scaled = node("Div", x, scalar("sqrt2", 1.41421356237309515f), "scaled");
      curve = w.unique_name("erf");
      w.add_node("Erf", {scaled}, {curve});
    } else {
      const std::string cube = node("Pow", x, scalar("three", 3.0f), "cube");
      const std::string sum = node("Add", x, node("Mul", cube, scalar("kappa", kKappa), "kappa_cube"), "sum");
      const std::string inner = node("Mul", sum, scalar("beta", kSqrt2OverPi), "inner");
      curve = w.unique_name("tanh");
      w.add_node("Tanh", {inner}, {curve});
    }
    const std::string one_plus = node("Add", curve, scalar("one", 1.0f), "one_plus");
    const std::string half_x = node("Mul", x, scalar("half", 0.5f), "half_x");
    w.add_node("Mul", {half_x, one_plus}, {w.output()});
    return true;
  }
  bool tanh_form;
};

// softmax and log_softmax over one axis of the sample (default the last), stabilised by
// subtracting the maximum along it; torch 1.13's order of operations.
template <bool Log>
class Softmax final : public Operator, public OnnxExportable {
 public:
  static constexpr const char* kName = Log ? "log_softmax" : "softmax";
  static OpSchema schema() {
    return activation_schema(kName, Log ? "x - log(sum(exp(x))) over one axis (default the last)"
                                        : "exp(x)/sum(exp(x)) over one axis (default the last)",
                             {attr("axis", AttrType::Int, AttrValue{int64_t{-1}},
                                   "the sample axis it normalises over; negative counts from the end")});
  }
  explicit Softmax(const Attributes& attrs) : axis_(attrs.get_int("axis")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& shape = single_input(input_shapes, kName);
    const int64_t rank = static_cast<int64_t>(shape.size());
    if (axis_ < -rank || axis_ >= rank)
      throw ShapeError(std::string(kName) + ": axis " + std::to_string(axis_) + " is out of range for a sample of shape " +
                       to_string(shape) + " (axes -" + std::to_string(rank) + " to " + std::to_string(rank - 1) + ")");
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    extent_ = shape[static_cast<size_t>(axis)];
    inner_ = 1;
    for (int64_t d = axis + 1; d < rank; ++d) inner_ *= shape[static_cast<size_t>(d)];
    last_axis_ = axis == rank - 1;
    sample_size_ = numel(shape);
    return shape;
  }

  double flops_per_sample() const override { return 4.0 * static_cast<double>(sample_size_); }

  // ONNX axes count the batch. Before opset 13, Softmax flattened the axes from `axis` on,
  // which is this meaning only for the last axis.
  bool export_onnx(OnnxNodeWriter& w) const override {
    if (w.opset() < 13 && !last_axis_) return false;
    return export_unary(w, Log ? "LogSoftmax" : "Softmax", {{"axis", axis_ < 0 ? axis_ : axis_ + 1}});
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(x.shape());
    for_lines(x, [&](int64_t base) {
      const float* in = x.data() + base;
      float* out = output.data() + base;
      const int64_t n = extent_, s = inner_;
      float max = in[0];
      for (int64_t j = 1; j < n; ++j) max = std::max(max, in[j * s]);
      float sum = 0.0f;
      for (int64_t j = 0; j < n; ++j) {
        const float e = std::exp(in[j * s] - max);
        sum += e;
        if (!Log) out[j * s] = e;
      }
      if (Log) {
        const float log_sum = std::log(sum);
        for (int64_t j = 0; j < n; ++j) out[j * s] = in[j * s] - max - log_sum;
      } else {
        for (int64_t j = 0; j < n; ++j) out[j * s] /= sum;
      }
    });
  }

  // softmax: dx = y ⊙ (g − ⟨g, y⟩), the Jacobian diag(y) − y·yᵀ applied to g;
  // log_softmax: dx = g − exp(y)·Σg.
  void backward(std::span<const Tensor* const> /*inputs*/, const Tensor& output,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;
    for_lines(output, [&](int64_t base) {
      const float* y = output.data() + base;
      const float* g = grad_output.data() + base;
      float* dx = gx->data() + base;
      const int64_t n = extent_, s = inner_;
      float dot = 0.0f;
      for (int64_t j = 0; j < n; ++j) dot += Log ? g[j * s] : g[j * s] * y[j * s];
      for (int64_t j = 0; j < n; ++j) dx[j * s] = Log ? g[j * s] - std::exp(y[j * s]) * dot : y[j * s] * (g[j * s] - dot);
    });
  }

 private:
  // Calls body(offset of its first value) for every line along the axis; about
  // kElementwiseGrain values per tile.
  template <class Body>
  void for_lines(const Tensor& t, const Body& body) const {
    if (extent_ == 0) return;
    const int64_t lines = t.size() / extent_;
    const int64_t grain = std::max<int64_t>(1, kernels::kElementwiseGrain / extent_);
    kernels::for_tiles(lines, grain, [&](int64_t begin, int64_t end) {
      for (int64_t line = begin; line < end; ++line)
        body((line / inner_) * extent_ * inner_ + line % inner_);
    });
  }

  int64_t axis_;
  int64_t extent_ = 1, inner_ = 1;  // the axis' size, and the values after it
  bool last_axis_ = true;
  int64_t sample_size_ = 0;
};

}  // namespace

void register_activations(Registrar& registrar) {
  registrar.add<Elementwise<SigmoidFn>>();
  registrar.add<Elementwise<TanhFn>>();
  registrar.add<Elementwise<ReluFn>>();
  registrar.add<Elementwise<LeakyReluFn>>();
  registrar.add<Elementwise<StepFn>>();
  registrar.add<Elementwise<GeluFn>>();
  registrar.add<Softmax<false>>();
  registrar.add<Softmax<true>>();
}

}  // namespace gradflow::ops
