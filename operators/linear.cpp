// linear: y = x·Wᵀ + b with W [units, in] and b [units], torch.nn.Linear's layout, so a
// checkpoint's "<node>.weight" loads straight into PyTorch.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "init.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

// Units per bias-gradient tile. Each unit's sum runs over all rows in order inside one tile,
// so the split (over units, never over rows) cannot change a single bit of the result.
constexpr int64_t kBiasUnitTile = 64;

// y[r, :] += b for rows [begin, end) of a [rows, units] matrix. Compiled per instruction set
// (GRADFLOW_CPU_DISPATCH, kernels.hpp), as is sum_rows.
GRADFLOW_CPU_DISPATCH void add_rows(const float* __restrict b, float* __restrict y, int64_t units, int64_t begin,
                                    int64_t end) {
  for (int64_t r = begin; r < end; ++r)
    for (int64_t u = 0; u < units; ++u) y[r * units + u] += b[u];
}

// sum[u] = the sum over all rows of g[r, u], for units [begin, end); rows outer: contiguous
// reads, and the same order of additions for every unit.
GRADFLOW_CPU_DISPATCH void sum_rows(const float* __restrict g, float* __restrict sum, int64_t rows, int64_t units,
                                    int64_t begin, int64_t end) {
  for (int64_t u = begin; u < end; ++u) sum[u] = 0.0f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t u = begin; u < end; ++u) sum[u] += g[r * units + u];
}

class Linear final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"linear",
            OpKind::Layer,
            "fully connected layer y = x·Wᵀ + b over the last axis (torch.nn.Linear)",
            1,
            1,
            {bounded(attr("units", AttrType::Int, std::nullopt, "number of output features"),
                     1.0, false),
             attr("bias", AttrType::Bool, AttrValue{true}, "learn an additive bias"),
             init_attr()}};
  }

  explicit Linear(const Attributes& attrs)
      : units_(attrs.get_int("units")),
        has_bias_(attrs.get_bool("bias")),
        init_(attrs.get_string("init")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "linear");
    // A [C, H, W] image (or anything of rank >= 3) is refused rather than mapped over its last
    // axis: after conv2d or pooling that is almost always a missing flatten, not the intent.
    if (in.size() >= 3)
      throw ShapeError("linear applies over the last axis of a sample [in] or [T, in], got " + to_string(in) +
                       "; to feed it a [C, H, W] image, put a flatten node before it");
    if (in.empty() || in.back() < 1)
      throw ShapeError("linear expects an input of shape [..., in] with in >= 1, got " +
                       to_string(in));
    in_ = in.back();
    params_.clear();
    params_.push_back({"weight", Tensor({units_, in_}), Tensor({units_, in_})});
    if (has_bias_) params_.push_back({"bias", Tensor({units_}), Tensor({units_})});
    Shape out = in;
    out.back() = units_;
    return out;
  }

  std::span<Parameter> parameters() override { return params_; }

  void init_parameters(Rng& rng) override {
    init_weights(init_, static_cast<double>(in_), static_cast<double>(units_), params_[0].value,
                 has_bias_ ? &params_[1].value : nullptr, rng);
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(x.shape(), -1, units_);
    const int64_t rows = x.rows();
    kernels::gemm(false, true, rows, units_, in_, 1.0f, x.data(), params_[0].value.data(), 0.0f,
                  output.data());
    if (has_bias_) add_bias(output, rows);
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    const Tensor& x = *inputs[0];
    const int64_t rows = x.rows();
    const float* g = grad_output.data();
    if (Tensor* gx = grad_inputs[0]) {
      kernels::gemm(false, false, rows, in_, units_, 1.0f, g, params_[0].value.data(), 0.0f,
                    gx->data());
    }
    // dW [units, in] = gᵀ [units, rows] · x [rows, in]
    kernels::gemm(true, false, units_, in_, rows, 1.0f, g, x.data(), 0.0f,
                  params_[0].grad.data());
    if (has_bias_) bias_grad(grad_output, rows);
  }

  double flops_per_sample() const override {
    return 2.0 * static_cast<double>(in_) * static_cast<double>(units_);
  }

  // One sample axis: Gemm with transB, as torch exports nn.Linear. More axes: Gemm takes only
  // matrices, so MatMul against the transposed weight (the initializer keeps the checkpoint's
  // [units, in] layout and name) and an Add of the bias.
  bool export_onnx(OnnxNodeWriter& w) const override {
    const std::string weight = w.parameter(params_[0]);
    const std::string bias = has_bias_ ? w.parameter(params_[1]) : std::string();
    if (w.input_shapes()[0].size() == 1) {
      std::vector<std::string> inputs{w.inputs()[0], weight};
      if (has_bias_) inputs.push_back(bias);
      w.add_node("Gemm", inputs, {w.output()}, {{"transB", int64_t{1}}});
      return true;
    }
    const std::string transposed = w.unique_name("weight_t");
    w.add_node("Transpose", {weight}, {transposed}, {{"perm", std::vector<int64_t>{1, 0}}});
    if (!has_bias_) {
      w.add_node("MatMul", {w.inputs()[0], transposed}, {w.output()});
      return true;
    }
    const std::string product = w.unique_name("matmul");
    w.add_node("MatMul", {w.inputs()[0], transposed}, {product});
    w.add_node("Add", {product, bias}, {w.output()});
    return true;
  }

 private:
  void add_bias(Tensor& output, int64_t rows) const {
    const float* b = params_[1].value.data();
    float* y = output.data();
    const int64_t grain = std::max<int64_t>(1, kernels::kElementwiseGrain / units_);
    kernels::for_tiles(rows, grain, [&](int64_t begin, int64_t end) { add_rows(b, y, units_, begin, end); });
  }

  void bias_grad(const Tensor& grad_output, int64_t rows) {
    const float* g = grad_output.data();
    float* gb = params_[1].grad.data();
    kernels::for_tiles(units_, kBiasUnitTile,
                       [&](int64_t begin, int64_t end) { sum_rows(g, gb, rows, units_, begin, end); });
  }

  int64_t units_;
  bool has_bias_;
  std::string init_;
  int64_t in_ = 0;
  std::vector<Parameter> params_;
};

}  // namespace

void register_linear(Registrar& registrar) { registrar.add<Linear>(); }

}  // namespace gradflow::ops
