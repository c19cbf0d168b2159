// The operators that change a sample's shape and keep its values in order: flatten
// (torch.flatten over sample axes), reshape (a given shape, one axis possibly inferred as -1,
// 0 copying the input's axis), squeeze and unsqueeze. All copy the values unchanged: the
// operator contract gives every node its own output tensor.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "copy_plan.hpp"
#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "image_util.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

// dst = src, in tiles (the copy of a large batch is memory-bound and worth several cores).
void copy(const Tensor& src, Tensor& dst) {
  const float* from = src.data();
  float* to = dst.data();
  kernels::for_tiles(src.size(), kernels::kElementwiseGrain, [&](int64_t begin, int64_t end) {
    std::memcpy(to + begin, from + begin, static_cast<size_t>(end - begin) * sizeof(float));
  });
}

// The output takes the new sample shape, the input gradient the input's shape; the values are
// the same in both directions.
class Reshape : public Operator, public OnnxExportable {
 public:
  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    const Tensor& x = *inputs[0];
    output.resize(output_shape_.with_batch(x.dim(0)));
    copy(x, output);
  }

  void backward(std::span<const Tensor* const> /*inputs*/, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    Tensor* gx = grad_inputs[0];
    if (!gx) return;
    copy(grad_output, *gx);
  }

 protected:
  Shape set_output(Shape sample) {
    output_shape_.set_sample(sample);
    return sample;
  }

  // ONNX shapes include the batch axis: 0 copies it, the sample's axes are given resolved.
  static void export_reshape(OnnxNodeWriter& w) {
    std::vector<int64_t> target{0};
    target.insert(target.end(), w.output_shape().begin(), w.output_shape().end());
    const std::string shape = w.int64_constant("shape", target, {static_cast<int64_t>(target.size())});
    w.add_node("Reshape", {w.inputs()[0], shape}, {w.output()});
  }

  // Squeeze and Unsqueeze take their axes (batch included) as an input from opset 13, before
  // as an attribute.
  static void export_axes_op(OnnxNodeWriter& w, const std::string& op_type, std::vector<int64_t> axes) {
    for (int64_t& a : axes) ++a;
    if (w.opset() < 13) {
      w.add_node(op_type, {w.inputs()[0]}, {w.output()}, {{"axes", axes}});
      return;
    }
    const std::string list = w.int64_constant("axes", axes, {static_cast<int64_t>(axes.size())});
    w.add_node(op_type, {w.inputs()[0], list}, {w.output()});
  }

 private:
  BatchedShape output_shape_;
};

class Flatten final : public Reshape {
 public:
  static OpSchema schema() {
    return {"flatten", OpKind::Layer, "merges the sample axes start_axis..end_axis into one (torch.flatten)", 1, 1,
            {attr("start_axis", AttrType::Int, AttrValue{int64_t{0}}, "first sample axis merged (negative: from the end)"),
             attr("end_axis", AttrType::Int, AttrValue{int64_t{-1}}, "last sample axis merged (negative: from the end)")}};
  }
  explicit Flatten(const Attributes& attrs) : start_(attrs.get_int("start_axis")), end_(attrs.get_int("end_axis")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "flatten");
    if (in.empty()) return set_output({1});  // torch.flatten of a scalar: one value
    const int start = resolve_axis(start_, in.size()), end = resolve_axis(end_, in.size());
    if (start < 0 || end < 0 || start > end)
      throw ShapeError("flatten: start_axis " + std::to_string(start_) + " and end_axis " + std::to_string(end_) +
                       " do not name a range of the axes of a sample of shape " + to_string(in));
    whole_ = start == 0 && end + 1 == static_cast<int>(in.size());
    Shape out(in.begin(), in.begin() + start);
    out.push_back(numel(Shape(in.begin() + start, in.begin() + end + 1)));
    out.insert(out.end(), in.begin() + end + 1, in.end());
    return set_output(out);
  }

  // The whole sample: ONNX's Flatten after the batch axis, as torch.nn.Flatten exports.
  bool export_onnx(OnnxNodeWriter& w) const override {
    if (whole_)
      w.add_node("Flatten", {w.inputs()[0]}, {w.output()}, {{"axis", int64_t{1}}});
    else
      export_reshape(w);
    return true;
  }

 private:
  int64_t start_, end_;
  bool whole_ = true;
};

class ReshapeTo final : public Reshape {
 public:
  static OpSchema schema() {
    return {"reshape",
            OpKind::Layer,
            "a sample to the given shape, same number of values (torch.reshape)",
            1,
            1,
            {attr("shape", AttrType::IntList, std::nullopt,
                  "the sample's new shape; one axis may be -1, inferred from the others; 0 copies the input's axis")}};
  }

