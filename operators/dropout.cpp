// dropout: torch.nn.Dropout. In training each value is zeroed with probability p and the rest
// scaled by 1/(1-p); in evaluation it is the identity. The mask comes from the run context's
// stream, drawn per value at its position in the global batch, so it is the same whatever the
// thread count, the rank that holds the sample, or a resume.
#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

class Dropout final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"dropout",
            OpKind::Layer,
            "zeroes each value with probability p in training, scales the rest by 1/(1-p); identity in "
            "evaluation (torch.nn.Dropout)",
            1,
            1,
            {bounded_above(bounded(attr("p", AttrType::Float, AttrValue{0.5}, "probability of zeroing a value"), 0.0,
                                   false),
                           1.0, true)}};
  }

  explicit Dropout(const Attributes& attrs) : p_(attrs.get_float("p")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "dropout");
    sample_size_ = numel(in);
    return in;
  }

  void begin_pass(const RunContext& context) override {
    active_ = context.training && p_ > 0.0;
    key_ = context.random_key();
    first_value_ = static_cast<uint64_t>(context.first_sample) * static_cast<uint64_t>(sample_size_);
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(x.shape());
    if (!active_) {
      std::copy(x.data(), x.data() + x.size(), output.data());
      return;
    }
    mask_.resize(x.shape());
    // torch: bernoulli(1-p) noise divided by (1-p) in float, then input * noise.
    const float scale = 1.0f / static_cast<float>(1.0 - p_);
    kernels::for_tiles(x.size(), kernels::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const bool keep = Rng::uniform_at(key_, first_value_ + static_cast<uint64_t>(i)) >= p_;
        mask_.data()[i] = keep ? scale : 0.0f;
        output.data()[i] = x.data()[i] * mask_.data()[i];
      }
    });
  }

  void backward(std::span<const Tensor* const> /*inputs*/, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    if (!grad_inputs[0]) return;
    float* gx = grad_inputs[0]->data();
    const float* g = grad_output.data();
    if (!active_) {
      std::copy(g, g + grad_output.size(), gx);
      return;
    }
    kernels::for_tiles(grad_output.size(), kernels::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) gx[i] = g[i] * mask_.data()[i];
    });
  }

  double flops_per_sample() const override { return static_cast<double>(sample_size_); }

  // Export writes the inference graph, where dropout is the identity.
  bool export_onnx(OnnxNodeWriter& w) const override {
    w.add_node("Identity", {w.inputs()[0]}, {w.output()});
    return true;
  }

 private:
  double p_;
  int64_t sample_size_ = 0;
  bool active_ = false;
  uint64_t key_ = 0;
  uint64_t first_value_ = 0;  // the global index of this batch's first value
  Tensor mask_;               // 0 or 1/(1-p) per value of the last training forward
};

}  // namespace

void register_dropout(Registrar& registrar) { registrar.add<Dropout>(); }

}  // namespace gradflow::ops
