// multihead_attention: self-attention on x [T, E] as torch.nn.MultiheadAttention(E, num_heads,
// bias, dropout, batch_first=True)(x, x, x, attn_mask=causal mask, need_weights=False), with
// torch's parameter names and layouts, so a checkpoint loads into the torch module. The two
// projections are gemms over the whole batch; the attention itself is one fused kernel
// (compute/attention.hpp) that keeps only each row's log-sum-exp between forward and backward.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "compute/attention.hpp"
#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "init.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

class MultiheadAttention final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"multihead_attention",
            OpKind::Layer,
            "multi-head self-attention over [T, E], causal or not (torch.nn.MultiheadAttention, batch_first)",
            1,
            1,
            {bounded(attr("num_heads", AttrType::Int, std::nullopt, "number of heads; must divide E"), 1.0, false),
             attr("causal", AttrType::Bool, AttrValue{false}, "position i attends to positions <= i only"),
             attr("bias", AttrType::Bool, AttrValue{true}, "learn the projections' biases"),
             bounded_above(bounded(attr("dropout", AttrType::Float, AttrValue{0.0},
                                        "dropout on the attention probabilities in training"),
                                   0.0, false),
                           1.0, true)}};
  }

  explicit MultiheadAttention(const Attributes& attrs)
      : heads_(attrs.get_int("num_heads")),
        causal_(attrs.get_bool("causal")),
        has_bias_(attrs.get_bool("bias")),
        dropout_(attrs.get_float("dropout")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "multihead_attention");
    if (in.size() != 2 || in[0] < 1 || in[1] < 1)
      throw ShapeError("multihead_attention expects an input of shape [T, E] (one vector per position), got " +
                       to_string(in));
    seq_ = in[0];
    embed_ = in[1];
    if (embed_ % heads_ != 0)
      throw ShapeError("multihead_attention: the embedding dimension E = " + std::to_string(embed_) +
                       " is not divisible by num_heads = " + std::to_string(heads_));
    params_.clear();
    params_.push_back({"in_proj_weight", Tensor({3 * embed_, embed_}), Tensor({3 * embed_, embed_})});
    if (has_bias_) params_.push_back({"in_proj_bias", Tensor({3 * embed_}), Tensor({3 * embed_})});
    params_.push_back({"out_proj.weight", Tensor({embed_, embed_}), Tensor({embed_, embed_})});
    if (has_bias_) params_.push_back({"out_proj.bias", Tensor({embed_}), Tensor({embed_})});
    return in;
  }

  std::span<Parameter> parameters() override { return params_; }

  // torch's _reset_parameters: xavier_uniform_ on in_proj_weight (fans E and 3E), zero
  // biases; out_proj.weight keeps nn.Linear's kaiming_uniform_(a=√5), U(±1/√E).
  void init_parameters(Rng& rng) override {
    const auto e = static_cast<double>(embed_);
    init_weights("xavier_uniform", e, 3.0 * e, in_weight().value, has_bias_ ? &params_[1].value : nullptr, rng);
    fill_uniform(out_weight().value, rng, -1.0 / std::sqrt(e), 1.0 / std::sqrt(e));
    if (has_bias_) params_[3].value.zero();
  }

  void begin_pass(const RunContext& context) override {
    drop_.active = context.training && dropout_ > 0.0;
    drop_.p = dropout_;
    drop_.key = context.random_key();
    drop_.first_sample = context.first_sample;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    const kernels::AttentionShape s = core_shape(x.dim(0));
    const int64_t rows = s.batch * seq_, e = embed_;
    qkv_.resize({rows, 3 * e});
    ctx_.resize({rows, e});
    lse_.resize({s.batch * heads_ * seq_});
    kernels::gemm(false, true, rows, 3 * e, e, 1.0f, x.data(), in_weight().value.data(), 0.0f, qkv_.data());
    if (has_bias_) kernels::add_bias_rows(params_[1].value.data(), qkv_.data(), rows, 3 * e);
    core_.forward(s, drop_, qkv_.data(), ctx_.data(), lse_.data(), nullptr);
    output.resize(x.shape());
    kernels::gemm(false, true, rows, e, e, 1.0f, ctx_.data(), out_weight().value.data(), 0.0f, output.data());
    if (has_bias_) kernels::add_bias_rows(params_[3].value.data(), output.data(), rows, e);
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    const Tensor& x = *inputs[0];
    const kernels::AttentionShape s = core_shape(x.dim(0));
    const int64_t rows = s.batch * seq_, e = embed_;
    const float* g = grad_output.data();
    dctx_.resize({rows, e});
    dqkv_.resize({rows, 3 * e});
    // Out-projection: dctx = g·Wo, dWo = gᵀ·ctx, dbo = Σ g.
    kernels::gemm(false, false, rows, e, e, 1.0f, g, out_weight().value.data(), 0.0f, dctx_.data());
    kernels::gemm(true, false, e, e, rows, 1.0f, g, ctx_.data(), 0.0f, out_weight().grad.data());
    if (has_bias_) kernels::sum_columns(g, rows, e, params_[3].grad.data());
    core_.backward(s, drop_, qkv_.data(), ctx_.data(), lse_.data(), nullptr, dctx_.data(), dqkv_.data());
    // In-projection: dx = dqkv·Win, dWin = dqkvᵀ·x, dbin = Σ dqkv.
    if (Tensor* gx = grad_inputs[0]) {
      kernels::gemm(false, false, rows, e, 3 * e, 1.0f, dqkv_.data(), in_weight().value.data(), 0.0f, gx->data());
    }
    kernels::gemm(true, false, 3 * e, e, rows, 1.0f, dqkv_.data(), x.data(), 0.0f, in_weight().grad.data());
    if (has_bias_) kernels::sum_columns(dqkv_.data(), rows, 3 * e, params_[1].grad.data());
  }

  double flops_per_sample() const override {
    const auto t = static_cast<double>(seq_), e = static_cast<double>(embed_);
    return 2.0 * (4.0 * t * e * e + core_shape(1).macs_per_sample());
  }

  bool export_onnx(OnnxNodeWriter& w) const override;

 private:
  kernels::AttentionShape core_shape(int64_t batch) const {
    return {batch, seq_, heads_, embed_ / heads_, causal_};
  }
  Parameter& in_weight() { return params_[0]; }
  Parameter& out_weight() { return params_[has_bias_ ? 2 : 1]; }
  const Parameter& in_weight() const { return params_[0]; }
  const Parameter& out_weight() const { return params_[has_bias_ ? 2 : 1]; }

  // y = x·Wᵀ (+ b) for a [N, T, in] value: MatMul against the transposed initializer.
  std::string project(OnnxNodeWriter& w, const std::string& x, const Parameter& weight, const Parameter* bias,
                      const std::string& hint) const;

  int64_t heads_;
  bool causal_;
  bool has_bias_;
  double dropout_;
  int64_t seq_ = 0, embed_ = 0;
  std::vector<Parameter> params_;
  kernels::AttentionDropout drop_;
  kernels::AttentionCore core_;
  Tensor qkv_, ctx_, lse_;  // the forward's, for the backward
  Tensor dctx_, dqkv_;
};

