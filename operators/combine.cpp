// Operators that merge several inputs: concatenation on the last axis.
#include <algorithm>
#include <string>
#include <vector>

#include "families.hpp"
#include "gradflow/kernels.hpp"
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
            "concatenation of two or more inputs along the last axis (other dims equal)", 2, -1,
            {}};
  }
  explicit Concat(const Attributes&) {}

  bool export_onnx(OnnxNodeWriter& w) const override {
    w.add_node("Concat", w.inputs(), {w.output()}, {{"axis", int64_t{-1}}});
    return true;
  }

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    require_two_or_more(input_shapes, "concat");
    const Shape& first = input_shapes[0];
    Shape out = first;
    for (size_t i = 0; i < input_shapes.size(); ++i) {
      const Shape& s = input_shapes[i];
      if (s.empty())
        throw ShapeError("concat: input " + std::to_string(i) +
                         " is a scalar; expected at least one axis");
      const bool leading_equal =
          s.size() == first.size() && std::equal(s.begin(), s.end() - 1, first.begin());
      if (!leading_equal)
        throw ShapeError("concat: input " + std::to_string(i) + " has shape " + to_string(s) +
                         " but input 0 has shape " + to_string(first) +
                         "; all dimensions but the last must be equal");
      if (i > 0) out.back() += s.back();
    }
    return out;
  }

  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    int64_t cols = 0;
    for (const Tensor* in : inputs) cols += in->cols();
    output.resize(inputs[0]->shape(), -1, cols);
    for_each_slice(inputs, [&](size_t k, int64_t r, int64_t offset, int64_t n) {
      const float* src = inputs[k]->data() + r * n;
      std::copy(src, src + n, output.data() + r * output.cols() + offset);
    });
  }

  void backward(std::span<const Tensor* const> inputs, const Tensor& /*output*/,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    const int64_t width = grad_output.cols();
    for_each_slice(inputs, [&](size_t k, int64_t r, int64_t offset, int64_t n) {
      if (Tensor* gx = grad_inputs[k]) {
        const float* src = grad_output.data() + r * width + offset;
        std::copy(src, src + n, gx->data() + r * n);
      }
    });
  }

 private:
  // Calls body(input k, row r, column offset in the output, width n) for every row of every
  // input: the one place that knows how inputs map onto output columns.
  template <class Body>
  static void for_each_slice(std::span<const Tensor* const> inputs, const Body& body) {
    int64_t offset = 0;
    for (size_t k = 0; k < inputs.size(); ++k) {
      const int64_t n = inputs[k]->cols();
      for (int64_t r = 0; r < inputs[k]->rows(); ++r) body(k, r, offset, n);
      offset += n;
    }
  }
};

}  // namespace

void register_combine(Registrar& registrar) {
  registrar.add<Concat>();
}

}  // namespace gradflow::ops
