// Operators that move a sample's values without computing new ones: transpose (x.permute over
// the sample's axes), slice (x[..., start:end:step, ...]) and pad (torch.nn.functional.pad).
// Each plans its copy once from the shapes (copy_plan.hpp).
#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "copy_plan.hpp"
#include "families.hpp"
#include "image_util.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

std::string ints_text(const std::vector<int64_t>& values) { return to_string(Shape(values)); }

// The axis `axis` of `shape`, or a ShapeError naming both.
int checked_axis(const char* op, int64_t axis, const Shape& shape) {
  const int a = resolve_axis(axis, shape.size());
  if (a < 0)
    throw ShapeError(std::string(op) + ": axis " + std::to_string(axis) + " is out of range for a sample of shape " +
                     to_string(shape) + " (axes -" + std::to_string(shape.size()) + " to " +
                     std::to_string(static_cast<int64_t>(shape.size()) - 1) + ")");
  return a;
}

// A one-input op whose output is a planned copy of its input.
class PlannedCopy : public Operator, public OnnxExportable {
 public:
  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    output.resize(output_shape_.with_batch(inputs[0]->dim(0)));
    plan_.forward(*inputs[0], output, fill_);
  }

  void backward(std::span<const Tensor* const> /*inputs*/, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    if (Tensor* gx = grad_inputs[0]) plan_.backward(grad_output, *gx);
  }

 protected:
  Shape planned(Shape out, CopyPlan plan) {
    output_shape_.set_sample(out);
    plan_ = std::move(plan);
    return out;
  }
  float fill_ = 0.0f;

 private:
  BatchedShape output_shape_;
  CopyPlan plan_;
};

class Transpose final : public PlannedCopy {
 public:
  static OpSchema schema() {
    return {"transpose", OpKind::Layer, "permutes the sample's axes (x.permute over the axes after the batch)", 1, 1,
            {attr("perm", AttrType::IntList, std::nullopt,
                  "the sample axis each output axis takes, a permutation of 0..rank-1")}};
  }
  explicit Transpose(const Attributes& attrs) : perm_(attrs.get_ints("perm")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "transpose");
    std::vector<int64_t> sorted = perm_;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> identity(in.size());
    std::iota(identity.begin(), identity.end(), int64_t{0});
    if (sorted != identity)
      throw ShapeError("transpose: perm " + ints_text(perm_) + " is not a permutation of the axes of a sample of shape " +
                       to_string(in) + " (expected each of 0 to " + std::to_string(in.size() - 1) + " once)");
    Shape out(in.size());
    for (size_t j = 0; j < in.size(); ++j) out[j] = in[static_cast<size_t>(perm_[j])];
    const std::vector<int64_t> stride = strides_of(in);
    return planned(out, CopyPlan(out, numel(in), [&](const std::vector<int64_t>& index) {
                     int64_t src = 0;
                     for (size_t j = 0; j < index.size(); ++j) src += index[j] * stride[static_cast<size_t>(perm_[j])];
                     return src;
                   }));
  }

  bool export_onnx(OnnxNodeWriter& w) const override {
    std::vector<int64_t> perm{0};
    for (int64_t p : perm_) perm.push_back(p + 1);
    w.add_node("Transpose", {w.inputs()[0]}, {w.output()}, {{"perm", perm}});
    return true;
  }

 private:
  std::vector<int64_t> perm_;
};

AttrSpec end_attr() {
  AttrSpec spec = attr("end", AttrType::Int, AttrValue{INT64_MAX}, "one past the last index taken (negative: from the end)");
  spec.default_text = "the axis' size";
  return spec;
}

// Python's slice bounds for an axis of `size`: negative counts from the end, out of range clamps.
int64_t slice_bound(int64_t bound, int64_t size) {
  if (bound < 0) bound += size;
  return std::clamp<int64_t>(bound, 0, size);
}

class Slice final : public PlannedCopy {
 public:
  static OpSchema schema() {
    return {"slice", OpKind::Layer, "x[..., start:end:step, ...] on one sample axis (Python's bounds rules)", 1, 1,
            {attr("axis", AttrType::Int, std::nullopt, "the sample axis to slice (negative: from the end)"),
             attr("start", AttrType::Int, AttrValue{int64_t{0}}, "first index taken (negative: from the end)"),
             end_attr(),
             bounded(attr("step", AttrType::Int, AttrValue{int64_t{1}}, "distance between taken indices"), 1.0,
                     false)}};
  }
  explicit Slice(const Attributes& attrs)
      : axis_(attrs.get_int("axis")), start_(attrs.get_int("start")), end_(attrs.get_int("end")),
        step_(attrs.get_int("step")) {
    if (step_ < 1) throw std::invalid_argument("slice: step must be at least 1, got " + std::to_string(step_));
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "slice");
    const auto a = static_cast<size_t>(checked_axis("slice", axis_, in));
    begin_ = slice_bound(start_, in[a]);
    const int64_t end = slice_bound(end_, in[a]);
    Shape out = in;
    out[a] = end > begin_ ? (end - begin_ + step_ - 1) / step_ : 0;
    if (out[a] == 0)
      throw ShapeError("slice: start " + std::to_string(start_) + ", end " + bound_text(end_) +
                       " select nothing of axis " + std::to_string(axis_) + " of a sample of shape " + to_string(in));
    axis_resolved_ = static_cast<int64_t>(a);
    const std::vector<int64_t> stride = strides_of(in);
    return planned(out, CopyPlan(out, numel(in), [&](const std::vector<int64_t>& index) {
                     int64_t src = 0;
                     for (size_t j = 0; j < index.size(); ++j)
                       src += (j == a ? begin_ + index[j] * step_ : index[j]) * stride[j];
                     return src;
                   }));
  }

  // Bounds resolved to the axis: ONNX's clamping differs from Python's at negative ends.
  bool export_onnx(OnnxNodeWriter& w) const override {
    const Shape one{1};
    const int64_t end = begin_ + (w.output_shape()[static_cast<size_t>(axis_resolved_)] - 1) * step_ + 1;
    w.add_node("Slice",
               {w.inputs()[0], w.int64_constant("starts", {begin_}, one), w.int64_constant("ends", {end}, one),
                w.int64_constant("axes", {axis_resolved_ + 1}, one), w.int64_constant("steps", {step_}, one)},
               {w.output()});
    return true;
  }

 private:
  static std::string bound_text(int64_t end) { return end == INT64_MAX ? "(the axis' size)" : std::to_string(end); }

  int64_t axis_, start_, end_, step_;
  int64_t begin_ = 0, axis_resolved_ = 0;
};

