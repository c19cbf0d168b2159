// The shape and structure operators (transpose, reshape, flatten, squeeze, unsqueeze, concat,
// slice, pad, reduce_*, matmul, parameter, constant): forward and every gradient against
// torch 1.13 (tests/reference/torch_shape_reference.py), and the exact error of each bad use.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "gradcheck.hpp"
#include "support/compare.hpp"
#include "torch_shape_reference.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

using Ints = std::vector<int64_t>;

double value_at(int64_t j) { return std::sin(0.7 * static_cast<double>(j)) * 2.0 + 0.1 * static_cast<double>(j % 7); }
double tied_at(int64_t j) { return std::floor(2.0 * std::sin(1.1 * static_cast<double>(j))); }

struct TorchCase {
  std::string name, op;
  Overrides attrs;
  std::vector<Shape> shapes;  // batch first, as the generator's
  bool ties = false;          // the generator's `tied` values
};

const std::vector<TorchCase>& torch_cases() {
  static const std::vector<TorchCase> cases = {
      {"transpose", "transpose", {{"perm", Ints{2, 0, 1}}}, {{2, 3, 4, 5}}},
      {"transpose_2d", "transpose", {{"perm", Ints{1, 0}}}, {{2, 4, 3}}},
      {"reshape_zero", "reshape", {{"shape", Ints{0, -1, 2}}}, {{2, 3, 4}}},
      {"flatten_middle", "flatten", {{"start_axis", int64_t{1}}, {"end_axis", int64_t{2}}}, {{2, 2, 3, 4}}},
      {"squeeze_axis", "squeeze", {{"axes", Ints{-1}}}, {{2, 1, 3, 1}}},
      {"squeeze_all", "squeeze", {}, {{2, 1, 3, 1}}},
      {"unsqueeze", "unsqueeze", {{"axes", Ints{0, 2}}}, {{2, 3}}},
      {"concat_first", "concat", {{"axis", int64_t{0}}}, {{2, 1, 4}, {2, 3, 4}}},
      {"concat_middle", "concat", {{"axis", int64_t{1}}}, {{2, 3, 2, 4}, {2, 3, 1, 4}, {2, 3, 3, 4}}},
      {"slice_step", "slice", {{"axis", int64_t{0}}, {"start", int64_t{1}}, {"end", int64_t{-1}}, {"step", int64_t{2}}},
       {{2, 7, 3}}},
      {"slice_negative_start", "slice", {{"axis", int64_t{-1}}, {"start", int64_t{-3}}}, {{2, 5}}},
      {"slice_past_end", "slice", {{"axis", int64_t{0}}, {"start", int64_t{2}}, {"end", int64_t{100}}, {"step", int64_t{3}}},
       {{2, 6, 2}}},
      {"pad_constant", "pad", {{"pads", Ints{1, 2, 0, 1}}, {"value", 0.5}}, {{2, 3, 4}}},
      {"pad_negative", "pad", {{"pads", Ints{-1, 2}}}, {{2, 3, 5}}},
      {"pad_reflect", "pad", {{"pads", Ints{2, 1, 1, 3}}, {"mode", std::string("reflect")}}, {{2, 2, 4, 5}}},
      {"pad_replicate", "pad", {{"pads", Ints{1, 2, 2, 0}}, {"mode", std::string("replicate")}}, {{2, 2, 4, 5}}},
      {"reduce_sum", "reduce_sum", {{"axes", Ints{0, 2}}}, {{2, 3, 4, 5}}},
      {"reduce_mean_keepdims", "reduce_mean", {{"axes", Ints{-1}}, {"keepdims", true}}, {{2, 3, 4}}},
      {"reduce_mean_all", "reduce_mean", {}, {{2, 3, 4}}},
      {"reduce_max", "reduce_max", {{"axes", Ints{0}}}, {{2, 3, 4}}, true},
      {"reduce_max_all_keepdims", "reduce_max", {{"keepdims", true}}, {{2, 3, 4}}, true},
      {"matmul", "matmul", {}, {{2, 3, 4}, {2, 4, 5}}},
      {"matmul_broadcast", "matmul", {}, {{2, 2, 1, 3, 4}, {2, 3, 4, 2}}},
      {"matmul_vector_left", "matmul", {}, {{2, 4}, {2, 3, 4, 5}}},
      {"matmul_vector_right", "matmul", {}, {{2, 3, 4}, {2, 4}}},
      {"matmul_dot", "matmul", {}, {{2, 4}, {2, 4}}},
  };
  return cases;
}

Tensor formula(const Shape& shape, double (*f)(int64_t), int64_t offset = 0) {
  Tensor t(shape);
  for (int64_t j = 0; j < t.size(); ++j) t[j] = static_cast<float>(f(j + offset));
  return t;
}

double r_at(int64_t j) { return std::cos(1.3 * static_cast<double>(j)); }

// Sums of several values (reduce_sum, matmul) round in another order than torch's.
constexpr double kTorchTolerance = 1e-5;

