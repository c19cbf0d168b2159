// layer_norm: torch.nn.LayerNorm over the last axis. Each row's mean and biased variance are
// 16-lane float sums added in double (compute/lane_sum.hpp), the variance from the centred
// values (two passes over a row in cache), so a large mean does not cancel the variance. The
// forward keeps each row's statistics for the backward. The weight and bias gradients sum
// over rows inside column tiles fixed by D: bit-identical at any thread count.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "compute/lane_sum.hpp"
#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

using kernels::Lanes;
using kernels::lanes_total;
using kernels::kLanes;

// Columns per weight/bias-gradient tile (as linear's bias gradient).
constexpr int64_t kColumnTile = 64;

// A row's statistics, kept from forward for backward: mean = shift + offset, 1/std = rstd.
struct RowStats {
  float shift, offset, rstd;
};

// Σ ((x − shift) − offset)² over a row, in 16 float lanes added in double.
[[gnu::always_inline]] inline double centred_squares(const float* __restrict x, int64_t d, float shift, float offset) {
  Lanes acc = {};
  int64_t j = 0;
  for (; j + kLanes <= d; j += kLanes) {
    GRADFLOW_LOAD_LANES(xv, x + j);
    const Lanes c = (xv - shift) - offset;
    acc += c * c;
  }
  double total = lanes_total(acc);
  for (; j < d; ++j) {
    const double c = (x[j] - shift) - offset;
    total += c * c;
  }
  return total;
}

// x̂ = ((x − shift) − offset)·rstd: the row's mean is shift + offset, shift its first value.
// x − shift is exact for values near the mean (Sterbenz), and offset is small, so x̂ keeps its
// precision when the mean is large against the spread (a float mean would round by ulp(mean)).
// Then y = x̂·w + b (w, b null without affine).
GRADFLOW_CPU_DISPATCH void normalize_rows(const float* __restrict x, const float* __restrict w,
                                          const float* __restrict b, float* __restrict y, RowStats* __restrict stats,
                                          int64_t d, double eps, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    const float shift = xr[0];
    const auto offset = static_cast<float>(kernels::lane_sum(xr, d, shift) / static_cast<double>(d));
    const double var = centred_squares(xr, d, shift, offset) / static_cast<double>(d);
    const auto a = static_cast<float>(1.0 / std::sqrt(var + eps));
    stats[r] = {shift, offset, a};
    if (w) {
      for (int64_t j = 0; j < d; ++j) yr[j] = (((xr[j] - shift) - offset) * a) * w[j] + b[j];
    } else {
      for (int64_t j = 0; j < d; ++j) yr[j] = ((xr[j] - shift) - offset) * a;
    }
  }
}

// dx of rows [begin, end): with g' = g·w, dx = rstd·(g' − mean(g') − x̂·mean(g'·x̂)), the two
// means in 16 float lanes added in double; x̂ recomputed as the forward computed it.
GRADFLOW_CPU_DISPATCH void input_grad_rows(const float* __restrict g, const float* __restrict x,
                                           const float* __restrict w, const RowStats* __restrict stats,
                                           float* __restrict dx, int64_t d, int64_t begin, int64_t end) {
  const double inv_d = 1.0 / static_cast<double>(d);
  for (int64_t r = begin; r < end; ++r) {
    const float* gr = g + r * d;
    const float* xr = x + r * d;
    float* dxr = dx + r * d;
    const RowStats s = stats[r];
    Lanes acc = {}, acc_x = {};
    int64_t j = 0;
    for (; j + kLanes <= d; j += kLanes) {
      GRADFLOW_LOAD_LANES(gv, gr + j);
      GRADFLOW_LOAD_LANES(xv, xr + j);
      if (w) {
        GRADFLOW_LOAD_LANES(wv, w + j);
        gv *= wv;
      }
      acc += gv;
      acc_x += gv * (((xv - s.shift) - s.offset) * s.rstd);
    }
    double sum_g = lanes_total(acc), sum_gx = lanes_total(acc_x);
    for (; j < d; ++j) {
      const float gw = w ? gr[j] * w[j] : gr[j];
      sum_g += gw;
      sum_gx += static_cast<double>(gw) * (((xr[j] - s.shift) - s.offset) * s.rstd);
    }
    const auto mean_g = static_cast<float>(sum_g * inv_d);
    const auto mean_gx = static_cast<float>(sum_gx * inv_d);
    if (w) {
      for (int64_t k = 0; k < d; ++k)
        dxr[k] = s.rstd * ((gr[k] * w[k] - mean_g) - (((xr[k] - s.shift) - s.offset) * s.rstd) * mean_gx);
    } else {
      for (int64_t k = 0; k < d; ++k)
        dxr[k] = s.rstd * ((gr[k] - mean_g) - (((xr[k] - s.shift) - s.offset) * s.rstd) * mean_gx);
    }
  }
}

