// batch_norm: torch.nn.BatchNorm1d/2d over axis 0 of the sample (the channels). Training
// normalises each channel with the batch's mean and biased variance and moves the running
// statistics (unbiased variance) by `momentum`; evaluation normalises with the running ones.
// Each channel's sums run in one task, in a fixed order, in double: bit-identical at any
// thread count.
#include <tbb/parallel_for.h>

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "compute/lane_sum.hpp"
#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

// Per-plane kernels over one contiguous [spatial] run of a channel, compiled per instruction
// set; the sums are compute/lane_sum.hpp's (vectorised, fixed order).
using kernels::Lanes;
using kernels::lanes_total;
using kernels::kLanes;

// Σ g and Σ g·(x - shift) over n values, added onto sum_g and sum_gx.
// Σ (x - shift), or Σ (x - shift)² when `square`, of one plane.
GRADFLOW_CPU_DISPATCH double plane_sum(const float* __restrict x, int64_t n, float shift, bool square) {
  return kernels::lane_sum(x, n, shift, square);
}

GRADFLOW_CPU_DISPATCH void lane_sums_of_products(const float* __restrict g, const float* __restrict x,
                                                        int64_t n, float shift, double& sum_g, double& sum_gx) {
  Lanes acc_g = {}, acc_gx = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    GRADFLOW_LOAD_LANES(gv, g + i);
    GRADFLOW_LOAD_LANES(xv, x + i);
    acc_g += gv;
    acc_gx += gv * (xv - shift);
  }
  sum_g += lanes_total(acc_g);
  sum_gx += lanes_total(acc_gx);
  for (; i < n; ++i) {
    sum_g += g[i];
    sum_gx += static_cast<double>(g[i]) * (static_cast<double>(x[i]) - shift);
  }
}


// y = a·x + b (the forward), or y = a·g + c·(x - mean) + b (the input gradient).
GRADFLOW_CPU_DISPATCH void plane_affine(const float* __restrict x, int64_t n, float a, float b, float* __restrict y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a * x[i] + b;
}

GRADFLOW_CPU_DISPATCH void plane_input_grad(const float* __restrict g, const float* __restrict x, int64_t n, float a,
                                            float c, float mean, float b, float* __restrict gx) {
  for (int64_t i = 0; i < n; ++i) gx[i] = a * g[i] + c * (x[i] - mean) + b;
}

