#include <catch2/catch.hpp>

#include <stdexcept>

#include "gradcheck.hpp"
#include "torch_loss_optimizer_reference.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

// The fixed inputs of tests/reference/torch_loss_optimizer_reference.py: a batch of 2 samples of shape [3].
const Tensor kPred({2, 3}, {0.2f, -1.3f, 0.7f, 1.5f, 0.1f, -0.4f});
const Tensor kTarget({2, 3}, {0.5f, -1.0f, 2.0f, 1.0f, 0.3f, -0.4f});
const Tensor kProb({2, 3}, {0.1f, 0.8f, 0.45f, 0.9f, 0.3f, 0.6f});
const Tensor kBinaryTarget({2, 3}, {0.0f, 1.0f, 0.3f, 1.0f, 0.0f, 1.0f});
const Tensor kClassIndex({2, 1}, {2.0f, 0.0f});
const Tensor kClassProbs({2, 3}, {0.1f, 0.6f, 0.3f, 0.7f, 0.2f, 0.1f});

struct LossCase {
  std::string label;
  std::string op;
  Overrides attrs;
  Tensor prediction, target;
  bool target_grad;  // whether the target is differentiable (not a class index)
  std::string reference;  // the case's name in kTorchLosses
};

// The reference numbers are kTorchLosses (tests/reference/torch_loss_optimizer_reference.py).
std::vector<LossCase> loss_cases() {
  return {
      {"mse", "mse", {}, kPred, kTarget, true, "mse"},
      {"huber", "huber", {}, kPred, kTarget, true, "huber"},
      {"huber delta 0.5", "huber", {{"delta", 0.5}}, kPred, kTarget, true, "huber_delta_0.5"},
      {"bce", "bce", {}, kProb, kBinaryTarget, true, "bce"},
      {"bce_with_logits", "bce_with_logits", {}, kPred, kBinaryTarget, true, "bce_with_logits"},
      {"cross_entropy class index", "cross_entropy", {}, kPred, kClassIndex, false, "cross_entropy_index"},
      {"cross_entropy probabilities", "cross_entropy", {}, kPred, kClassProbs, true, "cross_entropy_probs"},
  };
}

Overrides with_reduction(Overrides attrs, const std::string& reduction) {
  attrs.emplace_back("reduction", reduction);
  return attrs;
}

}  // namespace

TEST_CASE("losses match PyTorch on fixed inputs", "[losses][torch]") {
  for (const LossCase& c : loss_cases()) {
    for (const std::string reduction : {"mean", "sum"}) {
      DYNAMIC_SECTION(c.label << " reduction=" << reduction) {
        const TorchLoss& ref = kTorchLosses.at(c.reference + " reduction=" + reduction);
        auto op = make_op(c.op, with_reduction(c.attrs, reduction));
        const std::vector<Tensor> inputs{c.prediction, c.target};
        REQUIRE(prepare(*op, inputs) == Shape{});
        const auto in = pointers(inputs);
        Tensor loss;
        op->forward(in, loss);
        REQUIRE(loss.shape() == Shape{});
        CHECK(loss[0] == Approx(ref.value).epsilon(1e-5));

        Tensor grad;
        std::vector<Tensor*> grads{&grad, nullptr};
        size_gradients(in, grads);  // as the model does before backward
        op->backward(in, loss, Tensor(Shape{}, {1.0f}), grads);
        REQUIRE(grad.size() == static_cast<int64_t>(ref.grad.size()));
        for (size_t i = 0; i < ref.grad.size(); ++i)
          CHECK(grad[static_cast<int64_t>(i)] == Approx(ref.grad[i]).epsilon(1e-5).margin(1e-7));
      }
    }
  }
}