  explicit ReshapeTo(const Attributes& attrs) : shape_(attrs.get_ints("shape")) {
    if (std::count(shape_.begin(), shape_.end(), -1) > 1)
      throw std::invalid_argument("reshape: shape " + to_string(shape_) + " has more than one -1");
    for (int64_t d : shape_)
      if (d < -1)
        throw std::invalid_argument("reshape: shape " + to_string(shape_) +
                                    " may hold only sizes >= 1, 0 (copy the axis) and one -1, got " + std::to_string(d));
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "reshape");
    const int64_t values = numel(in);
    Shape out = shape_;
    for (size_t i = 0; i < out.size(); ++i)
      if (out[i] == 0) {
        if (i >= in.size())
          throw ShapeError("reshape: shape " + to_string(shape_) + " copies axis " + std::to_string(i) +
                           " (0), which a sample of shape " + to_string(in) + " does not have");
        out[i] = in[i];
      }
    int64_t known = 1;
    for (int64_t d : out)
      if (d != -1) known *= d;
    const auto free = std::find(out.begin(), out.end(), -1);
    if (free != out.end() && known > 0 && values % known == 0) *free = values / known;
    if (numel(out) != values || std::count(out.begin(), out.end(), -1) > 0)
      throw ShapeError("reshape: cannot reshape " + to_string(in) + " (" + std::to_string(values) + " values) to " +
                       to_string(shape_) + " (" +
                       (free == out.end() ? std::to_string(numel(out)) + " values)"
                                          : "a multiple of " + std::to_string(known) + " values)"));
    return set_output(out);
  }

  bool export_onnx(OnnxNodeWriter& w) const override {
    export_reshape(w);
    return true;
  }

 private:
  Shape shape_;
};

class Squeeze final : public Reshape {
 public:
  static OpSchema schema() {
    return {"squeeze", OpKind::Layer, "removes sample axes of size 1 (torch.squeeze)", 1, 1,
            {attr("axes", AttrType::IntList, AttrValue{std::vector<int64_t>{}},
                  "the sample axes to remove, each of size 1 (default: every axis of size 1)")}};
  }
  explicit Squeeze(const Attributes& attrs) : axes_(attrs.get_ints("axes")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "squeeze");
    std::vector<bool> removed(in.size(), false);
    for (int64_t axis : axes_) {
      const int a = resolve_axis(axis, in.size());
      if (a < 0)
        throw ShapeError("squeeze: axis " + std::to_string(axis) + " is out of range for a sample of shape " +
                         to_string(in));
      if (in[static_cast<size_t>(a)] != 1)
        throw ShapeError("squeeze: axis " + std::to_string(axis) + " of a sample of shape " + to_string(in) +
                         " has size " + std::to_string(in[static_cast<size_t>(a)]) + ", not 1");
      removed[static_cast<size_t>(a)] = true;
    }
    resolved_.clear();
    Shape out;
    for (size_t i = 0; i < in.size(); ++i) {
      if (axes_.empty() ? in[i] == 1 : removed[i])
        resolved_.push_back(static_cast<int64_t>(i));
      else
        out.push_back(in[i]);
    }
    return set_output(out);
  }

  bool export_onnx(OnnxNodeWriter& w) const override {
    export_axes_op(w, "Squeeze", resolved_);
    return true;
  }

 private:
  std::vector<int64_t> axes_, resolved_;
};

class Unsqueeze final : public Reshape {
 public:
  static OpSchema schema() {
    return {"unsqueeze", OpKind::Layer, "inserts sample axes of size 1 (torch.unsqueeze; ONNX's Unsqueeze)", 1, 1,
            {attr("axes", AttrType::IntList, std::nullopt,
                  "the positions of the new axes in the output sample (negative: from the end)")}};
  }
  explicit Unsqueeze(const Attributes& attrs) : axes_(attrs.get_ints("axes")) {
    if (axes_.empty()) throw std::invalid_argument("unsqueeze: axes must name at least one axis");
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "unsqueeze");
    const size_t rank = in.size() + axes_.size();
    std::vector<bool> inserted(rank, false);
    resolved_.clear();
    for (int64_t axis : axes_) {
      const int a = resolve_axis(axis, rank);
      if (a < 0 || inserted[static_cast<size_t>(a)])
        throw ShapeError("unsqueeze: axes " + to_string(Shape(axes_)) + " are not distinct positions of an output of " +
                         std::to_string(rank) + " axes from a sample of shape " + to_string(in));
      inserted[static_cast<size_t>(a)] = true;
      resolved_.push_back(a);
    }
    Shape out;
    auto next = in.begin();
    for (size_t i = 0; i < rank; ++i) out.push_back(inserted[i] ? 1 : *next++);
    std::sort(resolved_.begin(), resolved_.end());
    return set_output(out);
  }

  bool export_onnx(OnnxNodeWriter& w) const override {
    export_axes_op(w, "Unsqueeze", resolved_);
    return true;
  }

 private:
  std::vector<int64_t> axes_, resolved_;
};

}  // namespace

void register_reshape(Registrar& registrar) {
  registrar.add<Flatten>();
  registrar.add<ReshapeTo>();
  registrar.add<Squeeze>();
  registrar.add<Unsqueeze>();
}

}  // namespace gradflow::ops
