// standardize: y = (x - mean) / max(std, eps) per feature, with mean and std (biased, as
// sklearn's StandardScaler) fitted once to the training data before the first step
// (DataFitter) and kept as the buffers `mean` and `std`: preprocessing that belongs to the
// model, so predict, the embedding API and the ONNX export (Sub, Div) apply it to raw inputs.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

// `axis` left out: the last axis, or the channels (axis 0) of an image [C, H, W].
constexpr int64_t kAxisByShape = std::numeric_limits<int64_t>::max();

class Standardize final : public Operator, public DataFitter, public OnnxExportable {
 public:
  static OpSchema schema() {
    AttrSpec axis = attr("axis", AttrType::Int, AttrValue{kAxisByShape},
                         "the feature axis of the sample, each of whose entries gets its own mean and std");
    axis.default_text = "-1; 0 for an image [C, H, W]";
    return {"standardize", OpKind::Layer,
            "(x - mean) / max(std, eps) per feature, mean and std fitted to the training set once before training",
            1, 1,
            {axis, bounded(attr("eps", AttrType::Float, AttrValue{1e-8}, "the smallest std divided by"), 0.0, true)}};
  }
  explicit Standardize(const Attributes& attrs) : axis_(attrs.get_int("axis")), eps_(attrs.get_float("eps")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& shape = single_input(input_shapes, "standardize");
    if (shape.empty()) throw ShapeError("standardize needs a sample with at least one axis, got a scalar");
    const auto rank = static_cast<int64_t>(shape.size());
    const int64_t axis = axis_ != kAxisByShape ? axis_ : rank == 3 ? 0 : -1;
    if (axis < -rank || axis >= rank)
      throw ShapeError(fmt::format("axis {} is outside a sample of shape {} (axes {} to {})", axis, to_string(shape),
                                   -rank, rank - 1));
    axis_index_ = axis < 0 ? axis + rank : axis;
    features_ = shape[static_cast<size_t>(axis_index_)];
    inner_ = 1;
    for (size_t a = static_cast<size_t>(axis_index_) + 1; a < shape.size(); ++a) inner_ *= shape[a];
    sample_rank_ = rank;
    buffers_ = {{"mean", Tensor({features_}), false}, {"std", Tensor({features_}), false}};
    buffers_[1].value.fill(1.0f);  // the identity until fitted
    divisor_.assign(static_cast<size_t>(features_), 1.0f);
    return shape;
  }

  std::span<Buffer> buffers() override { return buffers_; }
  double flops_per_sample() const override { return 2.0 * static_cast<double>(features_ * inner_); }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(x.shape());
    const float* mean = buffers_[0].value.data();
    for (int64_t f = 0; f < features_; ++f) divisor_[static_cast<size_t>(f)] = divisor(f);
    kernels::for_tiles(x.size(), kernels::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t f = feature_of(i);
        output[i] = (x[i] - mean[f]) / divisor_[static_cast<size_t>(f)];
      }
    });
  }

  void backward(std::span<const Tensor* const> /*inputs*/, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;
    kernels::for_tiles(grad_output.size(), kernels::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) (*gx)[i] = grad_output[i] / divisor_[static_cast<size_t>(feature_of(i))];
    });
  }

  // Chan's combination of each batch's count, mean and sum of squared deviations, in double:
  // the result does not depend on the batch size beyond rounding, and never on threads.
  void begin_fit() override {
    count_ = 0.0;
    mean_.assign(static_cast<size_t>(features_), 0.0);
    m2_.assign(static_cast<size_t>(features_), 0.0);
  }

  void fit_batch(const Tensor& input) override {
    const double n = static_cast<double>(input.size() / features_);
    std::vector<double> batch_mean(static_cast<size_t>(features_), 0.0), batch_m2(batch_mean);
    for (int64_t i = 0; i < input.size(); ++i) batch_mean[static_cast<size_t>(feature_of(i))] += input[i];
    for (double& m : batch_mean) m /= n;
    for (int64_t i = 0; i < input.size(); ++i) {
      const auto f = static_cast<size_t>(feature_of(i));
      const double d = input[i] - batch_mean[f];
      batch_m2[f] += d * d;
    }
    const double total = count_ + n;
    for (size_t f = 0; f < mean_.size(); ++f) {
      const double delta = batch_mean[f] - mean_[f];
      mean_[f] += delta * n / total;
      m2_[f] += batch_m2[f] + delta * delta * count_ * n / total;
    }
    count_ = total;
  }

  void end_fit() override {
    for (size_t f = 0; f < mean_.size(); ++f) {
      buffers_[0].value[static_cast<int64_t>(f)] = static_cast<float>(mean_[f]);
      buffers_[1].value[static_cast<int64_t>(f)] = static_cast<float>(std::sqrt(m2_[f] / count_));
    }
  }

  // Sub and Div by the buffers, shaped [F, 1, ...] to broadcast over the axes after the feature
  // axis (and over the batch and the axes before it).
  bool export_onnx(OnnxNodeWriter& w) const override {
    Shape shape{features_};
    for (int64_t a = axis_index_ + 1; a < sample_rank_; ++a) shape.push_back(1);
    Tensor mean(shape, buffers_[0].value.values());
    Tensor divisors(shape);
    for (int64_t f = 0; f < features_; ++f) divisors[f] = divisor(f);
    const std::string centred = w.unique_name("centred");
    w.add_node("Sub", {w.inputs()[0], w.constant("mean", mean)}, {centred});
    w.add_node("Div", {centred, w.constant("divisor", divisors)}, {w.output()});
    return true;
  }

 private:
  int64_t feature_of(int64_t i) const { return (i / inner_) % features_; }

  float divisor(int64_t f) const { return std::max(buffers_[1].value[f], static_cast<float>(eps_)); }

  int64_t axis_;
  double eps_;
  int64_t axis_index_ = 0, features_ = 1, inner_ = 1, sample_rank_ = 1;
  std::vector<Buffer> buffers_;
  std::vector<float> divisor_;  // max(std, eps) per feature, from the buffers at each forward
  double count_ = 0.0;
  std::vector<double> mean_, m2_;
};

}  // namespace

void register_standardize(Registrar& registrar) { registrar.add<Standardize>(); }

}  // namespace gradflow::ops