TEST_CASE("losses: gradients match finite differences", "[losses][gradcheck]") {
  // The fixed inputs keep |p − t| clear of huber's delta (1 and 0.5 ± eps) and p in (0, 1)
  // for bce. The loss's grad_output is a random scalar, so scaling by it is checked too.
  for (const LossCase& c : loss_cases()) {
    if (c.label == "huber delta 0.5") continue;  // one |p − t| is exactly 0.5: on the kink
    for (const std::string reduction : {"mean", "sum"}) {
      DYNAMIC_SECTION(c.label << " reduction=" << reduction) {
        auto op = make_op(c.op, with_reduction(c.attrs, reduction));
        const std::vector<Tensor> inputs{c.prediction, c.target};
        prepare(*op, inputs);
        gradcheck(*op, inputs, {true, c.target_grad});
      }
    }
  }
  SECTION("huber delta 0.5 away from the kink") {
    auto op = make_op("huber", {{"delta", 0.5}});
    const std::vector<Tensor> inputs{random_tensor({3, 4}, 31), random_tensor({3, 4}, 32)};
    prepare(*op, inputs);
    for (int64_t i = 0; i < inputs[0].size(); ++i)
      REQUIRE(std::abs(std::abs(inputs[0][i] - inputs[1][i]) - 0.5f) > 0.03f);
    gradcheck(*op, inputs, {true, true});
  }
}

TEST_CASE("cross_entropy: a class index of shape [] works like [1]", "[losses]") {
  auto op = make_op("cross_entropy");
  const std::vector<Tensor> inputs{kPred, Tensor({2}, {2.0f, 0.0f})};
  REQUIRE(prepare(*op, inputs) == Shape{});
  Tensor loss;
  op->forward(pointers(inputs), loss);
  CHECK(loss[0] == Approx(kTorchLosses.at("cross_entropy_index reduction=mean").value).epsilon(1e-5));
}

// tests/reference/torch_loss_optimizer_reference.py's SEQ_LOGITS and SEQ_INDEX: 2 samples of logits [T=3, C=4].
const Tensor kSeqLogits({2, 3, 4}, {0.2f, -1.3f, 0.7f, 0.0f, 1.5f, 0.1f, -0.4f, 2.2f, -0.6f, 0.9f, 0.3f, -1.1f,
                                    0.8f, 0.8f, -2.0f, 0.5f, -0.3f, 1.7f, 0.2f, 0.4f, 1.1f, -0.9f, 0.6f, 0.05f});
const Tensor kSeqIndex({2, 3}, {3.0f, 0.0f, 1.0f, 2.0f, 1.0f, 0.0f});

TEST_CASE("cross_entropy over [T, C] logits matches PyTorch on the flattened positions", "[losses][torch]") {
  for (const std::string reduction : {"mean", "sum"}) {
    DYNAMIC_SECTION("reduction=" << reduction) {
      const TorchLoss& ref = kTorchLosses.at("cross_entropy_sequence reduction=" + reduction);
      auto op = make_op("cross_entropy", {{"reduction", reduction}});
      const std::vector<Tensor> inputs{kSeqLogits, kSeqIndex};
      REQUIRE(prepare(*op, inputs) == Shape{});
      const auto in = pointers(inputs);
      Tensor loss;
      op->forward(in, loss);
      CHECK(loss[0] == Approx(ref.value).epsilon(1e-6));
      Tensor grad;
      std::vector<Tensor*> grads{&grad, nullptr};
      size_gradients(in, grads);  // as the model does before backward
      op->backward(in, loss, Tensor(Shape{}, {1.0f}), grads);
      REQUIRE(grad.shape() == kSeqLogits.shape());
      for (size_t i = 0; i < ref.grad.size(); ++i)
        CHECK(grad[static_cast<int64_t>(i)] == Approx(ref.grad[i]).epsilon(1e-5).margin(1e-7));
      gradcheck(*op, inputs, {true, false});
    }
  }
  SECTION("[T, C] probabilities: gradients for logits and targets") {
    auto op = make_op("cross_entropy");
    const std::vector<Tensor> inputs{kSeqLogits, random_tensor({2, 3, 4}, 7)};
    REQUIRE(prepare(*op, inputs) == Shape{});
    gradcheck(*op, inputs, {true, true});
  }
  SECTION("no per-sample accuracy or classes for a sequence") {
    auto op = make_op("cross_entropy");
    prepare(*op, {kSeqLogits, kSeqIndex});
    CHECK_FALSE(dynamic_cast<const AccuracyCounter&>(*op).reports_accuracy(false));
    CHECK(class_count(entry("cross_entropy").schema.class_rule, {3, 4}) == 0);
    const auto& loss = dynamic_cast<const TargetChecker&>(*op);
    CHECK(loss.check_target(3.0f, {3, 4}, {3}) == std::nullopt);
    CHECK(loss.check_target(4.0f, {3, 4}, {3}) == "expects a class index in [0, 4)");
    CHECK(loss.check_target(0.5f, {3, 4}, {3}) == "expects a class index in [0, 4)");
  }
}

