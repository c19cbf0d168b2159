// Elementwise operators of two inputs (add: two or more) with NumPy broadcasting over sample
// shapes (graph-format.md, 2e): add, sub, mul, div, maximum, minimum. One operator template,
// parameterised by a functor that gives the value and each input's term of the gradient
// (torch 1.13's formulas); compute/broadcast.hpp lays the operands out and sums a stretched
// input's gradient back.
#include <algorithm>
#include <string>
#include <vector>

#include "compute/broadcast.hpp"
#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

using kernels::BroadcastPlan;

// NumPy's broadcast of the sample shapes, or the ShapeError naming the two that clash.
Shape broadcast_shapes(std::span<const Shape> shapes, const char* op) {
  Shape out;
  for (size_t k = 0; k < shapes.size(); ++k) {
    const Shape& s = shapes[k];
    Shape merged(std::max(out.size(), s.size()), 1);
    for (size_t i = 1; i <= merged.size(); ++i) {
      const int64_t x = i <= out.size() ? out[out.size() - i] : 1, y = i <= s.size() ? s[s.size() - i] : 1;
      if (x != y && x != 1 && y != 1)
        throw ShapeError(std::string(op) + ": shapes " + to_string(k == 1 ? shapes[0] : out) + " and " +
                         to_string(s) + " do not broadcast: axis -" + std::to_string(i) + " has sizes " +
                         std::to_string(x) + " and " + std::to_string(y) +
                         "; aligned on the right, each axis must be equal or 1");
      merged[merged.size() - i] = x == 1 ? y : x;
    }
    out = std::move(merged);
  }
  return out;
}

// The loops, compiled per instruction set; SA and SB are the operands' inner strides (0 or 1).
template <int SA, int SB, class Fn>
GRADFLOW_CPU_DISPATCH_TEMPLATE void values_run(const Fn& fn, const float* __restrict a, const float* __restrict b,
                                               float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fn.value(a[i * SA], b[i * SB]);
}

template <int SB>
GRADFLOW_CPU_DISPATCH_TEMPLATE void accumulate_run(const float* __restrict b, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += b[i * SB];
}

// t = input `Input`'s term of the gradient at each output element (before summing back).
template <int SA, int SB, int Input, class Fn>
GRADFLOW_CPU_DISPATCH_TEMPLATE void terms_run(const Fn& fn, const float* __restrict a, const float* __restrict b,
                                              const float* __restrict y, const float* __restrict g,
                                              float* __restrict t, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (Input == 0) t[i] = fn.grad_a(a[i * SA], b[i * SB], y[i], g[i]);
    else t[i] = fn.grad_b(a[i * SA], b[i * SB], y[i], g[i]);
  }
}

// Fn provides kName, kOnnx (the ONNX op of the same meaning), kSummary, value(a, b) and the
// terms grad_a/grad_b(a, b, y, g); or kPassesGradient (add), whose every input's term is g.
template <class Fn>
class Broadcasting final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    const bool nary = requires { Fn::kPassesGradient; };
    return {Fn::kName, OpKind::Layer, Fn::kSummary, 2, nary ? -1 : 2, {}};
  }
  explicit Broadcasting(const Attributes&) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    if (input_shapes.size() < 2)
      throw ShapeError(std::string(Fn::kName) + " takes two or more inputs, got " + std::to_string(input_shapes.size()));
    const Shape out = broadcast_shapes(input_shapes, Fn::kName);
    pair_ = BroadcastPlan(out, input_shapes[0], input_shapes[1]);
    to_output_.clear();
    stretched_.clear();
    for (const Shape& s : input_shapes) {
      to_output_.emplace_back(out, out, s);
      stretched_.push_back(numel(s) != numel(out));
    }
    batched_shape_ = batched(1, out);
    sample_size_ = numel(out);
    return out;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    set_batch(inputs[0]->dim(0));
    output.resize(batched_shape_);
    const float* a = inputs[0]->data();
    const float* b = inputs[1]->data();
    float* y = output.data();
    kernels::with_inner_strides(pair_, [&]<int SA, int SB>() {
      kernels::for_tiles(pair_.size(), kernels::kElementwiseGrain, [&](int64_t begin, int64_t end) {
        pair_.walk(begin, end, [&](int64_t o, int64_t oa, int64_t ob, int64_t n) {
          values_run<SA, SB>(fn_, a + oa, b + ob, y + o, n);
        });
      });
    });
    // Further inputs (add) are added in input order, as torch's a + b + c.
    for (size_t k = 2; k < inputs.size(); ++k) {
      const BroadcastPlan& plan = to_output_[k];
      const float* c = inputs[k]->data();
      kernels::with_inner_strides(plan, [&]<int SA, int SB>() {
        kernels::for_tiles(plan.size(), kernels::kElementwiseGrain, [&](int64_t begin, int64_t end) {
          plan.walk(begin, end, [&](int64_t o, int64_t, int64_t oc, int64_t n) { accumulate_run<SB>(c + oc, y + o, n); });
        });
      });
    }
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& output, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    set_batch(inputs[0]->dim(0));
    for (size_t k = 0; k < grad_inputs.size(); ++k) {
      Tensor* gx = grad_inputs[k];
      if (!gx) continue;
      if constexpr (requires { Fn::kPassesGradient; }) {
        to_output_[k].sum_to_b(grad_output.data(), gx->data());
      } else {
        if (stretched_[k]) terms_.resize(grad_output.shape());
        float* t = stretched_[k] ? terms_.data() : gx->data();
        if (k == 0) write_terms<0>(inputs, output, grad_output, t);
        else write_terms<1>(inputs, output, grad_output, t);
        if (stretched_[k]) to_output_[k].sum_to_b(t, gx->data());
      }
    }
  }

  double flops_per_sample() const override { return static_cast<double>(sample_size_); }

  // ONNX broadcasts batched shapes on the right: an input of lower sample rank first gets its
  // missing axes as 1s after the batch axis (Reshape, 0 keeping the batch).
  bool export_onnx(OnnxNodeWriter& w) const override {
    const size_t rank = w.output_shape().size();
    std::vector<std::string> in;
    for (size_t k = 0; k < w.inputs().size(); ++k) {
      const Shape& s = w.input_shapes()[k];
      if (s.size() == rank) {
        in.push_back(w.inputs()[k]);
        continue;
      }
      std::vector<int64_t> shape(rank + 1 - s.size(), 1);
      shape[0] = 0;
      shape.insert(shape.end(), s.begin(), s.end());
      in.push_back(w.unique_name("aligned"));
      w.add_node("Reshape", {w.inputs()[k], w.int64_constant("shape", shape, {static_cast<int64_t>(shape.size())})},
                 {in.back()});
    }
    // ONNX's binary ops take two inputs: a left-to-right chain keeps forward's order.
    std::string acc = in[0];
    for (size_t k = 1; k < in.size(); ++k) {
      const std::string out = k + 1 == in.size() ? w.output() : w.unique_name("partial");
      w.add_node(Fn::kOnnx, {acc, in[k]}, {out});
      acc = out;
    }
    return true;
  }

 private:
  void set_batch(int64_t batch) {
    batched_shape_[0] = batch;
    pair_.set_batch(batch);
    for (BroadcastPlan& plan : to_output_) plan.set_batch(batch);
  }

  template <int Input>
  void write_terms(std::span<const Tensor* const> inputs, const Tensor& output, const Tensor& grad_output,
                   float* t) const {
    const float* a = inputs[0]->data();
    const float* b = inputs[1]->data();
    const float* y = output.data();
    const float* g = grad_output.data();
    kernels::with_inner_strides(pair_, [&]<int SA, int SB>() {
      kernels::for_tiles(pair_.size(), kernels::kElementwiseGrain, [&](int64_t begin, int64_t end) {
        pair_.walk(begin, end, [&](int64_t o, int64_t oa, int64_t ob, int64_t n) {
          terms_run<SA, SB, Input>(fn_, a + oa, b + ob, y + o, g + o, t + o, n);
        });
      });
    });
  }

  Fn fn_;
  BroadcastPlan pair_;                   // inputs 0 and 1 onto the output
  std::vector<BroadcastPlan> to_output_;  // the output (as a) and input k (as b)
  std::vector<bool> stretched_;          // input k is smaller than the output
  Shape batched_shape_;
  int64_t sample_size_ = 0;
  Tensor terms_;  // a stretched input's gradient terms, summed back into its gradient
};

