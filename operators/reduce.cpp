// Reductions over sample axes: reduce_sum, reduce_mean, reduce_max (torch.sum, mean, amax with
// dim and keepdim). Each output value reduces its group of input values in one fixed order
// (the reduced axes' row-major order), so results do not depend on the tiling; the offsets are
// computed once from the shapes.
#include <cmath>
#include <string>
#include <vector>

#include "copy_plan.hpp"
#include "families.hpp"
#include "image_util.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

enum class Reduce { Sum, Mean, Max };

// Every input offset reached by walking `axes` of a sample with `strides`, in row-major order.
std::vector<int64_t> offsets_over(const Shape& shape, const std::vector<int64_t>& strides,
                                  const std::vector<bool>& axes) {
  std::vector<int64_t> offsets{0};
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!axes[d]) continue;
    std::vector<int64_t> next;
    next.reserve(offsets.size() * static_cast<size_t>(shape[d]));
    for (int64_t base : offsets)
      for (int64_t i = 0; i < shape[d]; ++i) next.push_back(base + i * strides[d]);
    offsets = std::move(next);
  }
  return offsets;
}

template <Reduce kind>
class Reduction final : public Operator, public OnnxExportable {
 public:
  static constexpr const char* kName = kind == Reduce::Sum ? "reduce_sum" : kind == Reduce::Mean ? "reduce_mean" : "reduce_max";
  static OpSchema schema() {
    const char* what = kind == Reduce::Sum ? "sum (torch.sum)" : kind == Reduce::Mean ? "mean (torch.mean)"
                                                                                          : "maximum (torch.amax)";
    return {kName, OpKind::Layer, std::string("the ") + what + " over sample axes", 1, 1,
            {attr("axes", AttrType::IntList, AttrValue{std::vector<int64_t>{}},
                  "the sample axes reduced (negative: from the end; default: all)"),
             attr("keepdims", AttrType::Bool, AttrValue{false}, "keep each reduced axis with size 1")}};
  }
  explicit Reduction(const Attributes& attrs) : axes_(attrs.get_ints("axes")), keepdims_(attrs.get_bool("keepdims")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, kName);
    std::vector<bool> reduced(in.size(), axes_.empty());
    for (int64_t axis : axes_) {
      const int a = resolve_axis(axis, in.size());
      if (a < 0 || reduced[static_cast<size_t>(a)])
        throw ShapeError(std::string(kName) + ": axis " + std::to_string(axis) +
                         (a < 0 ? " is out of range for" : " is named twice for") + " a sample of shape " + to_string(in));
      reduced[static_cast<size_t>(a)] = true;
    }
    Shape out;
    resolved_.clear();
    for (size_t d = 0; d < in.size(); ++d) {
      if (reduced[d]) resolved_.push_back(static_cast<int64_t>(d));
      if (!reduced[d]) out.push_back(in[d]);
      else if (keepdims_) out.push_back(1);
    }
    const std::vector<int64_t> strides = strides_of(in);
    std::vector<bool> kept(in.size());
    for (size_t d = 0; d < in.size(); ++d) kept[d] = !reduced[d];
    group_base_ = offsets_over(in, strides, kept);
    group_offsets_ = offsets_over(in, strides, reduced);
    in_size_ = numel(in);
    output_shape_.set_sample(out);
    return out;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(output_shape_.with_batch(x.dim(0)));
    const int64_t groups = static_cast<int64_t>(group_base_.size());
    const float count = static_cast<float>(group_offsets_.size());
    for_each_sample(x.dim(0), in_size_, [&](int64_t b) {
      const float* in = x.data() + b * in_size_;
      float* out = output.data() + b * groups;
      for (int64_t o = 0; o < groups; ++o) {
        const float* group = in + group_base_[static_cast<size_t>(o)];
        if constexpr (kind == Reduce::Max) {
          float m = group[group_offsets_[0]];
          for (int64_t off : group_offsets_) {
            const float v = group[off];
            if (v > m || std::isnan(v)) m = v;
            if (std::isnan(m)) break;
          }
          out[o] = m;
        } else {
          float sum = 0.0f;
          for (int64_t off : group_offsets_) sum += group[off];
          out[o] = kind == Reduce::Mean ? sum / count : sum;
        }
      }
    });
  }

  // Every input value belongs to exactly one group, so each gradient value is assigned once.
  // amax's gradient is split equally among the values equal to the maximum, as torch's.
  void backward(std::span<const Tensor* const> inputs, const Tensor& output, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;
    const Tensor& x = *inputs[0];
    const int64_t groups = static_cast<int64_t>(group_base_.size());
    const float count = static_cast<float>(group_offsets_.size());
    for_each_sample(x.dim(0), in_size_, [&](int64_t b) {
      const float* in = x.data() + b * in_size_;
      float* to = gx->data() + b * in_size_;
      const float* g = grad_output.data() + b * groups;
      const float* y = output.data() + b * groups;
      for (int64_t o = 0; o < groups; ++o) {
        const int64_t base = group_base_[static_cast<size_t>(o)];
        if constexpr (kind == Reduce::Max) {
          float ties = 0.0f;
          for (int64_t off : group_offsets_) ties += in[base + off] == y[o] ? 1.0f : 0.0f;
          const float share = g[o] / ties;
          for (int64_t off : group_offsets_) to[base + off] = in[base + off] == y[o] ? share : 0.0f;
        } else {
          const float share = kind == Reduce::Mean ? g[o] / count : g[o];
          for (int64_t off : group_offsets_) to[base + off] = share;
        }
      }
    });
  }

  double flops_per_sample() const override { return static_cast<double>(in_size_); }

  // ReduceSum takes its axes as an input from opset 13, ReduceMean and ReduceMax from opset 18.
  bool export_onnx(OnnxNodeWriter& w) const override {
    static constexpr const char* kOnnx = kind == Reduce::Sum ? "ReduceSum" : kind == Reduce::Mean ? "ReduceMean" : "ReduceMax";
    std::vector<int64_t> axes = resolved_;
    for (int64_t& a : axes) ++a;
    const std::vector<OnnxAttribute> keep{{"keepdims", int64_t{keepdims_ ? 1 : 0}}};
    if (w.opset() >= (kind == Reduce::Sum ? 13 : 18)) {
      const std::string list = w.int64_constant("axes", axes, {static_cast<int64_t>(axes.size())});
      w.add_node(kOnnx, {w.inputs()[0], list}, {w.output()}, keep);
    } else {
      std::vector<OnnxAttribute> attrs = keep;
      attrs.push_back({"axes", axes});
      w.add_node(kOnnx, {w.inputs()[0]}, {w.output()}, attrs);
    }
    return true;
  }

 private:
  std::vector<int64_t> axes_;
  bool keepdims_;
  std::vector<int64_t> resolved_;
  std::vector<int64_t> group_base_;     // each output value's first input offset
  std::vector<int64_t> group_offsets_;  // the offsets of a group's values from its base
  int64_t in_size_ = 0;
  BatchedShape output_shape_;
};

}  // namespace

void register_reduce(Registrar& registrar) {
  registrar.add<Reduction<Reduce::Sum>>();
  registrar.add<Reduction<Reduce::Mean>>();
  registrar.add<Reduction<Reduce::Max>>();
}

}  // namespace gradflow::ops
