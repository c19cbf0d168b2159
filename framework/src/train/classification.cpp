// Class predictions from a classifying loss's prediction; the rules mirror how the losses count
// accuracy, so that a confusion matrix's diagonal is the accuracy eval reports.
#include "gradflow/classification.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gradflow {

namespace {

int64_t per_sample(const Tensor& t) { return t.rank() == 0 || t.dim(0) == 0 ? 0 : t.size() / t.dim(0); }

int64_t argmax(const float* x, int64_t n) { return std::max_element(x, x + n) - x; }

// Softmax of one row in double, shifted by its maximum so that no exponent overflows.
void softmax_row(const float* x, int64_t c, float* out) {
  const double max = *std::max_element(x, x + c);
  double sum = 0.0;
  for (int64_t j = 0; j < c; ++j) sum += std::exp(static_cast<double>(x[j]) - max);
  for (int64_t j = 0; j < c; ++j) out[j] = static_cast<float>(std::exp(static_cast<double>(x[j]) - max) / sum);
}

double probability_of_one(ClassRule rule, float value) {
  if (rule == ClassRule::Probability) return value;
  const double e = std::exp(-std::abs(static_cast<double>(value)));  // stable for either sign
  return value >= 0.0f ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

void require_binary(const Tensor& t) {
  if (per_sample(t) != 1)
    throw std::invalid_argument(
        fmt::format("a binary class rule needs one value per sample, got {}", to_string(t.shape())));
}

}  // namespace

Tensor class_probabilities(ClassRule rule, const Tensor& prediction) {
  const int64_t rows = prediction.rank() == 0 ? 0 : prediction.dim(0);
  const int64_t n = per_sample(prediction);
  if (rule == ClassRule::Softmax) {
    Tensor out({rows, n});
    for (int64_t r = 0; r < rows; ++r) softmax_row(prediction.data() + r * n, n, out.data() + r * n);
    return out;
  }
  if (rule == ClassRule::None) throw std::invalid_argument("the loss does not classify its prediction");
  require_binary(prediction);
  Tensor out({rows, 2});
  for (int64_t r = 0; r < rows; ++r) {
    const double p = probability_of_one(rule, prediction[r]);
    out[2 * r] = static_cast<float>(1.0 - p);
    out[2 * r + 1] = static_cast<float>(p);
  }
  return out;
}

std::vector<int64_t> predicted_classes(ClassRule rule, const Tensor& prediction) {
  const int64_t rows = prediction.rank() == 0 ? 0 : prediction.dim(0);
  const int64_t n = per_sample(prediction);
  std::vector<int64_t> classes(static_cast<size_t>(rows));
  if (rule == ClassRule::None) throw std::invalid_argument("the loss does not classify its prediction");
  if (rule != ClassRule::Softmax) require_binary(prediction);
  const float threshold = rule == ClassRule::Sigmoid ? 0.0f : 0.5f;  // sigmoid(x) >= 0.5 <=> x >= 0
  for (int64_t r = 0; r < rows; ++r)
    classes[static_cast<size_t>(r)] =
        rule == ClassRule::Softmax ? argmax(prediction.data() + r * n, n) : (prediction[r] >= threshold ? 1 : 0);
  return classes;
}

std::vector<int64_t> target_classes(ClassRule rule, const Tensor& target, int64_t classes) {
  const int64_t rows = target.rank() == 0 ? 0 : target.dim(0);
  const int64_t n = per_sample(target);
  std::vector<int64_t> result(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    int64_t c = 0;
    if (rule != ClassRule::Softmax) {
      c = target[r] >= 0.5f ? 1 : 0;
    } else if (n == classes && n > 1) {
      c = argmax(target.data() + r * n, n);
    } else {
      const float v = target[r * n];
      if (!(v >= 0.0f && v < static_cast<float>(classes)) || v != std::floor(v))
        throw std::out_of_range(fmt::format("target {} is not a class index in [0, {})", v, classes));
      c = static_cast<int64_t>(v);
    }
    result[static_cast<size_t>(r)] = c;
  }
  return result;
}

std::optional<Classifier> find_classifier(const Model& model) {
  const int n = model.classifier();
  if (n < 0) return std::nullopt;
  const ComputeNode& node = model.nodes()[static_cast<size_t>(n)];
  const ClassRule rule = node.class_rule;
  const int prediction = node.inputs[0];
  return Classifier{&node, rule, class_count(rule, model.values()[static_cast<size_t>(prediction)].sample_shape),
                    prediction, node.inputs[1]};
}

std::vector<std::string> class_names(const GraphSpec& spec, int64_t classes) {
  if (!spec.labels.empty()) return spec.labels;
  std::vector<std::string> names;
  for (int64_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return names;
}

ConfusionMatrix::ConfusionMatrix(int64_t classes)
    : classes_(classes), counts_(static_cast<size_t>(classes * classes), 0) {}

void ConfusionMatrix::add(int64_t truth, int64_t predicted) {
  if (truth < 0 || truth >= classes_ || predicted < 0 || predicted >= classes_)
    throw std::out_of_range(fmt::format("class pair ({}, {}) is outside [0, {})", truth, predicted, classes_));
  ++counts_[static_cast<size_t>(truth * classes_ + predicted)];
}

void ConfusionMatrix::add(std::span<const int64_t> truth, std::span<const int64_t> predicted) {
  if (truth.size() != predicted.size()) throw std::invalid_argument("confusion matrix: unequal class counts");
  for (size_t i = 0; i < truth.size(); ++i) add(truth[i], predicted[i]);
}

int64_t ConfusionMatrix::count(int64_t truth, int64_t predicted) const {
  return counts_[static_cast<size_t>(truth * classes_ + predicted)];
}

int64_t ConfusionMatrix::samples() const {
  int64_t total = 0;
  for (int64_t n : counts_) total += n;
  return total;
}

int64_t ConfusionMatrix::correct() const {
  int64_t total = 0;
  for (int64_t c = 0; c < classes_; ++c) total += count(c, c);
  return total;
}

int64_t ConfusionMatrix::support(int64_t truth) const {
  int64_t total = 0;
  for (int64_t p = 0; p < classes_; ++p) total += count(truth, p);
  return total;
}

int64_t ConfusionMatrix::predicted(int64_t predicted) const {
  int64_t total = 0;
  for (int64_t t = 0; t < classes_; ++t) total += count(t, predicted);
  return total;
}

namespace {
double fraction(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}
}  // namespace

double ConfusionMatrix::precision(int64_t c) const { return fraction(count(c, c), predicted(c)); }
double ConfusionMatrix::recall(int64_t c) const { return fraction(count(c, c), support(c)); }

}  // namespace gradflow
