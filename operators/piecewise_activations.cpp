// Piecewise-linear activations (graph-format.md, 2e): clamp, relu6, hardsigmoid, hardswish.
// Their kinks follow torch 1.13 exactly: clamp passes the gradient at its bounds, relu6
// (hardtanh) does not; hardswish's gradient at -3 is -0.5 and at +3 is 1.5 (torch's scalar
// path); NaN propagates forward, and backward as torch's comparisons let it.
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "elementwise.hpp"
#include "families.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

// min(max(x, lo), hi) that keeps NaN, as torch's clamp.
inline float clamp_keeping_nan(float x, float lo, float hi) {
  const float above = x < lo ? lo : x;
  return above > hi ? hi : above;
}

// The ONNX Clip of the node's input between two constants.
bool export_clip(OnnxNodeWriter& w, float lo, float hi) {
  w.add_node("Clip", {w.inputs()[0], w.constant("min", Tensor(Shape{}, {lo})), w.constant("max", Tensor(Shape{}, {hi}))},
             {w.output()});
  return true;
}

struct ClampFn {
  static constexpr const char* kName = "clamp";
  static OpSchema schema() {
    return activation_schema(kName, "x limited to [min, max] (torch.clamp); the gradient passes where min <= x <= max",
                             {optional_bound("min", "the lower bound (none: unbounded below)"),
                              optional_bound("max", "the upper bound (none: unbounded above)")});
  }
  explicit ClampFn(const Attributes& attrs) : lo(bound(attrs, "min", -kInf)), hi(bound(attrs, "max", kInf)) {
    if (lo == -kInf && hi == kInf) throw std::invalid_argument("clamp needs min, max or both");
  }
  // A bound not given defaults to NaN, which `graph-runner ops` shows as "none".
  static AttrSpec optional_bound(const char* name, const char* help) {
    AttrSpec spec = attr(name, AttrType::Float, AttrValue{std::nan("")}, help);
    spec.default_text = "none";
    return spec;
  }
  static float bound(const Attributes& attrs, const char* name, float unset) {
    const double v = attrs.get_float(name);
    return std::isnan(v) ? unset : static_cast<float>(v);
  }
  float value(float x) const { return clamp_keeping_nan(x, lo, hi); }
  // torch: where(x >= min and x <= max, g, 0): 0 at NaN.
  float derivative(float x, float) const { return x >= lo && x <= hi ? 1.0f : 0.0f; }
  bool export_onnx(OnnxNodeWriter& w) const { return export_clip(w, lo, hi); }
  static constexpr float kInf = std::numeric_limits<float>::infinity();
  float lo, hi;
};

struct Relu6Fn {
  static constexpr const char* kName = "relu6";
  static OpSchema schema() {
    return activation_schema(kName, "min(max(x, 0), 6), elementwise (torch.nn.ReLU6); gradient 0 at 0 and at 6");
  }
  explicit Relu6Fn(const Attributes&) {}
  float value(float x) const { return clamp_keeping_nan(x, 0.0f, 6.0f); }
  // torch's hardtanh_backward: 0 where x <= 0 or x >= 6; NaN passes.
  float derivative(float x, float) const { return x <= 0.0f || x >= 6.0f ? 0.0f : 1.0f; }
  bool export_onnx(OnnxNodeWriter& w) const { return export_clip(w, 0.0f, 6.0f); }
};

struct HardsigmoidFn {
  static constexpr const char* kName = "hardsigmoid";
  static OpSchema schema() {
    return activation_schema(kName, "min(max(x + 3, 0), 6) / 6, elementwise (torch.nn.Hardsigmoid)");
  }
  explicit HardsigmoidFn(const Attributes&) {}
  float value(float x) const { return clamp_keeping_nan(x + 3.0f, 0.0f, 6.0f) / 6.0f; }
  float derivative(float x, float) const { return x > -3.0f && x < 3.0f ? 1.0f / 6.0f : 0.0f; }
  bool export_onnx(OnnxNodeWriter& w) const {
    return export_unary(w, "HardSigmoid", {{"alpha", 1.0f / 6.0f}, {"beta", 0.5f}});
  }
};

struct HardswishFn {
  static constexpr const char* kName = "hardswish";
  static OpSchema schema() {
    return activation_schema(kName, "x · min(max(x + 3, 0), 6) / 6, elementwise (torch.nn.Hardswish)");
  }
  explicit HardswishFn(const Attributes&) {}
  float value(float x) const { return x * clamp_keeping_nan(x + 3.0f, 0.0f, 6.0f) / 6.0f; }
  float derivative(float x, float) const {
    if (x < -3.0f) return 0.0f;
    return x <= 3.0f ? x / 3.0f + 0.5f : 1.0f;
  }
  // HardSwish needs opset 14; before it, x · HardSigmoid(x).
  bool export_onnx(OnnxNodeWriter& w) const {
    if (w.opset() >= 14) return export_unary(w, "HardSwish");
    const std::string gate = w.unique_name("gate");
    w.add_node("HardSigmoid", {w.inputs()[0]}, {gate}, {{"alpha", 1.0f / 6.0f}, {"beta", 0.5f}});
    w.add_node("Mul", {w.inputs()[0], gate}, {w.output()});
    return true;
  }
};

}  // namespace

void register_piecewise_activations(Registrar& registrar) {
  registrar.add<Elementwise<ClampFn>>();
  registrar.add<Elementwise<Relu6Fn>>();
  registrar.add<Elementwise<HardsigmoidFn>>();
  registrar.add<Elementwise<HardswishFn>>();
}

}  // namespace gradflow::ops
