// Elementwise math of one input (graph-format.md, 2e): exp, log, sqrt, abs, neg, reciprocal,
// erf, sin, cos and pow with a constant exponent. Values and derivatives follow torch 1.13's
// formulas (derivatives.yaml), so that edge points (abs at 0) and NaN come out as torch's.
#include <cmath>
#include <string>

#include "elementwise.hpp"
#include "families.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

// A function without attributes: its name, summary, ONNX op, value and derivative.
#define GRADFLOW_UNARY_FN(Type, name, summary, onnx)                                    \
  static constexpr const char* kName = name;                                            \
  static OpSchema schema() { return activation_schema(kName, summary); }                \
  explicit Type(const Attributes&) {}                                                   \
  bool export_onnx(OnnxNodeWriter& w) const { return export_unary(w, onnx); }

struct ExpFn {
  GRADFLOW_UNARY_FN(ExpFn, "exp", "e^x, elementwise", "Exp")
  float value(float x) const { return std::exp(x); }
  float derivative(float, float y) const { return y; }
};

struct LogFn {
  GRADFLOW_UNARY_FN(LogFn, "log", "natural logarithm, elementwise (NaN below 0, -inf at 0)", "Log")
  float value(float x) const { return std::log(x); }
  float derivative(float x, float) const { return 1.0f / x; }
};

struct SqrtFn {
  GRADFLOW_UNARY_FN(SqrtFn, "sqrt", "square root, elementwise (NaN below 0)", "Sqrt")
  float value(float x) const { return std::sqrt(x); }
  float derivative(float, float y) const { return 1.0f / (2.0f * y); }
};

struct AbsFn {
  GRADFLOW_UNARY_FN(AbsFn, "abs", "|x|, elementwise; its gradient is sign(x), 0 at 0 (torch's)", "Abs")
  float value(float x) const { return std::fabs(x); }
  // torch's sgn: 0 at 0 and at NaN.
  float derivative(float x, float) const { return (x > 0.0f ? 1.0f : 0.0f) - (x < 0.0f ? 1.0f : 0.0f); }
};

struct NegFn {
  GRADFLOW_UNARY_FN(NegFn, "neg", "-x, elementwise", "Neg")
  float value(float x) const { return -x; }
  float derivative(float, float) const { return -1.0f; }
};

struct ReciprocalFn {
  GRADFLOW_UNARY_FN(ReciprocalFn, "reciprocal", "1/x, elementwise", "Reciprocal")
  float value(float x) const { return 1.0f / x; }
  float derivative(float, float y) const { return -(y * y); }
};

struct ErfFn {
  GRADFLOW_UNARY_FN(ErfFn, "erf", "the error function, elementwise", "Erf")
  static constexpr float kTwoOverSqrtPi = 1.12837916709551257f;
  float value(float x) const { return std::erf(x); }
  float derivative(float x, float) const { return kTwoOverSqrtPi * std::exp(-(x * x)); }
};

struct SinFn {
  GRADFLOW_UNARY_FN(SinFn, "sin", "sine, elementwise", "Sin")
  float value(float x) const { return std::sin(x); }
  float derivative(float x, float) const { return std::cos(x); }
};

struct CosFn {
  GRADFLOW_UNARY_FN(CosFn, "cos", "cosine, elementwise", "Cos")
  float value(float x) const { return std::cos(x); }
  float derivative(float x, float) const { return -std::sin(x); }
};

#undef GRADFLOW_UNARY_FN

// x ** exponent. torch computes the exponents 0, 1, ±0.5, 2, 3, -1 and -2 without pow, and its
// gradient, exponent · x ** (exponent - 1), through the same cases (0 where the exponent is 0).
struct PowFn {
  static constexpr const char* kName = "pow";
  static OpSchema schema() {
    return activation_schema(kName, "x ** exponent, elementwise",
                             {attr("exponent", AttrType::Float, std::nullopt, "the constant exponent (required)")});
  }
  explicit PowFn(const Attributes& attrs) : exponent(static_cast<float>(attrs.get_float("exponent"))) {}

  static float power(float x, float e) {
    if (e == 0.0f) return 1.0f;
    if (e == 1.0f) return x;
    if (e == 2.0f) return x * x;
    if (e == 3.0f) return x * x * x;
    if (e == 0.5f) return std::sqrt(x);
    if (e == -0.5f) return 1.0f / std::sqrt(x);
    if (e == -1.0f) return 1.0f / x;
    if (e == -2.0f) return 1.0f / (x * x);
    return std::pow(x, e);
  }
  float value(float x) const { return power(x, exponent); }
  float derivative(float x, float) const { return exponent == 0.0f ? 0.0f : exponent * power(x, exponent - 1.0f); }
  bool export_onnx(OnnxNodeWriter& w) const {
    w.add_node("Pow", {w.inputs()[0], w.constant("exponent", Tensor(Shape{}, {exponent}))}, {w.output()});
    return true;
  }
  float exponent;
};

}  // namespace

void register_unary_math(Registrar& registrar) {
  registrar.add<Elementwise<ExpFn>>();
  registrar.add<Elementwise<LogFn>>();
  registrar.add<Elementwise<SqrtFn>>();
  registrar.add<Elementwise<AbsFn>>();
  registrar.add<Elementwise<NegFn>>();
  registrar.add<Elementwise<ReciprocalFn>>();
  registrar.add<Elementwise<ErfFn>>();
  registrar.add<Elementwise<SinFn>>();
  registrar.add<Elementwise<CosFn>>();
  registrar.add<Elementwise<PowFn>>();
}

}  // namespace gradflow::ops