std::string MultiheadAttention::project(OnnxNodeWriter& w, const std::string& x, const Parameter& weight,
                                        const Parameter* bias, const std::string& hint) const {
  const std::string transposed = w.unique_name(hint + "_weight_t");
  w.add_node("Transpose", {w.parameter(weight)}, {transposed}, {{"perm", std::vector<int64_t>{1, 0}}});
  const std::string product = w.unique_name(hint);
  w.add_node("MatMul", {x, transposed}, {product});
  if (!bias) return product;
  const std::string sum = w.unique_name(hint + "_bias");
  w.add_node("Add", {product, w.parameter(*bias)}, {sum});
  return sum;
}

// Standard opset-17 nodes (ONNX has no fused attention there): the in-projection, Split into
// q, k, v, Reshape/Transpose into heads [N, H, T, d], q scaled by 1/√d as torch does, MatMul
// with kᵀ, the causal mask added as a constant (-inf above the diagonal gives probability 0 in
// Softmax, as in torch), Softmax, MatMul with v, back to [N, T, E], the out-projection.
bool MultiheadAttention::export_onnx(OnnxNodeWriter& w) const {
  const int64_t d = embed_ / heads_;
  const std::string qkv =
      project(w, w.inputs()[0], in_weight(), has_bias_ ? &params_[1] : nullptr, "in_proj");
  const std::string parts[3] = {w.unique_name("q"), w.unique_name("k"), w.unique_name("v")};
  w.add_node("Split", {qkv, w.int64_constant("split", {embed_, embed_, embed_}, {3})}, {parts[0], parts[1], parts[2]},
             {{"axis", int64_t{2}}});
  const std::string heads_shape = w.int64_constant("heads_shape", {0, 0, heads_, d}, {4});
  std::string split[3];
  const std::vector<int64_t> perms[3] = {{0, 2, 1, 3}, {0, 2, 3, 1}, {0, 2, 1, 3}};  // q, kᵀ, v
  for (int i = 0; i < 3; ++i) {
    const std::string reshaped = w.unique_name("heads");
    w.add_node("Reshape", {parts[i], heads_shape}, {reshaped});
    split[i] = w.unique_name("heads_t");
    w.add_node("Transpose", {reshaped}, {split[i]}, {{"perm", perms[i]}});
  }
  Tensor scale({1});
  scale[0] = 1.0f / std::sqrt(static_cast<float>(d));
  const std::string q = w.unique_name("q_scaled");
  w.add_node("Mul", {split[0], w.constant("scale", scale)}, {q});
  std::string scores = w.unique_name("scores");
  w.add_node("MatMul", {q, split[1]}, {scores});
  if (causal_) {
    Tensor mask({seq_, seq_});
    for (int64_t i = 0; i < seq_; ++i)
      for (int64_t j = 0; j < seq_; ++j) mask[i * seq_ + j] = j > i ? -std::numeric_limits<float>::infinity() : 0.0f;
    const std::string masked = w.unique_name("masked");
    w.add_node("Add", {scores, w.constant("causal_mask", mask)}, {masked});
    scores = masked;
  }
  const std::string probs = w.unique_name("probs");
  w.add_node("Softmax", {scores}, {probs}, {{"axis", int64_t{-1}}});
  const std::string weighted = w.unique_name("weighted");
  w.add_node("MatMul", {probs, split[2]}, {weighted});
  const std::string merged_t = w.unique_name("merged_t");
  w.add_node("Transpose", {weighted}, {merged_t}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  const std::string merged = w.unique_name("merged");
  w.add_node("Reshape", {merged_t, w.int64_constant("merged_shape", {0, 0, embed_}, {3})}, {merged});
  const std::string out = project(w, merged, out_weight(), has_bias_ ? &params_[3] : nullptr, "out_proj");
  w.add_node("Identity", {out}, {w.output()});
  return true;
}

}  // namespace

void register_attention(Registrar& registrar) { registrar.add<MultiheadAttention>(); }

}  // namespace gradflow::ops