TEST_CASE("losses: mismatched shapes are a ShapeError", "[losses][errors]") {
  for (const std::string name : {"mse", "bce", "bce_with_logits", "huber"}) {
    auto op = make_op(name);
    REQUIRE_THROWS_AS(op->infer_shape(std::vector<Shape>{{3}, {2}}), ShapeError);
    REQUIRE_THROWS_WITH(op->infer_shape(std::vector<Shape>{{3}, {2}}),
                        "prediction has shape [3] but target has shape [2]; expected equal shapes");
  }
  auto ce = make_op("cross_entropy");
  REQUIRE_THROWS_WITH(ce->infer_shape(std::vector<Shape>{{3}, {2}}),
                      "prediction has shape [3] but target has shape [2]; expected [3] (class "
                      "probabilities), [1] or [] (a class index)");
  REQUIRE_THROWS_WITH(ce->infer_shape(std::vector<Shape>{{5, 4}, {4}}),
                      "prediction has shape [5, 4] but target has shape [4]; expected [5, 4] (class "
                      "probabilities) or [5] (a class index per position)");
  REQUIRE_THROWS_WITH(ce->infer_shape(std::vector<Shape>{{2, 5, 4}, {2, 5}}),
                      "cross_entropy expects logits of shape [C] or [T, C] with C >= 1, got [2, 5, 4]");
}

TEST_CASE("cross_entropy: a class index out of range is an error", "[losses][errors]") {
  auto op = make_op("cross_entropy");
  const std::vector<Tensor> inputs{kPred, Tensor({2, 1}, {1.0f, 3.0f})};
  prepare(*op, inputs);
  Tensor loss;
  REQUIRE_THROWS_AS(op->forward(pointers(inputs), loss), std::out_of_range);
  REQUIRE_THROWS_WITH(op->forward(pointers(inputs), loss),
                      "cross_entropy: class index 3 is out of range for 3 classes (expected an "
                      "integer from 0 to 2)");
  const std::vector<Tensor> negative{kPred, Tensor({2, 1}, {-1.0f, 0.0f})};
  REQUIRE_THROWS_WITH(op->forward(pointers(negative), loss),
                      "cross_entropy: class index -1 is out of range for 3 classes (expected an "
                      "integer from 0 to 2)");
}

