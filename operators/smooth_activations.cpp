// Smooth activations (graph-format.md, 2e): silu, mish, elu, celu, selu, softplus, with torch
// 1.13's formulas for the value and the derivative (its elu kernel covers elu, celu and selu).
#include <cmath>
#include <string>

#include "elementwise.hpp"
#include "families.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

inline float logistic(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// A binary ONNX node on fresh output; returns its name.
std::string onnx_node(OnnxNodeWriter& w, const char* op, const std::string& a, const std::string& b, const char* hint) {
  const std::string out = w.unique_name(hint);
  w.add_node(op, {a, b}, {out});
  return out;
}

std::string onnx_scalar(OnnxNodeWriter& w, const char* hint, float v) { return w.constant(hint, Tensor(Shape{}, {v})); }

struct SiluFn {
  static constexpr const char* kName = "silu";
  static OpSchema schema() { return activation_schema(kName, "x · sigmoid(x), elementwise (torch.nn.SiLU)"); }
  explicit SiluFn(const Attributes&) {}
  float value(float x) const { return x / (1.0f + std::exp(-x)); }
  float derivative(float x, float) const {
    const float s = logistic(x);
    return s * (1.0f + x * (1.0f - s));
  }
  bool export_onnx(OnnxNodeWriter& w) const {
    const std::string gate = w.unique_name("sigmoid");
    w.add_node("Sigmoid", {w.inputs()[0]}, {gate});
    w.add_node("Mul", {w.inputs()[0], gate}, {w.output()});
    return true;
  }
};

struct MishFn {
  static constexpr const char* kName = "mish";
  static OpSchema schema() { return activation_schema(kName, "x · tanh(softplus(x)), elementwise (torch.nn.Mish)"); }
  explicit MishFn(const Attributes&) {}
  float value(float x) const { return x * std::tanh(std::log1p(std::exp(x))); }
  float derivative(float x, float) const {
    const float t = std::tanh(std::log1p(std::exp(x)));
    return t + x * logistic(x) * (1.0f - t * t);
  }
  // Mish is opset 18: x · Tanh(Softplus(x)).
  bool export_onnx(OnnxNodeWriter& w) const {
    const std::string softplus = w.unique_name("softplus"), curve = w.unique_name("tanh");
    w.add_node("Softplus", {w.inputs()[0]}, {softplus});
    w.add_node("Tanh", {softplus}, {curve});
    w.add_node("Mul", {w.inputs()[0], curve}, {w.output()});
    return true;
  }
};

// torch's elu kernel: x <= 0 ? (exp(x · input_scale) − 1) · alpha · scale : x · scale.
struct EluCurve {
  float value(float x) const { return x <= 0.0f ? (std::exp(x * input_scale) - 1.0f) * negative_scale : x * scale; }
  float derivative(float x) const {
    return x <= 0.0f ? input_scale * negative_scale * std::exp(x * input_scale) : scale;
  }
  float negative_scale, scale, input_scale;  // alpha · scale, scale, input_scale
};

AttrSpec alpha_attr() { return attr("alpha", AttrType::Float, AttrValue{1.0}, "the value x <= 0 tends to is -alpha"); }

struct EluFn {
  static constexpr const char* kName = "elu";
  static OpSchema schema() {
    return activation_schema(kName, "x if x > 0 else alpha · (exp(x) − 1), elementwise (torch.nn.ELU)", {alpha_attr()});
  }
  explicit EluFn(const Attributes& attrs) : alpha(static_cast<float>(attrs.get_float("alpha"))), curve{alpha, 1.0f, 1.0f} {}
  float value(float x) const { return curve.value(x); }
  float derivative(float x, float) const { return curve.derivative(x); }
  bool export_onnx(OnnxNodeWriter& w) const { return export_unary(w, "Elu", {{"alpha", alpha}}); }
  float alpha;
  EluCurve curve;
};

struct CeluFn {
  static constexpr const char* kName = "celu";
  static OpSchema schema() {
    return activation_schema(kName, "x if x > 0 else alpha · (exp(x / alpha) − 1), elementwise (torch.nn.CELU)",
                             {bounded(alpha_attr(), 0.0, true)});
  }
  explicit CeluFn(const Attributes& attrs)
      : alpha(static_cast<float>(attrs.get_float("alpha"))),
        curve{alpha, 1.0f, static_cast<float>(1.0 / attrs.get_float("alpha"))} {}
  float value(float x) const { return curve.value(x); }
  float derivative(float x, float) const { return curve.derivative(x); }
  bool export_onnx(OnnxNodeWriter& w) const { return export_unary(w, "Celu", {{"alpha", alpha}}); }
  float alpha;
  EluCurve curve;
};

struct SeluFn {
  static constexpr const char* kName = "selu";
  static constexpr float kAlpha = 1.6732632423543772848170429916717f;
  static constexpr float kScale = 1.0507009873554804934193349852946f;
  static OpSchema schema() {
    return activation_schema(kName, "scale · elu(x, alpha) with SELU's constants, elementwise (torch.nn.SELU)");
  }
  explicit SeluFn(const Attributes&) {}
  float value(float x) const { return curve.value(x); }
  float derivative(float x, float) const { return curve.derivative(x); }
  bool export_onnx(OnnxNodeWriter& w) const { return export_unary(w, "Selu", {{"alpha", kAlpha}, {"gamma", kScale}}); }
  EluCurve curve{kAlpha * kScale, kScale, 1.0f};
};

// torch.nn.Softplus: log(1 + exp(beta · x)) / beta, and x itself where beta · x > threshold.
struct SoftplusFn {
  static constexpr const char* kName = "softplus";
  static OpSchema schema() {
    return activation_schema(kName, "log(1 + exp(beta·x)) / beta, x where beta·x > threshold (torch.nn.Softplus)",
                             {attr("beta", AttrType::Float, AttrValue{1.0}, "the sharpness"),
                              attr("threshold", AttrType::Float, AttrValue{20.0}, "above it (beta·x), the identity")});
  }
  explicit SoftplusFn(const Attributes& attrs)
      : beta(static_cast<float>(attrs.get_float("beta"))), threshold(static_cast<float>(attrs.get_float("threshold"))) {}
  float value(float x) const { return x * beta > threshold ? x : std::log1p(std::exp(x * beta)) / beta; }
  float derivative(float x, float) const {
    const float z = std::exp(x * beta);
    return x * beta > threshold ? 1.0f : z / (z + 1.0f);
  }
  // ONNX's Softplus has neither: Where(beta·x > threshold, x, Softplus(beta·x) / beta).
  bool export_onnx(OnnxNodeWriter& w) const {
    const std::string& x = w.inputs()[0];
    const std::string scaled = onnx_node(w, "Mul", x, onnx_scalar(w, "beta", beta), "scaled");
    const std::string soft = w.unique_name("softplus");
    w.add_node("Softplus", {scaled}, {soft});
    const std::string curve = onnx_node(w, "Div", soft, onnx_scalar(w, "beta", beta), "curve");
    const std::string linear = onnx_node(w, "Greater", scaled, onnx_scalar(w, "threshold", threshold), "linear");
    w.add_node("Where", {linear, x, curve}, {w.output()});
    return true;
  }
  float beta, threshold;
};

}  // namespace

void register_smooth_activations(Registrar& registrar) {
  registrar.add<Elementwise<SiluFn>>();
  registrar.add<Elementwise<MishFn>>();
  registrar.add<Elementwise<EluFn>>();
  registrar.add<Elementwise<CeluFn>>();
  registrar.add<Elementwise<SeluFn>>();
  registrar.add<Elementwise<SoftplusFn>>();
}

}  // namespace gradflow::ops