struct AddFn {
  static constexpr const char* kName = "add";
  static constexpr const char* kOnnx = "Add";
  static constexpr const char* kSummary = "elementwise sum of two or more inputs, broadcast";
  static constexpr bool kPassesGradient = true;
  float value(float a, float b) const { return a + b; }
};

struct SubFn {
  static constexpr const char* kName = "sub";
  static constexpr const char* kOnnx = "Sub";
  static constexpr const char* kSummary = "a - b, elementwise, broadcast";
  float value(float a, float b) const { return a - b; }
  float grad_a(float, float, float, float g) const { return g; }
  float grad_b(float, float, float, float g) const { return -g; }
};

struct MulFn {
  static constexpr const char* kName = "mul";
  static constexpr const char* kOnnx = "Mul";
  static constexpr const char* kSummary = "a * b, elementwise, broadcast";
  float value(float a, float b) const { return a * b; }
  float grad_a(float, float b, float, float g) const { return g * b; }
  float grad_b(float a, float, float, float g) const { return g * a; }
};

struct DivFn {
  static constexpr const char* kName = "div";
  static constexpr const char* kOnnx = "Div";
  static constexpr const char* kSummary = "a / b, elementwise, broadcast";
  float value(float a, float b) const { return a / b; }
  float grad_a(float, float b, float, float g) const { return g / b; }
  float grad_b(float a, float b, float, float g) const { return -g * ((a / b) / b); }  // torch's order
};

// torch.maximum/minimum: NaN if either input is NaN; on a tie each input gets half the gradient,
// and a NaN lets it pass to both (torch 1.13's where(a == b, g/2, g).masked_fill(a < b, 0)).
template <bool Max>
struct ExtremumFn {
  static constexpr const char* kName = Max ? "maximum" : "minimum";
  static constexpr const char* kOnnx = Max ? "Max" : "Min";
  static constexpr const char* kSummary =
      Max ? "the larger of a and b, elementwise, broadcast (torch.maximum)"
          : "the smaller of a and b, elementwise, broadcast (torch.minimum)";
  float value(float a, float b) const {
    if (a != a) return a;
    if (b != b) return b;
    return (Max ? a > b : a < b) ? a : b;
  }
  float grad_a(float a, float b, float, float g) const { return share(a, b, g); }
  float grad_b(float a, float b, float, float g) const { return share(b, a, g); }
  // The share of g for `mine` against `other`.
  static float share(float mine, float other, float g) {
    const float split = mine == other ? g / 2.0f : g;
    return (Max ? mine < other : mine > other) ? 0.0f : split;
  }
};

}  // namespace

void register_binary_arithmetic(Registrar& registrar) {
  registrar.add<Broadcasting<AddFn>>();
  registrar.add<Broadcasting<SubFn>>();
  registrar.add<Broadcasting<MulFn>>();
  registrar.add<Broadcasting<DivFn>>();
  registrar.add<Broadcasting<ExtremumFn<true>>>();
  registrar.add<Broadcasting<ExtremumFn<false>>>();
}

}  // namespace gradflow::ops
