// The rows of the operator table (op_table.hpp). Adding an operator adds a row here: its name,
// the attributes and the input shapes to try (batch first, small: finite differences perturb
// every element), and what it says about ONNX. docs/operators.md, "The operator table".
#include "op_table.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <utility>

#include "gradflow/plugin.hpp"
#include "gradflow/rng.hpp"

namespace gradflow::test {

namespace {

Input in(std::initializer_list<int64_t> shape, Values values = Values::Signed) { return {Shape(shape), values}; }
Input ids(std::initializer_list<int64_t> shape) { return in(shape, Values::Ids); }
Input prob(std::initializer_list<int64_t> shape) { return in(shape, Values::Probability); }
AttrValue ints(std::initializer_list<int64_t> values) { return std::vector<int64_t>(values); }

std::vector<OpRow> rows() {
  const Onnx none = Onnx::None;
  return {
      // Layers.
      {.op = "linear", .attrs = {{"units", int64_t{3}}}, .inputs = {in({2, 4})}},
      {.op = "linear", .variant = "nobias", .attrs = {{"units", int64_t{2}}, {"bias", false}}, .inputs = {in({2, 4})}},
      {.op = "linear", .variant = "3d", .attrs = {{"units", int64_t{5}}}, .inputs = {in({2, 3, 4})}},
      {.op = "linear", .variant = "3d_nobias", .attrs = {{"units", int64_t{5}}, {"bias", false}},
       .inputs = {in({2, 3, 4})}},
      {.op = "sigmoid", .inputs = {in({2, 6})}},
      {.op = "tanh", .inputs = {in({2, 6})}},
      {.op = "relu", .inputs = {in({2, 6})}},
      {.op = "leaky_relu", .attrs = {{"negative_slope", 0.2}}, .inputs = {in({2, 6})}},
      {.op = "gelu", .inputs = {in({2, 6})}},
      {.op = "gelu", .variant = "tanh", .attrs = {{"approximate", std::string("tanh")}}, .inputs = {in({2, 3, 6})}},
      {.op = "softmax", .inputs = {in({2, 3, 6})}},
      {.op = "step", .inputs = {in({2, 6})}, .gradient = Gradient::StraightThrough},
      {.op = "add", .inputs = {in({2, 6}), in({2, 6}), in({2, 6})}},
      {.op = "concat", .inputs = {in({2, 2, 6}), in({2, 2, 4})}},
      {.op = "dropout", .attrs = {{"p", 0.3}}, .inputs = {in({2, 6})}},
      {.op = "conv2d",
       .attrs = {{"out_channels", int64_t{4}}, {"kernel_size", ints({3, 2})}, {"stride", ints({2, 1})},
                 {"padding", int64_t{1}}, {"dilation", ints({1, 2})}},
       .inputs = {in({2, 2, 7, 6})}},
      {.op = "conv2d", .variant = "groups",
       .attrs = {{"out_channels", int64_t{6}}, {"kernel_size", int64_t{3}}, {"groups", int64_t{2}}, {"bias", false}},
       .inputs = {in({2, 4, 5, 5})}},
      {.op = "conv2d", .variant = "depthwise",
       .attrs = {{"out_channels", int64_t{3}}, {"kernel_size", int64_t{3}}, {"stride", int64_t{2}},
                 {"padding", int64_t{1}}, {"groups", int64_t{3}}},
       .inputs = {in({2, 3, 7, 6})}},
      {.op = "max_pool2d",
       .attrs = {{"kernel_size", int64_t{3}}, {"stride", int64_t{2}}, {"padding", int64_t{1}}, {"ceil_mode", true}},
       .inputs = {in({2, 2, 7, 7}, Values::Distinct)}},
      {.op = "avg_pool2d",
       .attrs = {{"kernel_size", int64_t{3}}, {"stride", int64_t{2}}, {"padding", int64_t{1}},
                 {"count_include_pad", false}},
       .inputs = {in({2, 2, 7, 7})}},
      {.op = "avg_pool2d", .variant = "pad", .attrs = {{"kernel_size", int64_t{2}}, {"padding", int64_t{1}}},
       .inputs = {in({2, 2, 6, 6})}},
      {.op = "global_avg_pool", .inputs = {in({2, 3, 5, 4})}},
      {.op = "flatten", .inputs = {in({2, 2, 3, 4})}},
      {.op = "reshape", .attrs = {{"shape", ints({3, -1, 2})}}, .inputs = {in({2, 12})}},
      {.op = "batch_norm", .attrs = {{"eps", 0.001}}, .inputs = {in({2, 3, 5, 4})}},
      {.op = "batch_norm", .variant = "1d", .attrs = {{"affine", false}}, .inputs = {in({4, 6})}},
      {.op = "layer_norm", .attrs = {{"eps", 0.001}}, .inputs = {in({2, 3, 6})}},
      {.op = "layer_norm", .variant = "plain", .attrs = {{"elementwise_affine", false}}, .inputs = {in({2, 6})}},
      {.op = "standardize", .inputs = {in({3, 5})}},
      {.op = "standardize", .variant = "image", .attrs = {{"eps", 0.01}}, .inputs = {in({2, 3, 4, 2})}},
      {.op = "standardize", .variant = "axis", .attrs = {{"axis", int64_t{1}}}, .inputs = {in({2, 3, 4})}},
      {.op = "embedding", .attrs = {{"num_embeddings", kIdRange}, {"embedding_dim", int64_t{3}}},
       .inputs = {ids({2, 5})}},
      {.op = "positional_embedding", .attrs = {{"max_length", int64_t{8}}}, .inputs = {in({2, 5, 3})}},
      {.op = "multihead_attention", .attrs = {{"num_heads", int64_t{2}}, {"causal", true}}, .inputs = {in({2, 5, 8})}},
      {.op = "multihead_attention", .variant = "nobias",
       .attrs = {{"num_heads", int64_t{3}}, {"bias", false}, {"dropout", 0.1}}, .inputs = {in({2, 4, 6})}},
      // Losses: (prediction, target); a loss has no ONNX form (export writes the inference graph).
      {.op = "mse", .inputs = {in({2, 3}), in({2, 3})}, .onnx = none},
      {.op = "huber", .attrs = {{"delta", 0.5}}, .inputs = {in({2, 3}), in({2, 3})}, .onnx = none},
      {.op = "bce", .inputs = {prob({2, 3}), prob({2, 3})}, .onnx = none},
      {.op = "bce_with_logits", .inputs = {in({2, 3}), prob({2, 3})}, .onnx = none},
      {.op = "cross_entropy", .inputs = {in({2, kIdRange}), ids({2, 1})}, .onnx = none},
      {.op = "cross_entropy", .variant = "sequence", .inputs = {in({2, 3, kIdRange}), ids({2, 3})}, .onnx = none},
      {.op = "cross_entropy", .variant = "probabilities", .inputs = {in({2, 4}), prob({2, 4})}, .onnx = none},
      // Optimizers: the parameters they update; never exported.
      {.op = "sgd", .attrs = {{"lr", 0.1}, {"momentum", 0.9}}, .inputs = {in({3, 4}), in({5})}, .onnx = none},
      {.op = "adam", .attrs = {{"lr", 0.01}}, .inputs = {in({3, 4}), in({5})}, .onnx = none},
      {.op = "adamw", .attrs = {{"lr", 0.01}}, .inputs = {in({3, 4}), in({5})}, .onnx = none},
      // The example plugins (plugins/).
      {.op = "swish", .inputs = {in({2, 6})}},
      {.op = "scale", .attrs = {{"init", 0.5}}, .inputs = {in({2, 3, 6})}},
      // Spatial tensor operators (graph-format.md 2e): 1-D forms, adaptive pooling, transposed conv, upsampling.
      {.op = "conv1d",
       .attrs = {{"out_channels", int64_t{4}}, {"kernel_size", int64_t{3}}, {"stride", int64_t{2}}, {"padding", int64_t{1}}},
       .inputs = {in({2, 3, 9})}},
      {.op = "conv1d", .variant = "groups_dilation",
       .attrs = {{"out_channels", int64_t{4}}, {"kernel_size", int64_t{2}}, {"dilation", int64_t{2}},
                 {"groups", int64_t{2}}, {"bias", false}},
       .inputs = {in({2, 4, 7})}},
      {.op = "conv1d", .variant = "depthwise",
       .attrs = {{"out_channels", int64_t{4}}, {"kernel_size", int64_t{3}}, {"padding", int64_t{2}},
                 {"dilation", int64_t{2}}, {"groups", int64_t{4}}},
       .inputs = {in({2, 4, 7})}},
      {.op = "max_pool1d",
       .attrs = {{"kernel_size", int64_t{3}}, {"stride", int64_t{2}}, {"padding", int64_t{1}}, {"ceil_mode", true}},
       .inputs = {in({2, 2, 10}, Values::Distinct)}},
      {.op = "avg_pool1d",
       .attrs = {{"kernel_size", int64_t{3}}, {"stride", int64_t{2}}, {"padding", int64_t{1}},
                 {"count_include_pad", false}},
       .inputs = {in({2, 2, 9})}},
      {.op = "adaptive_avg_pool2d", .attrs = {{"output_size", ints({2, 3})}}, .inputs = {in({2, 2, 4, 6})}},
      {.op = "adaptive_avg_pool2d", .variant = "one", .attrs = {{"output_size", int64_t{1}}},
       .inputs = {in({2, 3, 5, 4})}},
      {.op = "global_avg_pool", .variant = "keepdims", .attrs = {{"keepdims", true}}, .inputs = {in({2, 3, 5, 4})}},
      {.op = "conv_transpose2d",
       .attrs = {{"out_channels", int64_t{4}}, {"kernel_size", ints({3, 2})}, {"stride", int64_t{2}},
                 {"padding", int64_t{1}}, {"output_padding", ints({1, 0})}, {"dilation", ints({1, 2})}},
       .inputs = {in({2, 2, 4, 3})}},
      {.op = "conv_transpose2d", .variant = "groups",
       .attrs = {{"out_channels", int64_t{6}}, {"kernel_size", int64_t{3}}, {"groups", int64_t{2}}, {"bias", false}},
       .inputs = {in({2, 4, 3, 3})}},
      {.op = "upsample", .attrs = {{"scale_factor", 2.0}}, .inputs = {in({2, 2, 3, 4})}},
      {.op = "upsample", .variant = "nearest_fraction", .attrs = {{"scale_factor", 1.5}}, .inputs = {in({2, 2, 3, 4})}},
      {.op = "upsample", .variant = "bilinear",
       .attrs = {{"scale_factor", 1.5}, {"mode", std::string("bilinear")}}, .inputs = {in({2, 2, 3, 4})}},
      {.op = "upsample", .variant = "pair", .attrs = {{"scale_factor", std::vector<double>{2.0, 1.5}}},
       .inputs = {in({2, 2, 3, 4})}},
      {.op = "upsample", .variant = "bilinear_align_corners",
       .attrs = {{"scale_factor", 2.0}, {"mode", std::string("bilinear")}, {"align_corners", true}},
       .inputs = {in({2, 2, 3, 4})}},
      // Shape and structure operators (issue 24, section 2e of the graph format).
      {.op = "transpose", .attrs = {{"perm", ints({2, 0, 1})}}, .inputs = {in({2, 3, 4, 5})}},
      {.op = "transpose", .variant = "2d", .attrs = {{"perm", ints({1, 0})}}, .inputs = {in({2, 4, 3})}},
      {.op = "reshape", .variant = "zero", .attrs = {{"shape", ints({0, -1, 2})}}, .inputs = {in({2, 3, 4})}},
      {.op = "flatten", .variant = "axes", .attrs = {{"start_axis", int64_t{1}}, {"end_axis", int64_t{2}}},
       .inputs = {in({2, 2, 3, 4})}},
      {.op = "squeeze", .attrs = {{"axes", ints({-1})}}, .inputs = {in({2, 3, 1})}},
      {.op = "squeeze", .variant = "all", .inputs = {in({2, 1, 3, 1})}},
      {.op = "unsqueeze", .attrs = {{"axes", ints({0, 2})}}, .inputs = {in({2, 3, 4})}},
      {.op = "concat", .variant = "axis0", .attrs = {{"axis", int64_t{0}}}, .inputs = {in({2, 1, 4}), in({2, 3, 4})}},
      {.op = "slice", .attrs = {{"axis", int64_t{0}}, {"start", int64_t{1}}, {"end", int64_t{-1}}, {"step", int64_t{2}}},
       .inputs = {in({2, 7, 3})}},
      {.op = "slice", .variant = "last", .attrs = {{"axis", int64_t{-1}}, {"start", int64_t{-3}}}, .inputs = {in({2, 5})}},
      {.op = "pad", .attrs = {{"pads", ints({1, 2, 0, 1})}, {"value", 0.5}}, .inputs = {in({2, 3, 4})}},
      {.op = "pad", .variant = "reflect", .attrs = {{"pads", ints({2, 1, 1, 3})}, {"mode", std::string("reflect")}},
       .inputs = {in({2, 2, 4, 5})}},
      {.op = "pad", .variant = "replicate", .attrs = {{"pads", ints({1, 2, 2, 0})}, {"mode", std::string("replicate")}},
       .inputs = {in({2, 2, 4, 5})}},
      {.op = "reduce_sum", .attrs = {{"axes", ints({0, 2})}}, .inputs = {in({2, 3, 4, 5})}},
      {.op = "reduce_mean", .attrs = {{"axes", ints({-1})}, {"keepdims", true}}, .inputs = {in({2, 3, 4})}},
      {.op = "reduce_mean", .variant = "all", .inputs = {in({2, 3, 4})}},
      {.op = "reduce_max", .attrs = {{"axes", ints({1})}}, .inputs = {in({2, 3, 4}, Values::Distinct)}},
      {.op = "matmul", .inputs = {in({2, 3, 4}), in({2, 4, 5})}},
      {.op = "matmul", .variant = "broadcast", .inputs = {in({2, 2, 1, 3, 4}), in({2, 3, 4, 2})}},
      {.op = "matmul", .variant = "vector", .inputs = {in({2, 4}), in({2, 3, 4, 5})}},
      {.op = "parameter", .attrs = {{"shape", ints({3, 4})}, {"init", std::string("normal")}}},
      {.op = "constant", .attrs = {{"shape", ints({2, 3})}, {"value", 1.5}}},
      {.op = "constant", .variant = "list", .attrs = {{"shape", ints({2, 2})}, {"value", FloatList{{1, -2, 3.5, 4}, {2, 2}}}}},
      // Recurrent layers (issue #25).
      {.op = "lstm", .attrs = {{"hidden_size", int64_t{3}}}, .inputs = {in({2, 4, 3})}},
      {.op = "lstm", .variant = "stacked_last",
       .attrs = {{"hidden_size", int64_t{3}}, {"num_layers", int64_t{2}}, {"bidirectional", true}, {"dropout", 0.3},
                 {"output", std::string("last")}},
       .inputs = {in({2, 4, 3})}},
      {.op = "gru", .attrs = {{"hidden_size", int64_t{3}}}, .inputs = {in({2, 4, 3})}},
      {.op = "gru", .variant = "stacked_nobias",
       .attrs = {{"hidden_size", int64_t{3}}, {"num_layers", int64_t{2}}, {"bidirectional", true}, {"bias", false}},
       .inputs = {in({2, 4, 3})}},
      // Tensor operators of issue 24 (elementwise and activations): broadcasting rows stretch every operand.
      {.op = "add", .variant = "broadcast", .inputs = {in({2, 3, 1, 4}), in({2, 2, 1}), in({2, 4})}},
      {.op = "sub", .inputs = {in({2, 3, 1, 4}), in({2, 2, 1})}},
      {.op = "mul", .inputs = {in({2, 2, 1, 3}), in({2, 4, 1})}},
      {.op = "mul", .variant = "gate", .inputs = {in({2, 3, 4, 4}), in({2, 3, 1, 1})}},
      {.op = "div", .inputs = {in({2, 3, 1}), prob({2, 1, 4})}},
      {.op = "maximum", .inputs = {in({2, 3, 1}), in({2, 4})}},
      {.op = "minimum", .inputs = {in({2, 4}), in({2, 3, 4})}},
      {.op = "pow", .attrs = {{"exponent", 3.0}}, .inputs = {in({2, 6})}},
      {.op = "pow", .variant = "fractional", .attrs = {{"exponent", -1.5}}, .inputs = {prob({2, 6})}},
      {.op = "exp", .inputs = {in({2, 6})}},
      {.op = "log", .inputs = {prob({2, 6})}},
      {.op = "sqrt", .inputs = {prob({2, 6})}},
      {.op = "abs", .inputs = {in({2, 6})}},
      {.op = "neg", .inputs = {in({2, 6})}},
      {.op = "reciprocal", .inputs = {prob({2, 6})}},
      {.op = "erf", .inputs = {in({2, 6})}},
      {.op = "sin", .inputs = {in({2, 6})}},
      {.op = "cos", .inputs = {in({2, 6})}},
      {.op = "clamp", .attrs = {{"min", -0.51}, {"max", 0.73}}, .inputs = {in({2, 6})}},
      {.op = "clamp", .variant = "min", .attrs = {{"min", 0.27}}, .inputs = {in({2, 6})}},
      {.op = "relu6", .inputs = {in({2, 6})}},
      {.op = "hardsigmoid", .inputs = {in({2, 6})}},
      {.op = "hardswish", .inputs = {in({2, 6})}},
      {.op = "silu", .inputs = {in({2, 6})}},
      {.op = "mish", .inputs = {in({2, 6})}},
      {.op = "elu", .attrs = {{"alpha", 0.5}}, .inputs = {in({2, 6})}},
      {.op = "celu", .attrs = {{"alpha", 1.5}}, .inputs = {in({2, 6})}},
      {.op = "selu", .inputs = {in({2, 6})}},
      {.op = "softplus", .attrs = {{"beta", 2.0}, {"threshold", 1.0}}, .inputs = {in({2, 6})}},
      {.op = "softmax", .variant = "axis", .attrs = {{"axis", int64_t{0}}}, .inputs = {in({2, 3, 4})}},
      {.op = "log_softmax", .inputs = {in({2, 3, 6})}},
      {.op = "log_softmax", .variant = "axis", .attrs = {{"axis", int64_t{-2}}}, .inputs = {in({2, 3, 4, 2})}},
  };
}

}  // namespace

const std::vector<OpRow>& op_table() {
  static const std::vector<OpRow> table = rows();
  return table;
}

std::string row_name(const OpRow& row) { return row.variant.empty() ? row.op : row.op + "_" + row.variant; }

Tensor input_values(const Input& input, uint64_t seed, int64_t batch_scale) {
  Shape shape = input.shape;
  shape.at(0) *= batch_scale;
  Tensor t(shape);
  Rng rng(seed);
  constexpr double gap = 0.05;
  switch (input.values) {
    case Values::Signed:
      for (float& v : t.values()) {
        const double x = rng.uniform(-1.5, 1.5);
        v = static_cast<float>(std::abs(x) < gap ? std::copysign(gap, x) + x : x);
      }
      break;
    case Values::Distinct: {  // a shuffled grid of step 2·gap around 0
      const int64_t n = t.size();
      for (int64_t i = 0; i < n; ++i) t[i] = static_cast<float>(2.0 * gap * static_cast<double>(i - n / 2));
      for (int64_t i = n - 1; i > 0; --i)
        std::swap(t[i], t[static_cast<int64_t>(rng.uniform() * static_cast<double>(i + 1))]);
      break;
    }
    case Values::Probability:
      for (float& v : t.values()) v = static_cast<float>(rng.uniform(0.1, 0.9));
      break;
    case Values::Ids:
      for (float& v : t.values())
        v = static_cast<float>(std::min<int64_t>(kIdRange - 1, static_cast<int64_t>(rng.uniform() * kIdRange)));
      break;
  }
  return t;
}

namespace {

// FNV-1a of the row's name and the input's position: a seed that adding rows does not move.
uint64_t seed_of(const OpRow& row, size_t input) {
  uint64_t h = 1469598103934665603ull;
  for (char c : row_name(row) + "#" + std::to_string(input)) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

const OpEntry& entry_of(const std::string& op) {
  const OpEntry* e = default_registry().find(op);
  if (e == nullptr) throw std::invalid_argument("the table names '" + op + "', which is not registered");
  return *e;
}

}  // namespace

std::vector<Tensor> row_inputs(const OpRow& row, int64_t batch_scale) {
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < row.inputs.size(); ++i)
    inputs.push_back(input_values(row.inputs[i], seed_of(row, i), batch_scale));
  return inputs;
}

RowRun::RowRun(const OpRow& row_, int64_t batch_scale)
    : row(row_), kind(entry_of(row_.op).schema.kind), inputs(row_inputs(row_, batch_scale)) {
  const OpEntry& e = entry_of(row.op);
  const Attributes attrs = with_defaults(e.schema, row.attrs);
  if (kind == OpKind::Optimizer) {
    optimizer = e.make_optimizer(attrs);
    for (size_t i = 0; i < inputs.size(); ++i)
      grads.push_back(input_values(row.inputs[i], seed_of(row, i) + 1, batch_scale));
    std::vector<ParamRef> params;
    for (size_t i = 0; i < inputs.size(); ++i) params.push_back({"p" + std::to_string(i), &inputs[i], &grads[i]});
    optimizer->setup(params);
    return;
  }
  op = e.make_operator(attrs);
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(Shape(t.shape().begin() + 1, t.shape().end()));
  op->infer_shape(shapes);
  Rng rng(42);
  op->init_parameters(rng);
  RunContext pass;
  pass.training = true;
  pass.step = 3;
  pass.seed = 11;
  pass.node = "node";
  op->begin_pass(pass);
  grads.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    needs_grad.push_back(row.inputs[i].values != Values::Ids);
    input_ptrs.push_back(&inputs[i]);
    grad_ptrs.push_back(needs_grad.back() ? &grads[i] : nullptr);
  }
  op->forward(input_ptrs, output);
  r = Tensor(output.shape());  // the weights of L = sum(output * r), a loss's scalar included
  Rng weights(seed_of(row, inputs.size()));
  for (float& v : r.values()) v = static_cast<float>(weights.uniform(-1.0, 1.0));
}

void RowRun::step() {
  if (optimizer) return optimizer->step();
  op->forward(input_ptrs, output);
  size_gradients(input_ptrs, grad_ptrs);  // as the model does before backward
  op->backward(input_ptrs, output, r, grad_ptrs);
}

std::vector<float> RowRun::results() const {
  std::vector<float> all;
  auto append = [&](const Tensor& t) { all.insert(all.end(), t.values().begin(), t.values().end()); };
  if (optimizer) {
    for (const Tensor& t : inputs) append(t);
    return all;
  }
  append(output);
  for (size_t i = 0; i < grads.size(); ++i)
    if (needs_grad[i]) append(grads[i]);
  for (Parameter& p : op->parameters()) append(p.grad);
  return all;
}

void load_example_plugins(const std::string& dir) {
  for (const auto& path : plugins_on_search_path(dir)) load_plugin(path);
}

std::vector<std::string> ops_without_row(const Registry& registry) {
  std::set<std::string> covered;
  for (const OpRow& row : op_table()) covered.insert(row.op);
  std::vector<std::string> missing;
  for (const std::string& name : registry.names())
    if (!covered.count(name)) missing.push_back(name);
  return missing;
}

}  // namespace gradflow::test