// dweight[j] = Σ_r g·x̂, dbias[j] = Σ_r g, for columns [begin, end), rows in order.
GRADFLOW_CPU_DISPATCH void affine_grad_columns(const float* __restrict g, const float* __restrict x,
                                               const RowStats* __restrict stats, float* __restrict dw,
                                               float* __restrict db, int64_t rows, int64_t d, int64_t begin,
                                               int64_t end) {
  for (int64_t j = begin; j < end; ++j) dw[j] = db[j] = 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    const RowStats s = stats[r];
    const float* gr = g + r * d;
    const float* xr = x + r * d;
    for (int64_t j = begin; j < end; ++j) {
      dw[j] += gr[j] * (((xr[j] - s.shift) - s.offset) * s.rstd);
      db[j] += gr[j];
    }
  }
}

class LayerNorm final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"layer_norm",
            OpKind::Layer,
            "normalises each vector over the last axis, then scales and shifts it (torch.nn.LayerNorm)",
            1,
            1,
            {bounded(attr("eps", AttrType::Float, AttrValue{1e-5}, "added to the variance"), 0.0, true),
             attr("elementwise_affine", AttrType::Bool, AttrValue{true},
                  "learn a scale (weight) and a shift (bias) per feature")}};
  }

  explicit LayerNorm(const Attributes& attrs)
      : eps_(attrs.get_float("eps")), affine_(attrs.get_bool("elementwise_affine")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "layer_norm");
    if (in.empty() || in.back() < 1)
      throw ShapeError("layer_norm normalises over the last axis: it expects a sample [..., D] with D >= 1, got " +
                       to_string(in));
    d_ = in.back();
    sample_size_ = numel(in);
    params_.clear();
    if (affine_) {
      params_.push_back({"weight", Tensor({d_}), Tensor({d_})});
      params_.push_back({"bias", Tensor({d_}), Tensor({d_})});
    }
    return in;
  }

  std::span<Parameter> parameters() override { return params_; }

  void init_parameters(Rng& /*rng*/) override {  // torch: weight 1, bias 0
    if (!affine_) return;
    params_[0].value.fill(1.0f);
    params_[1].value.zero();
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    const int64_t rows = x.size() / d_;
    output.resize(x.shape());
    stats_.resize(static_cast<size_t>(rows));
    const float* w = affine_ ? params_[0].value.data() : nullptr;
    const float* b = affine_ ? params_[1].value.data() : nullptr;
    for_rows(rows, [&](int64_t begin, int64_t end) {
      normalize_rows(x.data(), w, b, output.data(), stats_.data(), d_, eps_, begin, end);
    });
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    const Tensor& x = *inputs[0];
    const int64_t rows = x.size() / d_;
    const float* g = grad_output.data();
    if (Tensor* gx = grad_inputs[0]) {
      const float* w = affine_ ? params_[0].value.data() : nullptr;
      for_rows(rows, [&](int64_t begin, int64_t end) {
        input_grad_rows(g, x.data(), w, stats_.data(), gx->data(), d_, begin, end);
      });
    }
    if (!affine_) return;
    float* dw = params_[0].grad.data();
    float* db = params_[1].grad.data();
    kernels::for_tiles(d_, kColumnTile, [&](int64_t begin, int64_t end) {
      affine_grad_columns(g, x.data(), stats_.data(), dw, db, rows, d_, begin, end);
    });
  }

  double flops_per_sample() const override { return 8.0 * static_cast<double>(sample_size_); }

  bool export_onnx(OnnxNodeWriter& w) const override {
    Tensor ones({d_}), zeros({d_});
    if (w.opset() < 17)  // LayerNormalization entered the standard opset in 17; export names the node
      throw std::runtime_error(fmt::format("its ONNX form, LayerNormalization, needs opset 17 or later; "
                                           "--opset {} was asked",
                                           w.opset()));
    ones.fill(1.0f);
    const std::string scale = affine_ ? w.parameter(params_[0]) : w.constant("scale", ones);
    const std::string shift = affine_ ? w.parameter(params_[1]) : w.constant("shift", zeros);
    w.add_node("LayerNormalization", {w.inputs()[0], scale, shift}, {w.output()},
               {{"axis", int64_t{-1}}, {"epsilon", static_cast<float>(eps_)}});
    return true;
  }

 private:
  // Whole rows per tile, about kElementwiseGrain values each.
  template <class Body>
  void for_rows(int64_t rows, const Body& body) const {
    kernels::for_tiles(rows, std::max<int64_t>(1, kernels::kElementwiseGrain / d_), body);
  }

  double eps_;
  bool affine_;
  int64_t d_ = 0, sample_size_ = 0;
  std::vector<Parameter> params_;
  std::vector<RowStats> stats_;  // per row of the last forward: what backward uses (capacity kept)
};

}  // namespace

void register_layer_norm(Registrar& registrar) { registrar.add<LayerNorm>(); }

}  // namespace gradflow::ops
