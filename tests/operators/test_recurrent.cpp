// lstm and gru: numbers against torch 1.13 (tests/reference/torch_recurrent_reference.py), the
// gradients with inter-layer dropout against finite differences, dropout's masks fixed by
// (seed, node, step), and the exact errors of bad graphs. The plain rows (gradients, threads,
// allocations, ONNX) are in the operator table.
#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <cmath>
#include <functional>
#include <string>

#include "framework/graph_fixtures.hpp"
#include "gradcheck.hpp"
#include "support/compare.hpp"
#include "torch_recurrent_reference.hpp"

using namespace gradflow;
using namespace gradflow::test;
using Lines = std::vector<std::string>;

namespace {

Tensor formula(const Shape& shape, const std::function<double(int64_t)>& f) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(f(i));
  return t;
}

std::unique_ptr<Operator> recurrent(const std::string& op, const Shape& sample, int64_t hidden, int64_t layers,
                                    bool bidirectional, bool bias, bool last, double dropout = 0.0) {
  auto made = make_op(op, {{"hidden_size", hidden},
                           {"num_layers", layers},
                           {"bidirectional", bidirectional},
                           {"bias", bias},
                           {"dropout", dropout},
                           {"output", std::string(last ? "last" : "sequence")}});
  made->infer_shape(std::vector<Shape>{sample});
  Rng rng(3);
  made->init_parameters(rng);
  return made;
}

// PyTorch's numbers agree within float round-off.
constexpr double kTorchTolerance = 2e-5;

}  // namespace

TEST_CASE("lstm and gru match torch: output and every gradient", "[recurrent][torch]") {
  for (const RecurrentTorchCase& c : kRecurrentTorchCases) {
    INFO(c.op << ", " << c.num_layers << " layers, bidirectional " << c.bidirectional << ", bias " << c.bias
              << ", last " << c.last);
    auto op = recurrent(c.op, {4, 3}, 5, c.num_layers, c.bidirectional, c.bias, c.last);
    auto params = op->parameters();
    REQUIRE(params.size() + 1 == c.grads.size());
    for (size_t k = 0; k < params.size(); ++k)
      params[k].value = formula(params[k].value.shape(), [k](int64_t i) {
        return 0.3 * std::sin(0.37 * double(i) + 0.5 * double(k) + 0.1);
      });
    const Tensor x = formula({2, 4, 3}, [](int64_t i) { return std::sin(0.7 * double(i)) + 0.1 * std::cos(0.3 * double(i)); });
    op->begin_pass(pass_context("rnn", true));
    Tensor out, gx;
    const std::vector<const Tensor*> in{&x};
    op->forward(in, out);
    check_close(out, c.output, kTorchTolerance);
    const Tensor r = formula(out.shape(), [](int64_t i) { return std::cos(1.3 * double(i)); });
    std::vector<Tensor*> g{&gx};
    size_gradients(in, g);
    op->backward(in, out, r, g);
    check_close(gx, c.grads[0], kTorchTolerance);
    for (size_t k = 0; k < params.size(); ++k) {
      INFO("gradient of " << params[k].name);
      check_close(params[k].grad, c.grads[k + 1], kTorchTolerance);
    }
  }
}

TEST_CASE("lstm and gru name their parameters as torch does", "[recurrent]") {
  auto op = recurrent("gru", {4, 3}, 5, 2, true, true, false);
  std::vector<std::string> names;
  for (const Parameter& p : op->parameters()) names.push_back(p.name + " " + to_string(p.value.shape()));
  CHECK(names == std::vector<std::string>{
                     "weight_ih_l0 [15, 3]", "weight_hh_l0 [15, 5]", "bias_ih_l0 [15]", "bias_hh_l0 [15]",
                     "weight_ih_l0_reverse [15, 3]", "weight_hh_l0_reverse [15, 5]", "bias_ih_l0_reverse [15]",
                     "bias_hh_l0_reverse [15]", "weight_ih_l1 [15, 10]", "weight_hh_l1 [15, 5]", "bias_ih_l1 [15]",
                     "bias_hh_l1 [15]", "weight_ih_l1_reverse [15, 10]", "weight_hh_l1_reverse [15, 5]",
                     "bias_ih_l1_reverse [15]", "bias_hh_l1_reverse [15]"});
  const double bound = 1.0 / std::sqrt(5.0);
  for (const Parameter& p : op->parameters())
    for (const float v : p.value.values()) CHECK(std::abs(v) <= bound);
}

TEST_CASE("lstm and gru gradients match finite differences in training with dropout",
          "[recurrent][gradcheck][dropout]") {
  for (const std::string op_name : {"lstm", "gru"})
    for (const bool last : {false, true}) {
      INFO(op_name << ", last " << last);
      auto op = recurrent(op_name, {5, 3}, 4, 3, true, true, last, 0.4);
      op->begin_pass(pass_context("rnn", true, 4));  // the masks are fixed by the key
      gradcheck(*op, {random_tensor({2, 5, 3}, 9, -1.5, 1.5)}, {true});
    }
}

