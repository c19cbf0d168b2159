// embedding and positional_embedding: token and position vectors (torch.nn.Embedding).
// Both weights start as N(0, 1), as torch.nn.Embedding's do. Gradient sums run over column
// tiles whose boundaries depend only on the embedding width, each over every token (or every
// sample) in order: bit-identical at any thread count, without atomics.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

// Columns per gradient tile: 32 floats, two cache lines of a row.
constexpr int64_t kColumnTile = 32;

// w[ids[t], begin:end] += g[t, begin:end] for every token t in order.
GRADFLOW_CPU_DISPATCH void scatter_rows(const int32_t* __restrict ids, const float* __restrict g, float* __restrict w,
                                        int64_t tokens, int64_t width, int64_t begin, int64_t end) {
  for (int64_t t = 0; t < tokens; ++t) {
    const float* src = g + t * width;
    float* dst = w + static_cast<int64_t>(ids[t]) * width;
    for (int64_t c = begin; c < end; ++c) dst[c] += src[c];
  }
}

// y[b, :] = x[b, :] + w[:] for samples [begin, end) of n values each.
GRADFLOW_CPU_DISPATCH void add_to_samples(const float* __restrict x, const float* __restrict w, float* __restrict y,
                                          int64_t n, int64_t begin, int64_t end) {
  for (int64_t b = begin; b < end; ++b)
    for (int64_t i = 0; i < n; ++i) y[b * n + i] = x[b * n + i] + w[i];
}

// sum[begin:end] = Σ over samples of g[b, begin:end], samples in order.
GRADFLOW_CPU_DISPATCH void sum_samples(const float* __restrict g, float* __restrict sum, int64_t batch, int64_t n,
                                       int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) sum[i] = 0.0f;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = begin; i < end; ++i) sum[i] += g[b * n + i];
}

// Fills a weight from N(0, 1) (torch.nn.Embedding's reset_parameters).
void normal_fill(Tensor& weight, Rng& rng) {
  for (float& v : weight.values()) v = static_cast<float>(rng.normal());
}

class Embedding final : public Operator, public OnnxExportable, public InputChecker {
 public:
  static OpSchema schema() {
    return {"embedding",
            OpKind::Layer,
            "token ids [T] to vectors [T, E]: row id of a learned table (torch.nn.Embedding)",
            1,
            1,
            {bounded(attr("num_embeddings", AttrType::Int, std::nullopt, "size of the vocabulary: ids are in [0, num)"),
                     1.0, false),
             bounded(attr("embedding_dim", AttrType::Int, std::nullopt, "length E of each vector"), 1.0, false)}};
  }

  explicit Embedding(const Attributes& attrs)
      : num_(attrs.get_int("num_embeddings")), dim_(attrs.get_int("embedding_dim")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "embedding");
    if (in.size() != 1)
      throw ShapeError("embedding expects token ids of shape [T], got " + to_string(in));
    length_ = in[0];
    params_.clear();
    params_.push_back({"weight", Tensor({num_, dim_}), Tensor({num_, dim_})});
    return {length_, dim_};
  }

  std::span<Parameter> parameters() override { return params_; }
  void init_parameters(Rng& rng) override { normal_fill(params_[0].value, rng); }
  void begin_pass(const RunContext& context) override { node_ = context.node; }

  std::optional<std::string> check_input(size_t /*input*/, float value) const override {
    if (valid(value)) return std::nullopt;
    return fmt::format("expects integer token ids in [0, {})", num_);
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    const int64_t tokens = x.size();
    output.resize({x.shape()[0], length_, dim_});
    read_ids(x);
    const float* w = params_[0].value.data();
    float* y = output.data();
    const int64_t grain = std::max<int64_t>(1, kernels::kElementwiseGrain / dim_);
    kernels::for_tiles(tokens, grain, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t)
        std::memcpy(y + t * dim_, w + static_cast<int64_t>(ids_[static_cast<size_t>(t)]) * dim_,
                    static_cast<size_t>(dim_) * sizeof(float));
    });
  }

  // The weight gradient scatters the output gradient's rows onto the ids' rows; ids have no
  // gradient (the input is an index), so a requested one is zero.
  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    if (Tensor* gx = grad_inputs[0]) {
      gx->zero();
    }
    Tensor& gw = params_[0].grad;
    gw.zero();
    const int64_t tokens = inputs[0]->size();
    const float* g = grad_output.data();
    kernels::for_tiles(dim_, kColumnTile, [&](int64_t begin, int64_t end) {
      scatter_rows(ids_.data(), g, gw.data(), tokens, dim_, begin, end);
    });
  }

  double flops_per_sample() const override { return static_cast<double>(length_ * dim_); }

  // Gather needs integer indices: the float ids are cast to int64 first.
  bool export_onnx(OnnxNodeWriter& w) const override {
    const std::string weight = w.parameter(params_[0]);
    const std::string ids = w.unique_name("ids");
    w.add_node("Cast", {w.inputs()[0]}, {ids}, {{"to", int64_t{7}}});  // 7: TensorProto INT64
    w.add_node("Gather", {weight, ids}, {w.output()}, {{"axis", int64_t{0}}});
    return true;
  }

 private:
  bool valid(float value) const {
    return value >= 0.0f && value < static_cast<float>(num_) && std::trunc(value) == value;
  }

  // The ids as integers; a bad one (predict --input, generate: values not checked at load)
  // names the node, the sample of the batch, the position and the value.
  void read_ids(const Tensor& x) {
    ids_.resize(static_cast<size_t>(x.size()));
    for (int64_t t = 0; t < x.size(); ++t) {
      const float value = x[t];
      if (!valid(value))
        throw std::runtime_error(fmt::format("node '{}' (op embedding): sample {}, position {}: token id {} is not an "
                                             "integer in [0, {})",
                                             node_, t / length_, t % length_, value, num_));
      ids_[static_cast<size_t>(t)] = static_cast<int32_t>(value);
    }
  }

  int64_t num_, dim_;
  int64_t length_ = 0;
  std::vector<Parameter> params_;
  std::vector<int32_t> ids_;  // of the last forward: what backward scatters by
  std::string node_;
};

