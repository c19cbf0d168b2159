// Operators that merge several inputs: concatenation along a sample axis.
#include <algorithm>
#include <string>
#include <vector>

#include "copy_plan.hpp"
#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "image_util.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

void require_two_or_more(std::span<const Shape> shapes, const char* op) {
  if (shapes.size() < 2)
    throw ShapeError(std::string(op) + " takes two or more inputs, got " +
                     std::to_string(shapes.size()));
}

class Concat final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"concat", OpKind::Layer,
            "concatenation of two or more inputs along one sample axis, the others equal (torch.cat)", 2, -1,
            {attr("axis", AttrType::Int, AttrValue{int64_t{-1}}, "the sample axis to join along (negative: from the end)")}};
  }
  explicit Concat(const Attributes& attrs) : axis_(attrs.get_int("axis")) {}

  bool export_onnx(OnnxNodeWriter& w) const override {
    w.add_node("Concat", w.inputs(), {w.output()}, {{"axis", int64_t{resolved_ + 1}}});
    return true;
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    require_two_or_more(input_shapes, "concat");
    const Shape& first = input_shapes[0];
    const int a = resolve_axis(axis_, first.size());
    if (a < 0)
      throw ShapeError("concat: axis " + std::to_string(axis_) + " is out of range for input 0 of shape " +
                       to_string(first) + (first.empty() ? "; expected at least one axis" : ""));
    resolved_ = a;
    const auto axis = static_cast<size_t>(a);
    Shape out = first;
    for (size_t i = 1; i < input_shapes.size(); ++i) {
      const Shape& s = input_shapes[i];
      bool others_equal = s.size() == first.size();
      for (size_t d = 0; others_equal && d < s.size(); ++d) others_equal = d == axis || s[d] == first[d];
      if (!others_equal)
        throw ShapeError("concat: input " + std::to_string(i) + " has shape " + to_string(s) +
                         " but input 0 has shape " + to_string(first) + "; all dimensions but " +
                         (axis_ == -1 ? std::string("the last") : "axis " + std::to_string(axis_)) + " must be equal");
      out[axis] += s[axis];
    }
    output_shape_.set_sample(out);
    plans_.clear();
    int64_t offset = 0;
    for (const Shape& s : input_shapes) {
      const std::vector<int64_t> stride = strides_of(s);
      const int64_t extent = s[axis];
      plans_.emplace_back(out, numel(s), [&](const std::vector<int64_t>& index) {
        const int64_t at = index[axis] - offset;
        if (at < 0 || at >= extent) return kNotMine;
        int64_t src = 0;
        for (size_t d = 0; d < index.size(); ++d) src += (d == axis ? at : index[d]) * stride[d];
        return src;
      });
      offset += extent;
    }
    return out;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    output.resize(output_shape_.with_batch(inputs[0]->dim(0)));
    for (size_t k = 0; k < inputs.size(); ++k) plans_[k].forward(*inputs[k], output, 0.0f);
  }

  void backward(std::span<const Tensor* const> /*inputs*/, const Tensor& /*output*/,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    for (size_t k = 0; k < grad_inputs.size(); ++k)
      if (Tensor* gx = grad_inputs[k]) plans_[k].backward(grad_output, *gx);
  }

 private:
  int64_t axis_;
  int resolved_ = 0;
  BatchedShape output_shape_;
  std::vector<CopyPlan> plans_;  // one per input: the output positions it fills
};

}  // namespace

void register_combine(Registrar& registrar) {
  registrar.add<Concat>();
}

}  // namespace gradflow::ops
