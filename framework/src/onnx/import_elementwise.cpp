// Converters for ONNX's elementwise operators (docs/graph-format.md 2e): arithmetic with
// broadcasting and constant operands, the activations torch exports as single ONNX ops, and two
// patterns folded into one gradflow op: torch's GELU (x * (1 + Erf(x / sqrt 2)) * 0.5) and
// SiLU (x * Sigmoid(x)).
#include <fmt/format.h>

#include <cmath>

#include "onnx_import.hpp"

namespace gradflow::onnx_io {

namespace {

size_t onnx_rank(Importer& im, const onnx::NodeProto& node, int input) { return sample_of(im, node, input).size() + 1; }

// The value of input `input` when it is a constant holding one number.
std::optional<float> scalar_input(Importer& im, const onnx::NodeProto& node, int input) {
  if (input >= node.input_size() || !im.constant(node.input(input))) return std::nullopt;
  const Tensor t = im.float_constant(node, input);
  if (t.size() != 1) return std::nullopt;
  return t[0];
}

// The one node reading `value` when it is a `op_type`, and the value is not a model output.
const onnx::NodeProto* sole_reader(Importer& im, const std::string& value, const std::string& op_type) {
  const auto& readers = im.readers_of(value);
  if (readers.size() != 1 || im.is_graph_output(value) || readers[0]->op_type() != op_type) return nullptr;
  int uses = 0;
  for (const auto& in : readers[0]->input()) uses += in == value;
  return uses == 1 ? readers[0] : nullptr;
}

// The input of a two-input `node` other than `value`, or "" when `value` is not one of them.
std::string other_input(const onnx::NodeProto& node, const std::string& value) {
  if (node.input_size() != 2) return "";
  return node.input(0) == value ? node.input(1) : node.input(1) == value ? node.input(0) : "";
}

bool near(float v, double want) { return std::abs(v - want) <= 1e-6 * std::abs(want); }

// Div(x, sqrt 2) -> Erf -> Add 1 -> Mul by x -> Mul by 0.5, as torch 1.13 writes nn.GELU: the
// last Mul when `div` starts that chain, its nodes between consumed.
const onnx::NodeProto* gelu_end(Importer& im, const onnx::NodeProto& div) {
  const auto divisor = scalar_input(im, div, 1);
  if (!divisor || !near(*divisor, std::sqrt(2.0))) return nullptr;
  const onnx::NodeProto* erf = sole_reader(im, div.output(0), "Erf");
  const onnx::NodeProto* plus = erf ? sole_reader(im, erf->output(0), "Add") : nullptr;
  if (!plus) return nullptr;
  const auto one = scalar_input(im, *plus, plus->input(0) == erf->output(0) ? 1 : 0);
  if (!one || *one != 1.0f) return nullptr;
  const onnx::NodeProto* times_x = sole_reader(im, plus->output(0), "Mul");
  if (!times_x || other_input(*times_x, plus->output(0)) != div.input(0)) return nullptr;
  const onnx::NodeProto* half = sole_reader(im, times_x->output(0), "Mul");
  if (!half) return nullptr;
  const int k = half->input(0) == times_x->output(0) ? 1 : 0;
  const auto h = scalar_input(im, *half, k);
  if (!h || *h != 0.5f) return nullptr;
  for (const onnx::NodeProto* n : {erf, plus, times_x, half}) im.consume(*n);
  return half;
}

// gradflow's export of softplus with beta and threshold: s = Mul(x, beta); Where(Greater(s,
// threshold), x, Div(Softplus(s), beta)). The Where when `mul` starts that form, its nodes
// consumed, with beta and threshold.
const onnx::NodeProto* softplus_end(Importer& im, const onnx::NodeProto& mul, float& beta, float& threshold) {
  const int k = im.constant(mul.input(1)) ? 1 : 0;
  const auto b = scalar_input(im, mul, k);
  const auto& readers = im.readers_of(mul.output(0));
  if (!b || readers.size() != 2 || im.is_graph_output(mul.output(0))) return nullptr;
  const bool softplus_first = readers[0]->op_type() == "Softplus";
  const onnx::NodeProto* soft = readers[softplus_first ? 0 : 1];
  const onnx::NodeProto* greater = readers[softplus_first ? 1 : 0];
  if (soft->op_type() != "Softplus" || greater->op_type() != "Greater" || greater->input(0) != mul.output(0)) return nullptr;
  const auto t = scalar_input(im, *greater, 1);
  const onnx::NodeProto* div = sole_reader(im, soft->output(0), "Div");
  const auto d = div && div->input(0) == soft->output(0) ? scalar_input(im, *div, 1) : std::nullopt;
  const onnx::NodeProto* where = div ? sole_reader(im, div->output(0), "Where") : nullptr;
  if (!t || !d || *d != *b || !where || where->input_size() != 3 || where->input(0) != greater->output(0) ||
      where->input(1) != mul.input(1 - k) || where->input(2) != div->output(0) ||
      im.readers_of(greater->output(0)).size() != 1)
    return nullptr;
  for (const onnx::NodeProto* n : {soft, greater, div, where}) im.consume(*n);
  beta = *b;
  threshold = *t;
  return where;
}

}  // namespace

void binary(Importer& im, const onnx::NodeProto& node, const std::string& op) {
  if (node.input_size() != 2) im.fail(node, fmt::format("{} takes two inputs", node.op_type()));
  const bool constant0 = im.constant(node.input(0)) != nullptr, constant1 = im.constant(node.input(1)) != nullptr;
  if (constant0 && constant1)
    im.fail(node, "both inputs are constants; import converts nodes on data computed from the graph inputs");
  if (!constant0 && !constant1 && onnx_rank(im, node, 0) != onnx_rank(im, node, 1))
    im.fail(node, fmt::format("its inputs have {} and {} axes: broadcasting one against the other's batch axis is "
                              "not supported (both need the batch axis first)",
                              onnx_rank(im, node, 0), onnx_rank(im, node, 1)));
  std::string inputs[2];
  for (int k = 0; k < 2; ++k) {
    const bool is_constant = k == 0 ? constant0 : constant1;
    inputs[k] = is_constant ? constant_input(im, node, k, onnx_rank(im, node, 1 - k)) : im.data_input(node, k);
  }
  im.add(node, op, {inputs[0], inputs[1]});
}

namespace {

void unary(Importer& im, const onnx::NodeProto& node, const std::string& op, std::vector<std::string> attributes = {}) {
  im.add(node, op, {im.data_input(node, 0)}).attributes = std::move(attributes);
}

void mul(Importer& im, const onnx::NodeProto& node) {
  float beta = 1.0f, threshold = 20.0f;
  if (const onnx::NodeProto* end = node.input_size() == 2 ? softplus_end(im, node, beta, threshold) : nullptr) {
    const std::string x = im.data_input(node, im.constant(node.input(1)) ? 0 : 1);
    im.add(*end, "softplus", {x}, node_base_name(node)).attributes = {
        fmt::format("beta: {}", finite(im, node, beta, "beta")),
        fmt::format("threshold: {}", finite(im, node, threshold, "the threshold"))};
    return;
  }
  binary(im, node, "mul");
}

void div(Importer& im, const onnx::NodeProto& node) {
  if (const onnx::NodeProto* end = node.input_size() == 2 ? gelu_end(im, node) : nullptr) {
    im.add(*end, "gelu", {im.data_input(node, 0)}, node_base_name(node));
    return;
  }
  binary(im, node, "div");
}

// Sigmoid, or SiLU when its only reader multiplies it by its own input.
void sigmoid(Importer& im, const onnx::NodeProto& node) {
  const onnx::NodeProto* mul = sole_reader(im, node.output(0), "Mul");
  if (mul && other_input(*mul, node.output(0)) == node.input(0)) {
    im.consume(*mul);
    im.add(*mul, "silu", {im.data_input(node, 0)}, node_base_name(node));
    return;
  }
  unary(im, node, "sigmoid");
}

// x ** c for a constant number c.
void pow(Importer& im, const onnx::NodeProto& node) {
  const auto exponent = scalar_input(im, node, 1);
  if (!exponent) im.fail(node, "only a constant exponent (one number) is supported");
  unary(im, node, "pow", {fmt::format("exponent: {}", finite(im, node, *exponent, "the exponent"))});
}

// Max and Min of one or more inputs, as a chain of maximum or minimum.
void extremum(Importer& im, const onnx::NodeProto& node, const std::string& op) {
  if (node.input_size() == 1) return im.alias(node.output(0), im.data_input(node, 0));
  if (node.input_size() == 2) return binary(im, node, op);
  im.fail(node, fmt::format("{} of {} inputs: only one or two are supported", node.op_type(), node.input_size()));
}

// Clip: bounds from inputs 1 and 2 (opset 11 on) or attributes min and max (before); ReLU6 as
// torch's relu6 (its gradient at the bounds differs from clamp's).
void clip(Importer& im, const onnx::NodeProto& node) {
  // Plain values and flags: GCC's -Wmaybe-uninitialized misreads std::optional<float> here.
  float bound[2] = {0.0f, 0.0f};
  bool given[2] = {false, false};
  for (int k : {0, 1}) {
    if (im.opset() >= 11) {
      if (k + 1 >= node.input_size() || node.input(k + 1).empty()) continue;
      const auto value = scalar_input(im, node, k + 1);
      if (!value) im.fail(node, fmt::format("input {} must be a constant number", k + 1));
      bound[k] = *value;
    } else {
      if (!find_attribute(node, k == 0 ? "min" : "max")) continue;
      bound[k] = float_attribute(node, k == 0 ? "min" : "max", 0.0f);
    }
    // gradflow's export of a one-sided clamp writes the other bound as an infinity: no bound.
    given[k] = !(std::isinf(bound[k]) && (bound[k] < 0) == (k == 0));
  }
  if (given[0] && given[1] && bound[0] == 0.0f && bound[1] == 6.0f) return unary(im, node, "relu6");
  if (!given[0] && !given[1]) return im.alias(node.output(0), im.data_input(node, 0));
  std::vector<std::string> attributes;
  if (given[0]) attributes.push_back(fmt::format("min: {}", finite(im, node, bound[0], "the lower bound")));
  if (given[1]) attributes.push_back(fmt::format("max: {}", finite(im, node, bound[1], "the upper bound")));
  unary(im, node, "clamp", std::move(attributes));
}

// torch's Hardsigmoid is ONNX's with alpha 1/6 and beta 0.5; other slopes become
// clamp(alpha * x + beta, 0, 1) in three nodes.
void hard_sigmoid(Importer& im, const onnx::NodeProto& node) {
  const float alpha = float_attribute(node, "alpha", 0.2f), beta = float_attribute(node, "beta", 0.5f);
  if (near(alpha, 1.0 / 6.0) && beta == 0.5f) return unary(im, node, "hardsigmoid");
  const std::string base = node_base_name(node).empty() ? "hardsigmoid" : node_base_name(node);
  std::string value = im.data_input(node, 0);
  for (const auto& [op, c] : {std::pair{"mul", alpha}, std::pair{"add", beta}}) {
    GfNode& k = im.add(node, "constant", {}, base + "_" + op + "_by");
    k.attributes = {"shape: [1]", fmt::format("value: {}", finite(im, node, c, "alpha or beta"))};
    value = im.add(node, op, {value, k.name}, base + "_" + op).name;
  }
  im.add(node, "clamp", {value}, base).attributes = {"min: 0", "max: 1"};
}

void selu(Importer& im, const onnx::NodeProto& node) {
  // torch's constants, which are ONNX's defaults.
  if (!near(float_attribute(node, "alpha", 1.67326319217681884765625f), 1.6732632423543772) ||
      !near(float_attribute(node, "gamma", 1.05070102214813232421875f), 1.0507009873554805))
    im.fail(node, "only the standard alpha (1.6732632) and gamma (1.0507010) are supported (torch.nn.SELU)");
  unary(im, node, "selu");
}

// gradflow's own export of `step`: GreaterOrEqual(x, 0), then a Cast to float.
void greater_or_equal(Importer& im, const onnx::NodeProto& node) {
  const auto zero = scalar_input(im, node, 1);
  const onnx::NodeProto* cast = sole_reader(im, node.output(0), "Cast");
  if (!zero || *zero != 0.0f || !cast || int_attribute(*cast, "to", 0) != onnx::TensorProto::FLOAT)
    im.fail(node, "only x >= 0 cast to float (gradflow's step) is supported; gradflow has no boolean tensors");
  im.consume(*cast);
  im.add(*cast, "step", {im.data_input(node, 0)}, node_base_name(node));
}

void with_alpha(Importer& im, const onnx::NodeProto& node, const std::string& op) {
  unary(im, node, op, {fmt::format("alpha: {}", finite(im, node, float_attribute(node, "alpha", 1.0f), "alpha"))});
}

}  // namespace

void add_elementwise_converters(std::map<std::string, Converter>& table) {
  table["Sub"] = [](Importer& im, const onnx::NodeProto& n) { binary(im, n, "sub"); };
  table["Mul"] = mul;
  table["Div"] = div;
  table["Pow"] = pow;
  table["Max"] = [](Importer& im, const onnx::NodeProto& n) { extremum(im, n, "maximum"); };
  table["Min"] = [](Importer& im, const onnx::NodeProto& n) { extremum(im, n, "minimum"); };
  for (const auto& [onnx_op, op] : std::map<std::string, std::string>{
           {"Abs", "abs"}, {"Cos", "cos"}, {"Erf", "erf"}, {"Exp", "exp"}, {"HardSwish", "hardswish"},
           {"Log", "log"}, {"Mish", "mish"}, {"Neg", "neg"}, {"Reciprocal", "reciprocal"}, {"Relu", "relu"},
           {"Sin", "sin"}, {"Softplus", "softplus"}, {"Sqrt", "sqrt"}, {"Tanh", "tanh"}})
    // A copy, not the binding: clang 14 (the sanitizer builds) cannot capture structured bindings.
    table[onnx_op] = [gradflow_op = op](Importer& im, const onnx::NodeProto& n) { unary(im, n, gradflow_op); };
  table["Sigmoid"] = sigmoid;
  table["Clip"] = clip;
  table["GreaterOrEqual"] = greater_or_equal;
  table["HardSigmoid"] = hard_sigmoid;
  table["Selu"] = selu;
  table["Elu"] = [](Importer& im, const onnx::NodeProto& n) { with_alpha(im, n, "elu"); };
  table["Celu"] = [](Importer& im, const onnx::NodeProto& n) { with_alpha(im, n, "celu"); };
}

}  // namespace gradflow::onnx_io