class PositionalEmbedding final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"positional_embedding",
            OpKind::Layer,
            "adds a learned vector per position: x [T, E] + weight[:T] (weight [max_length, E], N(0, 1))",
            1,
            1,
            {bounded(attr("max_length", AttrType::Int, std::nullopt, "the longest sequence: rows of the weight"), 1.0,
                     false)}};
  }

  explicit PositionalEmbedding(const Attributes& attrs) : max_length_(attrs.get_int("max_length")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "positional_embedding");
    if (in.size() != 2 || in[1] < 1)
      throw ShapeError("positional_embedding expects a sequence of vectors [T, E], got " + to_string(in));
    if (in[0] > max_length_)
      throw ShapeError(fmt::format("the sequence has T = {} positions but max_length is {}; expected T <= max_length",
                                   in[0], max_length_));
    length_ = in[0];
    dim_ = in[1];
    params_.clear();
    params_.push_back({"weight", Tensor({max_length_, dim_}), Tensor({max_length_, dim_})});
    return in;
  }

  std::span<Parameter> parameters() override { return params_; }
  void init_parameters(Rng& rng) override { normal_fill(params_[0].value, rng); }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(x.shape());
    const int64_t n = length_ * dim_;
    const float* in = x.data();
    const float* w = params_[0].value.data();
    float* y = output.data();
    const int64_t grain = std::max<int64_t>(1, kernels::kElementwiseGrain / n);
    kernels::for_tiles(x.shape()[0], grain,
                       [&](int64_t begin, int64_t end) { add_to_samples(in, w, y, n, begin, end); });
  }

  // dx = g; dweight[t] = Σ over samples of g[b, t] for t < T, 0 for the positions not used.
  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    const int64_t batch = inputs[0]->shape()[0];
    if (Tensor* gx = grad_inputs[0]) {
      std::memcpy(gx->data(), grad_output.data(), static_cast<size_t>(grad_output.size()) * sizeof(float));
    }
    Tensor& gw = params_[0].grad;
    const int64_t n = length_ * dim_;
    std::fill(gw.data() + n, gw.data() + gw.size(), 0.0f);
    const float* g = grad_output.data();
    kernels::for_tiles(n, kColumnTile * 8,
                       [&](int64_t begin, int64_t end) { sum_samples(g, gw.data(), batch, n, begin, end); });
  }

  double flops_per_sample() const override { return static_cast<double>(length_ * dim_); }

  // x + weight[0:T]: the initializer keeps the checkpoint's name and full [max_length, E].
  bool export_onnx(OnnxNodeWriter& w) const override {
    const std::string weight = w.parameter(params_[0]);
    const std::string rows = w.unique_name("positions");
    w.add_node("Slice",
               {weight, w.int64_constant("starts", {0}, {1}), w.int64_constant("ends", {length_}, {1}),
                w.int64_constant("axes", {0}, {1})},
               {rows});
    w.add_node("Add", {w.inputs()[0], rows}, {w.output()});
    return true;
  }

 private:
  int64_t max_length_;
  int64_t length_ = 0, dim_ = 0;
  std::vector<Parameter> params_;
};

}  // namespace

void register_embedding(Registrar& registrar) {
  registrar.add<Embedding>();
  registrar.add<PositionalEmbedding>();
}

}  // namespace gradflow::ops
