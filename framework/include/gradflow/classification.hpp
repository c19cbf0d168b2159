// Class predictions from a classifying loss's prediction (OpSchema::class_rule): probabilities per
// class, the predicted class, the true class from a target, and a confusion matrix.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gradflow/model.hpp"
#include "gradflow/operator.hpp"
#include "gradflow/tensor.hpp"

namespace gradflow {

// Probabilities per class of each sample of `prediction` ([batch, ...]): [batch, classes].
// Softmax: softmax of the logits; Sigmoid: [1 - sigmoid(x), sigmoid(x)]; Probability: [1 - p, p].
Tensor class_probabilities(ClassRule rule, const Tensor& prediction);
// The predicted class of each sample: the largest logit (the first of ties), or class 1 when
// sigmoid(x) >= 0.5 (x >= 0) or p >= 0.5, as the losses count accuracy.
std::vector<int64_t> predicted_classes(ClassRule rule, const Tensor& prediction);
// The true class of each sample of `target` for `classes` classes: a class index (one value per
// sample), the argmax of a probability vector ([C]), or under a binary rule class 1 when >= 0.5.
// Throws std::out_of_range for an index outside [0, classes).
std::vector<int64_t> target_classes(ClassRule rule, const Tensor& target, int64_t classes);

// The loss of a model that classifies: the first loss objective() sums whose rule gives its
// prediction classes (Model::classifier()).
struct Classifier {
  const ComputeNode* node = nullptr;
  ClassRule rule = ClassRule::None;
  int64_t classes = 0;
  int prediction = -1;  // value ids
  int target = -1;
};
std::optional<Classifier> find_classifier(const Model& model);
// The name of each class: the graph's `labels`, or "0", "1", ...
std::vector<std::string> class_names(const GraphSpec& spec, int64_t classes);

// Counts of (true class, predicted class) pairs.
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t classes);
  void add(int64_t truth, int64_t predicted);
  void add(std::span<const int64_t> truth, std::span<const int64_t> predicted);

  int64_t classes() const { return classes_; }
  int64_t count(int64_t truth, int64_t predicted) const;
  int64_t samples() const;
  int64_t correct() const;                    // the diagonal
  int64_t support(int64_t truth) const;       // samples of that class: its row
  int64_t predicted(int64_t predicted) const;  // samples predicted as it: its column
  // Of the samples predicted c, the fraction that are c. A class never predicted has
  // precision 0 (sklearn's zero_division=0), as a class with no samples has recall 0.
  double precision(int64_t c) const;
  double recall(int64_t c) const;  // of the samples of class c, the fraction predicted c

 private:
  int64_t classes_;
  std::vector<int64_t> counts_;  // row-major [truth][predicted]
};

}  // namespace gradflow