TEST_CASE("losses: accuracy hooks", "[losses][accuracy]") {
  // Whether each op's outputs are hard decisions (OpSchema::outputs_decisions): what the
  // model tells a loss about the op that produced its prediction.
  const bool linear = entry("linear").schema.outputs_decisions;
  const bool sigmoid = entry("sigmoid").schema.outputs_decisions;
  const bool step = entry("step").schema.outputs_decisions;
  const bool graph_input = false;
  SECTION("cross_entropy: argmax against the class index or the target's argmax") {
    auto op = make_op("cross_entropy");
    prepare(*op, {kPred, kClassIndex});
    auto* loss = dynamic_cast<AccuracyCounter*>(op.get());
    REQUIRE(loss);
    CHECK(loss->reports_accuracy(linear));
    CHECK(loss->count_correct(kPred, kClassIndex) == 2);
    CHECK(loss->count_correct(kPred, Tensor({2, 1}, {1.0f, 0.0f})) == 1);
    auto probs = make_op("cross_entropy");
    prepare(*probs, {kPred, kClassProbs});
    CHECK(dynamic_cast<AccuracyCounter&>(*probs).count_correct(kPred, kClassProbs) == 1);  // argmax 1 vs 2
  }
  SECTION("bce: probability >= 0.5, every element of a sample") {
    auto op = make_op("bce");
    auto& loss = dynamic_cast<AccuracyCounter&>(*op);
    CHECK(loss.reports_accuracy(sigmoid));
    CHECK(loss.count_correct(kProb, kBinaryTarget) == 2);
    CHECK(loss.count_correct(Tensor({2, 3}, {0.1f, 0.8f, 0.45f, 0.9f, 0.3f, 0.4f}), kBinaryTarget) == 1);
  }
  SECTION("bce_with_logits: logit >= 0") {
    auto op = make_op("bce_with_logits");
    auto& loss = dynamic_cast<AccuracyCounter&>(*op);
    CHECK(loss.reports_accuracy(linear));
    CHECK(loss.count_correct(Tensor({2, 3}, {-1, 2, -0.5f, 3, -2, 0}), kBinaryTarget) == 2);
    CHECK(loss.count_correct(Tensor({2, 3}, {-1, 2, -0.5f, 3, -2, -0.1f}), kBinaryTarget) == 1);
  }
  SECTION("mse: only over a step output, exact match") {
    auto op = make_op("mse");
    auto& loss = dynamic_cast<AccuracyCounter&>(*op);
    CHECK(loss.reports_accuracy(step));
    CHECK_FALSE(loss.reports_accuracy(sigmoid));
    CHECK_FALSE(loss.reports_accuracy(graph_input));
    CHECK(loss.count_correct(Tensor({2, 2}, {1, 0, 1, 1}), Tensor({2, 2}, {1, 0, 1, 0})) == 1);
  }
  SECTION("reduction: mean by default, sum when asked") {
    CHECK(dynamic_cast<Loss&>(*make_op("mse")).reduction() == Reduction::Mean);
    CHECK(dynamic_cast<Loss&>(*make_op("cross_entropy", {{"reduction", std::string("sum")}})).reduction() ==
          Reduction::Sum);
  }
  SECTION("cross_entropy checks class indices fed from data") {
    const auto op = make_op("cross_entropy");
    const auto& loss = dynamic_cast<const TargetChecker&>(*op);
    CHECK_FALSE(loss.check_target(2.0f, {3}, {1}));
    CHECK(loss.check_target(3.0f, {3}, {1}) == "expects a class index in [0, 3)");
    CHECK(loss.check_target(-1.0f, {3}, {1}) == "expects a class index in [0, 3)");
    CHECK(loss.check_target(0.5f, {3}, {1}) == "expects a class index in [0, 3)");
    CHECK_FALSE(loss.check_target(0.5f, {3}, {3}));  // a probability target
    CHECK(dynamic_cast<const TargetChecker*>(make_op("mse").get()) == nullptr);  // mse checks no target
  }
  SECTION("bce and bce_with_logits check that a target fed from data is a probability") {
    for (const char* name : {"bce", "bce_with_logits"}) {
      const auto op = make_op(name);
      const auto& loss = dynamic_cast<const TargetChecker&>(*op);
      CHECK_FALSE(loss.check_target(0.0f, {1}, {1}));
      CHECK_FALSE(loss.check_target(0.25f, {1}, {1}));
      CHECK_FALSE(loss.check_target(1.0f, {1}, {1}));
      CHECK(loss.check_target(2.0f, {1}, {1}) == "expects a target probability in [0, 1]");
      CHECK(loss.check_target(-0.5f, {1}, {1}) == "expects a target probability in [0, 1]");
    }
  }
  SECTION("huber: no accuracy") {
    CHECK_FALSE(dynamic_cast<AccuracyCounter&>(*make_op("huber")).reports_accuracy(step));
  }
}