TEST_CASE("recurrent dropout: fixed by (seed, step), new each step, off in evaluation", "[recurrent][dropout]") {
  const Tensor x = random_tensor({2, 6, 3}, 5, -1.0, 1.0);
  auto op = recurrent("lstm", {6, 3}, 4, 2, false, true, false, 0.5);
  auto plain = recurrent("lstm", {6, 3}, 4, 2, false, true, false, 0.0);  // the same weights
  Tensor a, b, c, eval, reference;
  const std::vector<const Tensor*> in{&x};
  op->begin_pass(pass_context("rnn", true, 3));
  op->forward(in, a);
  op->begin_pass(pass_context("rnn", true, 3));
  op->forward(in, b);
  op->begin_pass(pass_context("rnn", true, 4));
  op->forward(in, c);
  op->begin_pass(pass_context("rnn", false, 4));
  op->forward(in, eval);
  plain->begin_pass(pass_context("rnn", true, 4));
  plain->forward(in, reference);
  CHECK(bit_identical(a, b));
  CHECK_FALSE(bit_identical(a, c));
  CHECK_FALSE(bit_identical(a, reference));
  CHECK(bit_identical(eval, reference));
}

// Large enough that the gemms and the gate passes split into several tiles (the table's rows do not).
TEST_CASE("lstm and gru are bit-identical at 1 and 2 threads", "[recurrent][threads]") {
  const Tensor x = random_tensor({300, 6, 16}, 21, -1.0, 1.0);
  for (const std::string op_name : {"lstm", "gru"}) {
    INFO(op_name);
    auto results_at = [&](size_t threads) {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
      auto op = recurrent(op_name, {6, 16}, 64, 2, true, true, false, 0.3);
      op->begin_pass(pass_context("rnn", true, 2));
      Tensor out, gx;
      const std::vector<const Tensor*> in{&x};
      op->forward(in, out);
      const Tensor r = random_tensor(out.shape(), 22, -1.0, 1.0);
      std::vector<Tensor*> g{&gx};
      size_gradients(in, g);
      op->backward(in, out, r, g);
      std::vector<Tensor> all{out, gx};
      for (const Parameter& p : op->parameters()) all.push_back(p.grad);
      return all;
    };
    const std::vector<Tensor> one = results_at(1), two = results_at(2);
    REQUIRE(one.size() == two.size());
    for (size_t k = 0; k < one.size(); ++k) CHECK(bit_identical(one[k], two[k]));
  }
}

namespace {

// A sequence classifier: the text is replaced to make it wrong.
const char* const kClassifier = R"(graph: rnn
inputs:
  x: {shape: [6, 3]}
  y: {shape: [6]}
nodes:
  - {name: rnn, op: lstm, inputs: [x], hidden_size: 8}
  - {name: head, op: linear, inputs: [rnn], units: 4}
  - {name: loss, op: cross_entropy, inputs: [head, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
)";

}  // namespace

TEST_CASE("a valid recurrent graph has no errors", "[recurrent][errors]") {
  CHECK(errors_of(kClassifier).empty());
  CHECK(errors_of(replace(kClassifier, "op: lstm", "op: gru")).empty());
}

TEST_CASE("recurrent ops refuse bad graphs with exact messages", "[recurrent][errors]") {
  CHECK(errors_of(replace(kClassifier, ", hidden_size: 8}", "}")) ==
        Lines{"g.yaml:6:5: error: node 'rnn': op 'lstm' needs attribute 'hidden_size' (integer)"});
  CHECK(errors_of(replace(kClassifier, "hidden_size: 8", "hidden_size: 0")) ==
        Lines{"g.yaml:6:53: error: node 'rnn': attribute 'hidden_size' of op 'lstm' must be > 0, got '0'"});
  CHECK(errors_of(replace(kClassifier, "x: {shape: [6, 3]}", "x: {shape: [18]}")) ==
        Lines{"g.yaml:6:5: error: node 'rnn' (op lstm): lstm expects an input of shape [T, I] (one vector per time "
              "step), got [18]; its input is 'x' [18]"});
  CHECK(errors_of(replace(replace(kClassifier, "x: {shape: [6, 3]}", "x: {shape: [2, 6, 3]}"), "op: lstm", "op: gru")) ==
        Lines{"g.yaml:6:5: error: node 'rnn' (op gru): gru expects an input of shape [T, I] (one vector per time "
              "step), got [2, 6, 3]; its input is 'x' [2, 6, 3]"});
  // `output: last` gives one vector per sample, not one per time step: a loss over [T, C] refuses it.
  CHECK(errors_of(replace(kClassifier, "hidden_size: 8}", "hidden_size: 8, output: last}")) ==
        Lines{"g.yaml:8:5: error: node 'loss' (op cross_entropy): prediction has shape [4] but target has shape "
              "[6]; expected [4] (class probabilities), [1] or [] (a class index); its inputs are 'head' [4] and "
              "'y' [6]"});
}
