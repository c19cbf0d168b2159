// multihead_attention: numbers against torch 1.13 (tests/reference/torch_attention_reference.py),
// gradients against finite differences (with and without dropout), bits across thread counts,
// dropout's masks fixed by (seed, node, step, position), and the shape errors.
#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <cmath>
#include <string>

#include "gradcheck.hpp"
#include "support/compare.hpp"
#include "torch_attention_reference.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

Tensor formula(const Shape& shape, double (*f)(int64_t)) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(f(i));
  return t;
}

RunContext context(bool training, int64_t step = 0, int64_t first_sample = 0) {
  return pass_context("attn", training, step, first_sample);
}

std::unique_ptr<Operator> attention(const Shape& sample, int64_t heads, bool causal, bool bias = true,
                                    double dropout = 0.0) {
  auto op = make_op("multihead_attention",
                    {{"num_heads", heads}, {"causal", causal}, {"bias", bias}, {"dropout", dropout}});
  op->infer_shape(std::vector<Shape>{sample});
  Rng rng(3);
  op->init_parameters(rng);
  return op;
}

// PyTorch's numbers agree within float round-off.
constexpr double kTorchTolerance = 2e-5;

// Output and every gradient of L = Σ out·R.
struct Pass {
  Tensor out, gx;
  std::vector<Tensor> grads;
};

Pass run(Operator& op, const Tensor& x, const Tensor& r) {
  Pass p;
  const std::vector<const Tensor*> in{&x};
  op.forward(in, p.out);
  std::vector<Tensor*> g{&p.gx};
  size_gradients(in, g);  // as the model does before backward
  op.backward(in, p.out, r, g);
  for (Parameter& param : op.parameters()) p.grads.push_back(param.grad);
  return p;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::equal(a.values().begin(), a.values().end(), b.values().begin());
}

}  // namespace

TEST_CASE("multihead_attention matches torch: output, every gradient and one SGD step", "[attention][torch]") {
  for (const AttentionTorchCase& c : kAttentionTorchCases) {
    INFO(c.name);
    auto op = attention({5, 8}, 2, c.causal, c.bias);
    auto params = op->parameters();
    REQUIRE(params.size() == (c.bias ? 4u : 2u));
    CHECK(params[0].name == "in_proj_weight");
    CHECK(params[c.bias ? 2 : 1].name == "out_proj.weight");
    Tensor& in_w = params[0].value;
    Tensor& out_w = params[c.bias ? 2 : 1].value;
    in_w = formula({24, 8}, [](int64_t i) { return 0.3 * std::sin(0.37 * double(i) + 0.1); });
    out_w = formula({8, 8}, [](int64_t i) { return 0.3 * std::cos(0.53 * double(i)); });
    if (c.bias) {
      params[1].value = formula({24}, [](int64_t i) { return 0.05 * std::cos(0.9 * double(i)); });
      params[3].value = formula({8}, [](int64_t i) { return 0.1 * std::sin(1.1 * double(i)); });
    }
    const Tensor x = formula({2, 5, 8}, [](int64_t i) { return std::sin(0.7 * double(i)) + 0.1 * std::cos(0.3 * double(i)); });
    const Tensor r = formula({2, 5, 8}, [](int64_t i) { return std::cos(1.3 * double(i)); });
    op->begin_pass(context(true));
    const Pass p = run(*op, x, r);
    check_close(p.out, c.output, kTorchTolerance);
    check_close(p.gx, c.grads[0], kTorchTolerance);
    for (size_t k = 0; k < params.size(); ++k) {
      INFO("gradient of " << params[k].name);
      check_close(params[k].grad, c.grads[k + 1], kTorchTolerance);
    }
    std::vector<ParamRef> refs;
    for (Parameter& param : params) refs.push_back({"attn." + param.name, &param.value, &param.grad});
    auto sgd = make_optimizer("sgd", {{"lr", 0.1}});
    sgd->setup(refs);
    sgd->step();
    check_close(in_w, c.after_step[0], kTorchTolerance);
    check_close(out_w, c.after_step[1], kTorchTolerance);
  }
}

TEST_CASE("multihead_attention gradients match finite differences", "[attention][gradcheck]") {
  for (const bool causal : {false, true})
    for (const bool bias : {true, false}) {
      INFO("causal " << causal << ", bias " << bias);
      auto op = attention({5, 8}, 2, causal, bias);
      op->begin_pass(context(false));
      gradcheck(*op, {random_tensor({2, 5, 8}, 9, -1.5, 1.5)}, {true});
    }
}