class Pad final : public PlannedCopy {
 public:
  static OpSchema schema() {
    return {"pad", OpKind::Layer, "pads the last sample axes (torch.nn.functional.pad)", 1, 1,
            {attr("pads", AttrType::IntList, std::nullopt,
                  "before and after the last axis, then before and after the one before it, ... (torch's pad)"),
             with_choices(attr("mode", AttrType::String, AttrValue{std::string("constant")},
                               "constant: the value; reflect: mirrored at the edge; replicate: the edge value"),
                          {"constant", "reflect", "replicate"}),
             attr("value", AttrType::Float, AttrValue{0.0}, "the padding value of mode constant")}};
  }
  explicit Pad(const Attributes& attrs) : pads_(attrs.get_ints("pads")), mode_(attrs.get_string("mode")) {
    fill_ = static_cast<float>(attrs.get_float("value"));
    if (pads_.empty() || pads_.size() % 2 != 0)
      throw std::invalid_argument("pad: pads " + ints_text(pads_) + " must hold an even number of values, two per axis");
    if (mode_ != "constant")
      for (int64_t p : pads_)
        if (p < 0)
          throw std::invalid_argument("pad: pads " + ints_text(pads_) + " may be negative only in mode constant");
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "pad");
    const size_t padded = pads_.size() / 2;
    if (padded > in.size())
      throw ShapeError("pad: pads " + ints_text(pads_) + " pad " + std::to_string(padded) +
                       " axes, but a sample of shape " + to_string(in) + " has " + std::to_string(in.size()));
    before_.assign(in.size(), 0);
    Shape out = in;
    for (size_t i = 0; i < padded; ++i) {
      const size_t a = in.size() - 1 - i;
      before_[a] = pads_[2 * i];
      out[a] += pads_[2 * i] + pads_[2 * i + 1];
      const bool reflect_too_far = mode_ == "reflect" && std::max(pads_[2 * i], pads_[2 * i + 1]) >= in[a];
      if (out[a] < 1 || reflect_too_far)
        throw ShapeError("pad: pads " + ints_text(pads_) + " (mode " + mode_ + ") do not fit axis " + std::to_string(a) +
                         " of a sample of shape " + to_string(in) +
                         (reflect_too_far ? "; reflect pads must be smaller than the axis" : ""));
    }
    const std::vector<int64_t> stride = strides_of(in);
    return planned(out, CopyPlan(out, numel(in), [&](const std::vector<int64_t>& index) {
                     int64_t src = 0;
                     for (size_t j = 0; j < index.size(); ++j) {
                       const int64_t at = source_index(index[j] - before_[j], in[j]);
                       if (at == kFill) return kFill;
                       src += at * stride[j];
                     }
                     return src;
                   }));
  }

  // ONNX's pads: every axis' before, then every axis' after, the batch axis included.
  bool export_onnx(OnnxNodeWriter& w) const override {
    const size_t rank = w.input_shapes()[0].size() + 1;
    std::vector<int64_t> pads(2 * rank, 0);
    for (size_t i = 0; i < pads_.size() / 2; ++i) {
      pads[rank - 1 - i] = pads_[2 * i];
      pads[2 * rank - 1 - i] = pads_[2 * i + 1];
    }
    std::vector<std::string> inputs{w.inputs()[0],
                                    w.int64_constant("pads", pads, {static_cast<int64_t>(pads.size())})};
    if (mode_ == "constant") inputs.push_back(w.constant("value", Tensor({}, {fill_})));
    w.add_node("Pad", inputs, {w.output()}, {{"mode", mode_ == "replicate" ? std::string("edge") : mode_}});
    return true;
  }

 private:
  // The input index an output at `at` (relative to the input's start) reads on an axis of `size`.
  int64_t source_index(int64_t at, int64_t size) const {
    if (at >= 0 && at < size) return at;
    if (mode_ == "replicate") return std::clamp<int64_t>(at, 0, size - 1);
    if (mode_ == "reflect") return at < 0 ? -at : 2 * (size - 1) - at;
    return kFill;
  }

  std::vector<int64_t> pads_;
  std::string mode_;
  std::vector<int64_t> before_;
};

}  // namespace

void register_shape(Registrar& registrar) {
  registrar.add<Transpose>();
  registrar.add<Slice>();
  registrar.add<Pad>();
}

}  // namespace gradflow::ops
