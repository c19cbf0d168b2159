// flatten (torch.nn.Flatten: a sample of any shape to one axis) and reshape (a sample to a
// given shape, one axis possibly inferred as -1). Both copy the values unchanged: the
// operator contract gives every node its own output tensor.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

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

 private:
  BatchedShape output_shape_;
};

class Flatten final : public Reshape {
 public:
  static OpSchema schema() {
    return {"flatten", OpKind::Layer, "a sample of any shape to one axis (torch.nn.Flatten)", 1, 1, {}};
  }
  explicit Flatten(const Attributes& /*attrs*/) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    return set_output({numel(single_input(input_shapes, "flatten"))});
  }

  // axis 1: everything after the batch axis, which is ours.
  bool export_onnx(OnnxNodeWriter& w) const override {
    w.add_node("Flatten", {w.inputs()[0]}, {w.output()}, {{"axis", int64_t{1}}});
    return true;
  }
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
                  "the sample's new shape; one axis may be -1, inferred from the others")}};
  }

  explicit ReshapeTo(const Attributes& attrs) : shape_(attrs.get_ints("shape")) {
    if (std::count(shape_.begin(), shape_.end(), -1) > 1)
      throw std::invalid_argument("reshape: shape " + to_string(shape_) + " has more than one -1");
    for (int64_t d : shape_)
      if (d < 1 && d != -1)
        throw std::invalid_argument("reshape: shape " + to_string(shape_) +
                                    " may hold only sizes >= 1 and one -1, got " + std::to_string(d));
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    const Shape& in = single_input(input_shapes, "reshape");
    const int64_t values = numel(in);
    Shape out = shape_;
    int64_t known = 1;
    for (int64_t d : shape_)
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

  // ONNX shapes include the batch axis: 0 copies it, the sample's axes are given resolved.
  bool export_onnx(OnnxNodeWriter& w) const override {
    std::vector<int64_t> target{0};
    target.insert(target.end(), w.output_shape().begin(), w.output_shape().end());
    const std::string shape = w.int64_constant("shape", target, {static_cast<int64_t>(target.size())});
    w.add_node("Reshape", {w.inputs()[0], shape}, {w.output()});
    return true;
  }

 private:
  Shape shape_;
};

}  // namespace

void register_reshape(Registrar& registrar) {
  registrar.add<Flatten>();
  registrar.add<ReshapeTo>();
}

}  // namespace gradflow::ops