TEST_CASE("multihead_attention gradients match finite differences in training with dropout",
          "[attention][gradcheck][dropout]") {
  for (const bool causal : {false, true}) {
    INFO("causal " << causal);
    auto op = attention({6, 8}, 2, causal, true, 0.3);
    op->begin_pass(context(true, 4));  // the mask is fixed by the key: every forward draws the same
    gradcheck(*op, {random_tensor({2, 6, 8}, 10, -1.5, 1.5)}, {true});
  }
}

TEST_CASE("multihead_attention is bit-identical at 1 and 2 threads", "[attention][threads]") {
  const Tensor x = random_tensor({3, 70, 32}, 21, -1.0, 1.0);
  const Tensor r = random_tensor({3, 70, 32}, 22, -1.0, 1.0);
  for (const double dropout : {0.0, 0.2})
    for (const bool causal : {false, true}) {
      INFO("causal " << causal << ", dropout " << dropout);
      auto one = attention({70, 32}, 4, causal, true, dropout);
      auto two = attention({70, 32}, 4, causal, true, dropout);
      one->begin_pass(context(true, 2));
      two->begin_pass(context(true, 2));
      Pass a, b;
      {
        tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
        a = run(*one, x, r);
      }
      {
        tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 2);
        b = run(*two, x, r);
      }
      CHECK(same_bits(a.out, b.out));
      CHECK(same_bits(a.gx, b.gx));
      REQUIRE(a.grads.size() == b.grads.size());
      for (size_t k = 0; k < a.grads.size(); ++k) CHECK(same_bits(a.grads[k], b.grads[k]));
    }
}

TEST_CASE("multihead_attention dropout: fixed by (seed, step), new each step, off in evaluation",
          "[attention][dropout]") {
  const Tensor x = random_tensor({2, 6, 8}, 5, -1.0, 1.0);
  auto op = attention({6, 8}, 2, true, true, 0.4);
  auto plain = attention({6, 8}, 2, true, true, 0.0);  // the same weights (same seed), no dropout
  Tensor a, b, c, eval, reference;
  const std::vector<const Tensor*> in{&x};
  op->begin_pass(context(true, 3));
  op->forward(in, a);
  op->begin_pass(context(true, 3));
  op->forward(in, b);
  op->begin_pass(context(true, 4));
  op->forward(in, c);
  op->begin_pass(context(false, 4));
  op->forward(in, eval);
  plain->begin_pass(context(true, 4));
  plain->forward(in, reference);
  CHECK(same_bits(a, b));
  CHECK_FALSE(same_bits(a, c));
  CHECK_FALSE(same_bits(a, reference));
  CHECK(same_bits(eval, reference));
}

// With q = k = 0 every probability is 1/T; with v = x = one-hot positions and an identity
// out-projection, output [i, j] is the dropped probability (i, j) itself: 0 or 1/(T(1-p)).
TEST_CASE("multihead_attention dropout keeps the expected fraction, scaled by 1/(1-p)", "[attention][dropout]") {
  const int64_t t = 64, batch = 8;
  const double p = 0.3;
  auto op = attention({t, t}, 1, false, false, p);
  auto params = op->parameters();
  params[0].value.zero();
  params[1].value.zero();
  for (int64_t i = 0; i < t; ++i) {
    params[0].value[(2 * t + i) * t + i] = 1.0f;  // v = x
    params[1].value[i * t + i] = 1.0f;            // out = attention output
  }
  Tensor x({batch, t, t});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < t; ++i) x[(b * t + i) * t + i] = 1.0f;
  op->begin_pass(context(true, 1));
  Tensor out;
  op->forward(std::vector<const Tensor*>{&x}, out);
  const float kept_value = 1.0f / static_cast<float>(t) * (1.0f / static_cast<float>(1.0 - p));
  int64_t kept = 0, other = 0;
  for (const float v : out.values()) {
    if (v == 0.0f) continue;
    if (std::abs(v - kept_value) < 1e-6f) ++kept;
    else ++other;
  }
  CHECK(other == 0);
  const double fraction = static_cast<double>(kept) / static_cast<double>(out.size());
  CHECK(fraction == Approx(1.0 - p).margin(0.015));  // 32768 draws: the standard error is 0.0025
}

TEST_CASE("multihead_attention refuses bad shapes with exact messages", "[attention][errors]") {
  auto op = make_op("multihead_attention", {{"num_heads", int64_t{3}}});
  auto message = [&](const Shape& s) {
    try {
      op->infer_shape(std::vector<Shape>{s});
    } catch (const ShapeError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message({5, 10}) == "multihead_attention: the embedding dimension E = 10 is not divisible by num_heads = 3");
  CHECK(message({12}) == "multihead_attention expects an input of shape [T, E] (one vector per position), got [12]");
  CHECK(message({2, 5, 12}) ==
        "multihead_attention expects an input of shape [T, E] (one vector per position), got [2, 5, 12]");
  CHECK(message({5, 12}) == "no error");
}
