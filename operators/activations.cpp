// Activations. The elementwise ones share one operator template parameterised by a functor
// that gives the value and the derivative; softmax couples a row and has its own class.
#include <algorithm>
#include <cmath>
#include <string>

#include "families.hpp"
#include "compute/fast_math.hpp"
#include "gradflow/kernels.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

// The ONNX operator of the same meaning applied to the node's input.
bool export_unary(OnnxNodeWriter& w, const char* op_type, const std::vector<OnnxAttribute>& attributes = {}) {
  w.add_node(op_type, {w.inputs()[0]}, {w.output()}, attributes);
  return true;
}

OpSchema activation_schema(std::string name, std::string summary,
                           std::vector<AttrSpec> attributes = {}) {
  return {std::move(name), OpKind::Layer, std::move(summary), 1, 1, std::move(attributes)};
}

// The elementwise loops, compiled per instruction set (GRADFLOW_CPU_DISPATCH_TEMPLATE, kernels.hpp);
// distinct (__restrict) buffers let them vectorise.
template <class Fn>
GRADFLOW_CPU_DISPATCH_TEMPLATE void apply_values(const Fn& fn, const float* __restrict x, float* __restrict y,
                                                 int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) y[i] = fn.value(x[i]);
}

template <class Fn>
GRADFLOW_CPU_DISPATCH_TEMPLATE void apply_derivatives(const Fn& fn, const float* __restrict x,
                                                      const float* __restrict y, const float* __restrict dy,
                                                      float* __restrict dx, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) dx[i] = dy[i] * fn.derivative(x[i], y[i]);
}

// Fn provides: static OpSchema schema(); Fn(const Attributes&); float value(float x) const;
// float derivative(float x, float y) const, where y = value(x) (sigmoid and tanh are
// cheapest from y, relu from x); bool export_onnx(OnnxNodeWriter&) const, its ONNX nodes;
// optionally static constexpr bool kDecisions = true when every value is 0 or 1. A function
// with forms chosen by an attribute (gelu) instead provides visit(body), which calls body with
// the chosen form's functor: the choice is made once per call, and each form's loop is
// branch-free, so it vectorises.
template <class Fn>
class Elementwise final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    OpSchema schema = Fn::schema();
    if constexpr (requires { Fn::kDecisions; }) schema.outputs_decisions = Fn::kDecisions;
    return schema;
  }
  explicit Elementwise(const Attributes& attrs) : fn_(attrs) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& shape = single_input(input_shapes, Fn::kName);
    sample_size_ = numel(shape);
    return shape;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(x.shape());
    const float* in = x.data();
    float* out = output.data();
    with_form([&](const auto& form) {
      kernels::for_tiles(x.size(), kernels::kElementwiseGrain,
                         [&](int64_t begin, int64_t end) { apply_values(form, in, out, begin, end); });
    });
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& output,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;
    const Tensor& x = *inputs[0];
    const float* in = x.data();
    const float* out = output.data();
    const float* g = grad_output.data();
    float* dx = gx->data();
    with_form([&](const auto& form) {
      kernels::for_tiles(x.size(), kernels::kElementwiseGrain,
                         [&](int64_t begin, int64_t end) { apply_derivatives(form, in, out, g, dx, begin, end); });
    });
  }

  double flops_per_sample() const override { return static_cast<double>(sample_size_); }

  bool export_onnx(OnnxNodeWriter& writer) const override { return fn_.export_onnx(writer); }

 private:
  template <class Body>
  void with_form(const Body& body) const {
    if constexpr (requires { fn_.visit(body); }) fn_.visit(body);
    else body(fn_);
  }

  Fn fn_;
  int64_t sample_size_ = 0;
};

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

// Softmax over the last axis, stabilised by subtracting the row maximum.
class Softmax final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return activation_schema("softmax", "exp(x)/sum(exp(x)) over the last axis");
  }
  explicit Softmax(const Attributes&) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& shape = single_input(input_shapes, "softmax");
    sample_size_ = numel(shape);
    return shape;
  }

  double flops_per_sample() const override { return 4.0 * static_cast<double>(sample_size_); }

  bool export_onnx(OnnxNodeWriter& w) const override { return export_unary(w, "Softmax", {{"axis", int64_t{-1}}}); }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(x.shape());
    const int64_t n = x.cols();
    for_rows(x, [&](int64_t r) {
      const float* in = x.data() + r * n;
      float* out = output.data() + r * n;
      const float max = *std::max_element(in, in + n);
      float sum = 0.0f;
      for (int64_t j = 0; j < n; ++j) sum += out[j] = std::exp(in[j] - max);
      for (int64_t j = 0; j < n; ++j) out[j] /= sum;
    });
  }

  // dx = y ⊙ (g − ⟨g, y⟩) per row: the Jacobian diag(y) − y·yᵀ applied to g.
  void backward(std::span<const Tensor* const> /*inputs*/, const Tensor& output,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;
    const int64_t n = output.cols();
    for_rows(output, [&](int64_t r) {
      const float* y = output.data() + r * n;
      const float* g = grad_output.data() + r * n;
      float* dx = gx->data() + r * n;
      float dot = 0.0f;
      for (int64_t j = 0; j < n; ++j) dot += g[j] * y[j];
      for (int64_t j = 0; j < n; ++j) dx[j] = y[j] * (g[j] - dot);
    });
  }

 private:
  // Whole rows per tile, about kElementwiseGrain elements each.
  template <class Body>
  static void for_rows(const Tensor& t, const Body& body) {
    const int64_t cols = std::max<int64_t>(1, t.cols());
    const int64_t grain = std::max<int64_t>(1, kernels::kElementwiseGrain / cols);
    kernels::for_tiles(t.rows(), grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) body(r);
    });
  }

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
  registrar.add<Softmax>();
}

}  // namespace gradflow::ops