class BatchNorm final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"batch_norm",
            OpKind::Layer,
            "normalises each channel (axis 0 of the sample) over the batch (torch.nn.BatchNorm1d/2d)",
            1,
            1,
            {bounded_above(bounded(attr("momentum", AttrType::Float, AttrValue{0.1}, "weight of the batch in the "
                                        "running statistics"),
                                   0.0, false),
                           1.0, false),
             bounded(attr("eps", AttrType::Float, AttrValue{1e-5}, "added to the variance"), 0.0, true),
             attr("affine", AttrType::Bool, AttrValue{true}, "learn a scale (weight) and a shift (bias) per channel")}};
  }

  explicit BatchNorm(const Attributes& attrs)
      : momentum_(attrs.get_float("momentum")), eps_(attrs.get_float("eps")), affine_(attrs.get_bool("affine")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "batch_norm");
    if (in.empty()) throw ShapeError("batch_norm expects a sample [C] or [C, ...] (channels first), got []");
    channels_ = in[0];
    spatial_ = numel(in) / channels_;
    params_.clear();
    if (affine_) {
      params_.push_back({"weight", Tensor({channels_}), Tensor({channels_})});
      params_.push_back({"bias", Tensor({channels_}), Tensor({channels_})});
    }
    buffers_ = {{"running_mean", Tensor({channels_}), false},
                {"running_var", Tensor({channels_}), false},
                {"num_batches_tracked", Tensor(Shape{}), true}};
    buffers_[0].value.zero();
    buffers_[1].value.fill(1.0f);
    buffers_[2].value.zero();
    mean_.resize({channels_});
    invstd_.resize({channels_});
    return in;
  }

  std::span<Parameter> parameters() override { return params_; }
  std::span<Buffer> buffers() override { return buffers_; }

  void init_parameters(Rng& /*rng*/) override {  // torch: weight 1, bias 0
    if (!affine_) return;
    params_[0].value.fill(1.0f);
    params_[1].value.zero();
  }

  void begin_pass(const RunContext& context) override {
    training_ = context.training;
    node_ = context.node;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    const int64_t batch = x.shape()[0];
    output.resize(x.shape());
    if (training_) {
      if (batch * spatial_ < 2)
        throw std::runtime_error(fmt::format("batch_norm '{}': training needs more than one value per channel, got a "
                                             "batch of {} sample of shape [{}]",
                                             node_, batch, channels_));
      batch_statistics(x, batch);
    } else {
      running_statistics();
    }
    tbb::parallel_for(int64_t{0}, channels_, [&](int64_t c) {
      const float scale = invstd_[c] * weight(c);
      const float shift = bias(c) - mean_[c] * scale;
      for_planes(batch, c, [&](int64_t base) { plane_affine(x.data() + base, spatial_, scale, shift, output.data() + base); });
    });
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    const Tensor& x = *inputs[0];
    const int64_t batch = x.shape()[0];
    const double count = static_cast<double>(batch * spatial_);
    const float* g = grad_output.data();
    tbb::parallel_for(int64_t{0}, channels_, [&](int64_t c) {
      const float mean = mean_[c];
      const double invstd = invstd_[c];
      double sum_g = 0.0, sum_g_centered = 0.0;
      for_planes(batch, c, [&](int64_t base) { lane_sums_of_products(g + base, x.data() + base, spatial_, mean, sum_g, sum_g_centered); });
      const double sum_g_xhat = sum_g_centered * invstd;
      if (affine_) {
        params_[0].grad[c] = static_cast<float>(sum_g_xhat);
        params_[1].grad[c] = static_cast<float>(sum_g);
      }
      if (!grad_inputs[0]) return;
      float* gx = grad_inputs[0]->data();  // sized before the channels run
      const double k = weight(c) * invstd;
      // Training: gx = k·(g - mean(g) - xhat·mean(g·xhat)); evaluation: the statistics are
      // constants, gx = k·g.
      const double mean_g = training_ ? sum_g / count : 0.0;
      const double mean_g_xhat = training_ ? sum_g_xhat / count : 0.0;
      const auto a = static_cast<float>(k);
      const auto cx = static_cast<float>(-k * mean_g_xhat * invstd);
      const auto b = static_cast<float>(-k * mean_g);
      for_planes(batch, c, [&](int64_t base) { plane_input_grad(g + base, x.data() + base, spatial_, a, cx, mean, b, gx + base); });
    });
  }

  double flops_per_sample() const override { return 4.0 * static_cast<double>(channels_ * spatial_); }

  // Evaluation mode: ONNX BatchNormalization with the running statistics (N x C x ... input,
  // channels on axis 1 as ours on the sample's axis 0); without affine, scale 1 and shift 0.
  bool export_onnx(OnnxNodeWriter& w) const override {
    Tensor ones({channels_}), zeros({channels_});
    ones.fill(1.0f);
    const std::string scale = affine_ ? w.parameter(params_[0]) : w.constant("scale", ones);
    const std::string shift = affine_ ? w.parameter(params_[1]) : w.constant("shift", zeros);
    w.add_node("BatchNormalization",
               {w.inputs()[0], scale, shift, w.initializer(buffers_[0].name, buffers_[0].value),
                w.initializer(buffers_[1].name, buffers_[1].value)},
               {w.output()}, {{"epsilon", static_cast<float>(eps_)}});
    return true;
  }

 private:
  float weight(int64_t c) const { return affine_ ? params_[0].value[c] : 1.0f; }
  float bias(int64_t c) const { return affine_ ? params_[1].value[c] : 0.0f; }

  // Calls f(base) with the offset of each sample's plane of channel c, in sample order.
  template <class F>
  void for_planes(int64_t batch, int64_t c, F&& f) const {
    for (int64_t n = 0; n < batch; ++n) f((n * channels_ + c) * spatial_);
  }

  // The batch's mean and biased variance (normalisation) per channel; the running mean and
  // unbiased variance move toward them, as torch's do.
  void batch_statistics(const Tensor& x, int64_t batch) {
    const double count = static_cast<double>(batch * spatial_);
    Tensor& running_mean = buffers_[0].value;
    Tensor& running_var = buffers_[1].value;
    tbb::parallel_for(int64_t{0}, channels_, [&](int64_t c) {
      double sum = 0.0;
      for_planes(batch, c, [&](int64_t base) { sum += plane_sum(x.data() + base, spatial_, 0.0f, false); });
      const auto mean = static_cast<float>(sum / count);
      double squares = 0.0;
      for_planes(batch, c, [&](int64_t base) { squares += plane_sum(x.data() + base, spatial_, mean, true); });
      const double var = squares / count;
      mean_[c] = mean;
      invstd_[c] = static_cast<float>(1.0 / std::sqrt(var + eps_));
      running_mean[c] = static_cast<float>((1.0 - momentum_) * running_mean[c] + momentum_ * mean);
      running_var[c] = static_cast<float>((1.0 - momentum_) * running_var[c] + momentum_ * squares / (count - 1.0));
    });
    buffers_[2].value[0] += 1.0f;
  }

  void running_statistics() {
    for (int64_t c = 0; c < channels_; ++c) {
      mean_[c] = buffers_[0].value[c];
      invstd_[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(buffers_[1].value[c]) + eps_));
    }
  }

  double momentum_, eps_;
  bool affine_;
  int64_t channels_ = 0, spatial_ = 1;
  std::vector<Parameter> params_;
  std::vector<Buffer> buffers_;  // running_mean, running_var, num_batches_tracked
  Tensor mean_, invstd_;         // of the last forward, per channel: what backward uses
  bool training_ = false;
  std::string node_;
};

}  // namespace

void register_batch_norm(Registrar& registrar) { registrar.add<BatchNorm>(); }

}  // namespace gradflow::ops