// The shapes a test gives infer_shape, and the message of the ShapeError it throws.
std::string shape_error(const std::string& op, const Overrides& attrs, const std::vector<Shape>& samples) {
  try {
    make_op(op, attrs)->infer_shape(samples);
  } catch (const ShapeError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("shape operators: forward and every gradient match torch 1.13", "[shape_ops][torch]") {
  for (const TorchCase& c : torch_cases()) {
    INFO("case " << c.name);
    const std::vector<std::vector<float>>& torch = kShapeReference.at(c.name);
    std::vector<Tensor> inputs;
    for (size_t k = 0; k < c.shapes.size(); ++k)
      inputs.push_back(formula(c.shapes[k], c.ties ? tied_at : value_at, 100 * static_cast<int64_t>(k)));
    auto op = make_op(c.op, c.attrs);
    prepare(*op, inputs);
    Tensor out;
    op->forward(pointers(inputs), out);
    check_close(out, torch.at(0), kTorchTolerance);
    std::vector<Tensor> grads(inputs.size());
    std::vector<Tensor*> grad_ptrs;
    for (Tensor& g : grads) grad_ptrs.push_back(&g);
    size_gradients(pointers(inputs), grad_ptrs);
    op->backward(pointers(inputs), out, formula(out.shape(), r_at), grad_ptrs);
    for (size_t k = 0; k < grads.size(); ++k) {
      INFO("gradient of input " << k);
      check_close(grads[k], torch.at(k + 1), kTorchTolerance);
    }
  }
}

TEST_CASE("parameter: repeated over the batch, its gradient summed over it (torch)", "[shape_ops][torch]") {
  auto op = make_op("parameter", {{"shape", Ints{3, 4}}});
  CHECK(op->infer_shape({}) == Shape{3, 4});
  op->parameters()[0].value = formula({3, 4}, value_at);
  Tensor out({2, 3, 4});  // the framework sizes a node's output to the batch before each pass
  op->forward({}, out);
  const std::vector<std::vector<float>>& torch = kShapeReference.at("parameter");
  check_close(out, torch.at(0), kTorchTolerance);
  op->backward({}, out, formula({2, 3, 4}, r_at), {});
  check_close(op->parameters()[0].grad, torch.at(1), kTorchTolerance);
}

TEST_CASE("parameter: init zeros by default, normal with std, linear's schemes", "[shape_ops]") {
  auto zeros = make_op("parameter", {{"shape", Ints{2, 3}}});
  zeros->infer_shape({});
  Rng rng(1);
  zeros->init_parameters(rng);
  for (float v : zeros->parameters()[0].value.values()) CHECK(v == 0.0f);
  auto normal = make_op("parameter", {{"shape", Ints{100, 10}}, {"init", std::string("normal")}, {"std", 0.02}});
  normal->infer_shape({});
  normal->init_parameters(rng);
  double sq = 0;
  for (float v : normal->parameters()[0].value.values()) sq += static_cast<double>(v) * v;
  CHECK(std::sqrt(sq / 1000.0) == Approx(0.02).epsilon(0.1));
  auto uniform = make_op("parameter", {{"shape", Ints{4, 25}}, {"init", std::string("torch_default")}});
  uniform->infer_shape({});
  uniform->init_parameters(rng);
  for (float v : uniform->parameters()[0].value.values()) CHECK(std::abs(v) <= 0.2f);  // 1/sqrt(fan_in 25)
}

TEST_CASE("constant: its value for every sample, a buffer when it has several elements", "[shape_ops]") {
  auto op = make_op("constant", {{"shape", Ints{2, 2}}, {"value", 1.5}});
  CHECK(op->infer_shape({}) == Shape{2, 2});
  REQUIRE(op->buffers().size() == 1);
  CHECK(op->buffers()[0].name == "value");
  CHECK(op->parameters().empty());
  Tensor out({3, 2, 2});
  op->forward({}, out);
  for (float v : out.values()) CHECK(v == 1.5f);
  auto scalar = make_op("constant", {{"shape", Ints{1}}, {"value", 2.0}});
  scalar->infer_shape({});
  CHECK(scalar->buffers().empty());
}

TEST_CASE("constant: a nested list of its shape gives every element", "[shape_ops]") {
  auto op = make_op("constant", {{"shape", Ints{2, 3}}, {"value", FloatList{{1, 2, 3, 4, 5, 6.5}, {2, 3}}}});
  op->infer_shape({});
  Tensor out({2, 2, 3});
  op->forward({}, out);
  CHECK(std::vector<float>(out.values().begin(), out.values().end()) ==
        std::vector<float>{1, 2, 3, 4, 5, 6.5f, 1, 2, 3, 4, 5, 6.5f});
  CHECK_THROWS_WITH(make_op("constant", {{"shape", Ints{6}}, {"value", FloatList{{1, 2, 3, 4, 5, 6}, {2, 3}}}}),
                    "constant: value has shape [2, 3], but shape is [6]");
}

TEST_CASE("shape operators: gradients match finite differences", "[shape_ops][gradcheck]") {
  for (const TorchCase& c : torch_cases()) {
    if (c.ties) continue;  // amax is not differentiable at ties; the op table checks it on distinct values
    INFO("case " << c.name);
    std::vector<Tensor> inputs;
    for (size_t k = 0; k < c.shapes.size(); ++k) inputs.push_back(random_tensor(c.shapes[k], 7 + k));
    auto op = make_op(c.op, c.attrs);
    prepare(*op, inputs);
    gradcheck(*op, inputs, std::vector<bool>(inputs.size(), true));
  }
}

TEST_CASE("shape operators: each bad use is an exact error naming the shapes", "[shape_ops][errors]") {
  CHECK(shape_error("transpose", {{"perm", Ints{0, 0, 1}}}, {{2, 3, 4}}) ==
        "transpose: perm [0, 0, 1] is not a permutation of the axes of a sample of shape [2, 3, 4] (expected each of "
        "0 to 2 once)");
  CHECK(shape_error("transpose", {{"perm", Ints{1, 0}}}, {{2, 3, 4}}) ==
        "transpose: perm [1, 0] is not a permutation of the axes of a sample of shape [2, 3, 4] (expected each of 0 "
        "to 2 once)");
  CHECK(shape_error("reshape", {{"shape", Ints{0, 5}}}, {{2, 3}}) ==
        "reshape: cannot reshape [2, 3] (6 values) to [0, 5] (10 values)");
  CHECK(shape_error("reshape", {{"shape", Ints{1, 0, 0}}}, {{2, 3}}) ==
        "reshape: shape [1, 0, 0] copies axis 2 (0), which a sample of shape [2, 3] does not have");
  CHECK(shape_error("flatten", {{"start_axis", int64_t{2}}, {"end_axis", int64_t{1}}}, {{2, 3, 4}}) ==
        "flatten: start_axis 2 and end_axis 1 do not name a range of the axes of a sample of shape [2, 3, 4]");
  CHECK(shape_error("squeeze", {{"axes", Ints{1}}}, {{1, 3}}) ==
        "squeeze: axis 1 of a sample of shape [1, 3] has size 3, not 1");
  CHECK(shape_error("squeeze", {{"axes", Ints{2}}}, {{1, 3}}) ==
        "squeeze: axis 2 is out of range for a sample of shape [1, 3]");
  CHECK(shape_error("unsqueeze", {{"axes", Ints{0, 3}}}, {{4}}) ==
        "unsqueeze: axes [0, 3] are not distinct positions of an output of 3 axes from a sample of shape [4]");
  CHECK(shape_error("concat", {{"axis", int64_t{0}}}, {{2, 3}, {2, 4}}) ==
        "concat: input 1 has shape [2, 4] but input 0 has shape [2, 3]; all dimensions but axis 0 must be equal");
  CHECK(shape_error("concat", {{"axis", int64_t{2}}}, {{2, 3}, {2, 3}}) ==
        "concat: axis 2 is out of range for input 0 of shape [2, 3]");
  CHECK(shape_error("slice", {{"axis", int64_t{-3}}}, {{2, 3}}) ==
        "slice: axis -3 is out of range for a sample of shape [2, 3] (axes -2 to 1)");
  CHECK(shape_error("slice", {{"axis", int64_t{1}}, {"start", int64_t{3}}}, {{2, 3}}) ==
        "slice: start 3, end (the axis' size) select nothing of axis 1 of a sample of shape [2, 3]");
  CHECK(shape_error("pad", {{"pads", Ints{3, 0}}, {"mode", std::string("reflect")}}, {{2, 3}}) ==
        "pad: pads [3, 0] (mode reflect) do not fit axis 1 of a sample of shape [2, 3]; reflect pads must be smaller "
        "than the axis");
  CHECK(shape_error("pad", {{"pads", Ints{1, 1, 1, 1, 1, 1}}}, {{2, 3}}) ==
        "pad: pads [1, 1, 1, 1, 1, 1] pad 3 axes, but a sample of shape [2, 3] has 2");
  CHECK(shape_error("reduce_sum", {{"axes", Ints{3}}}, {{2, 3}}) ==
        "reduce_sum: axis 3 is out of range for a sample of shape [2, 3]");
  CHECK(shape_error("reduce_max", {{"axes", Ints{1, -1}}}, {{2, 3}}) ==
        "reduce_max: axis -1 is named twice for a sample of shape [2, 3]");
  CHECK(shape_error("matmul", {}, {{2, 3}, {4, 5}}) ==
        "matmul: a [2, 3] and b [4, 5] do not multiply: a has 3 columns, b 4 rows");
  CHECK(shape_error("matmul", {}, {{2, 3, 4}, {3, 4, 5}}) ==
        "matmul: a [2, 3, 4] and b [3, 4, 5] do not broadcast: leading axes [2] and [3]");
  CHECK(shape_error("parameter", {{"shape", Ints{2}}}, {{2}}) == "parameter takes no inputs, got 1");
  CHECK_THROWS_WITH(make_op("pad", {{"pads", Ints{1, 2, 3}}}), "pad: pads [1, 2, 3] must hold an even number of values, two per axis");
  CHECK_THROWS_WITH(make_op("pad", {{"pads", Ints{-1, 2}}, {"mode", std::string("replicate")}}),
                    "pad: pads [-1, 2] may be negative only in mode constant");
}
