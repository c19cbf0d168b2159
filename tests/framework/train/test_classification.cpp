// Class predictions (gradflow/classification.hpp): probabilities, predicted and true classes,
// and the confusion matrix's counts, precision and recall.
#include <catch2/catch.hpp>

#include "framework/graph_fixtures.hpp"
#include "gradflow/classification.hpp"

using namespace gradflow;

namespace {

void check_rows(const Tensor& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == static_cast<int64_t>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) CHECK(got[static_cast<int64_t>(i)] == Approx(expected[i]).margin(1e-6));
}

}  // namespace

TEST_CASE("softmax probabilities match torch.softmax and huge logits stay finite", "[classification]") {
  const Tensor logits({3, 3}, {1.0f, 2.0f, 3.0f, -1.0f, 0.0f, 4.0f, 1000.0f, 1000.0f, -1000.0f});
  const Tensor p = class_probabilities(ClassRule::Softmax, logits);
  CHECK(p.shape() == Shape{3, 3});
  // torch.softmax(x, dim=1) in float64, torch 1.13.
  check_rows(p, {0.09003057317038045, 0.2447284710547976, 0.6652409557748218, 0.006573263185309083,
                 0.0178679818703045, 0.9755587549443865, 0.5, 0.5, 0.0});
  CHECK(predicted_classes(ClassRule::Softmax, logits) == std::vector<int64_t>{2, 2, 0});  // a tie: the first
}

TEST_CASE("sigmoid and probability rules: two classes with class 1 from 0.5 on", "[classification]") {
  const Tensor logits({4, 1}, {0.0f, 2.0f, -3.0f, 0.5f});
  // torch.sigmoid in float64, torch 1.13.
  check_rows(class_probabilities(ClassRule::Sigmoid, logits),
             {0.5, 0.5, 1 - 0.8807970779778823, 0.8807970779778823, 1 - 0.04742587317756678, 0.04742587317756678,
              1 - 0.6224593312018546, 0.6224593312018546});
  CHECK(predicted_classes(ClassRule::Sigmoid, logits) == std::vector<int64_t>{1, 1, 0, 1});
  const Tensor probabilities({4}, {0.5f, 0.49999f, 0.9f, 0.0f});
  check_rows(class_probabilities(ClassRule::Probability, probabilities),
             {0.5, 0.5, 0.50001, 0.49999, 0.1, 0.9, 1.0, 0.0});
  CHECK(predicted_classes(ClassRule::Probability, probabilities) == std::vector<int64_t>{1, 0, 1, 0});
  CHECK_THROWS_WITH(predicted_classes(ClassRule::Sigmoid, Tensor({2, 2})),
                    "a binary class rule needs one value per sample, got [2, 2]");
}

TEST_CASE("class_count: C for softmax and 2 for a binary rule over one value", "[classification]") {
  CHECK(class_count(ClassRule::Softmax, Shape{7}) == 7);
  CHECK(class_count(ClassRule::Sigmoid, Shape{1}) == 2);
  CHECK(class_count(ClassRule::Probability, Shape{}) == 2);
  CHECK(class_count(ClassRule::Sigmoid, Shape{3}) == 0);  // multi-label: no single class
  CHECK(class_count(ClassRule::None, Shape{3}) == 0);
}

TEST_CASE("target classes: an index or a probability vector's argmax or a binary threshold", "[classification]") {
  CHECK(target_classes(ClassRule::Softmax, Tensor({3, 1}, {2.0f, 0.0f, 1.0f}), 3) == std::vector<int64_t>{2, 0, 1});
  CHECK(target_classes(ClassRule::Softmax, Tensor({2, 3}, {0.1f, 0.7f, 0.2f, 0.0f, 0.0f, 1.0f}), 3) ==
        std::vector<int64_t>{1, 2});
  CHECK(target_classes(ClassRule::Sigmoid, Tensor({3, 1}, {1.0f, 0.0f, 0.5f}), 2) == std::vector<int64_t>{1, 0, 1});
  CHECK_THROWS_WITH(target_classes(ClassRule::Softmax, Tensor({1, 1}, {3.0f}), 3),
                    "target 3 is not a class index in [0, 3)");
}

TEST_CASE("confusion matrix: counts and precision and recall; a class never predicted has precision 0",
          "[classification]") {
  ConfusionMatrix m(3);
  // Class 2 is never predicted; class 0 is predicted for two samples of class 1.
  const std::vector<int64_t> truth{0, 0, 1, 1, 1, 2, 2};
  const std::vector<int64_t> predicted{0, 0, 1, 0, 0, 1, 0};
  m.add(truth, predicted);
  CHECK(m.samples() == 7);
  CHECK(m.correct() == 3);
  CHECK(m.count(1, 0) == 2);
  CHECK(m.support(1) == 3);
  CHECK(m.predicted(0) == 5);
  CHECK(m.precision(0) == Approx(2.0 / 5.0));
  CHECK(m.recall(0) == Approx(1.0));
  CHECK(m.precision(1) == Approx(1.0 / 2.0));
  CHECK(m.recall(1) == Approx(1.0 / 3.0));
  CHECK(m.precision(2) == 0.0);  // never predicted: defined as 0, as sklearn's zero_division=0
  CHECK(m.recall(2) == 0.0);
  CHECK(ConfusionMatrix(2).recall(0) == 0.0);  // no samples of the class
  CHECK_THROWS_WITH(m.add(3, 0), "class pair (3, 0) is outside [0, 3)");
}

TEST_CASE("the losses describe how they classify", "[classification]") {
  const auto rule_of = [](const std::string& yaml_loss, const std::string& target_shape) {
    const std::string yaml = "inputs:\n  p: {shape: [1]}\n  t: {shape: " + target_shape +
                             "}\nnodes:\n  - {name: loss, op: " + yaml_loss + ", inputs: [p, t]}\n";
    const auto model = test::build(yaml);
    return find_classifier(*model);
  };
  CHECK(rule_of("cross_entropy", "[1]")->rule == ClassRule::Softmax);
  CHECK(rule_of("bce_with_logits", "[1]")->rule == ClassRule::Sigmoid);
  CHECK(rule_of("bce", "[1]")->rule == ClassRule::Probability);
  CHECK(rule_of("bce", "[1]")->classes == 2);
  CHECK_FALSE(rule_of("mse", "[1]"));
  CHECK(classifying_losses(default_registry()) == std::vector<std::string>{"bce", "bce_with_logits", "cross_entropy"});
}
