// Nodes without inputs: `parameter` (a trainable tensor, the same for every sample: a class
// token, a learned position table, a layer scale) and `constant` (a fixed tensor, never
// trained). Their output is the tensor repeated over the batch, whose size they read from the
// output buffer the framework sizes before every pass.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "copy_plan.hpp"
#include "families.hpp"
#include "gradflow/kernels.hpp"
#include "image_util.hpp"
#include "init.hpp"
#include "schema_util.hpp"

namespace gradflow::ops {

namespace {

// Values per tile when the parameter's gradient sums over the batch: each value's sum runs
// over all samples in order inside one tile, so the tiling cannot change a bit of it.
constexpr int64_t kValueTile = 256;

AttrSpec shape_attr(const char* what) {
  return bounded(attr("shape", AttrType::IntList, std::nullopt, std::string("the shape of the ") + what +
                                                                      ", the same for every sample"),
                 1.0, false);
}

void check_no_inputs(std::span<const Shape> input_shapes, const char* op) {
  if (!input_shapes.empty())
    throw ShapeError(std::string(op) + " takes no inputs, got " + std::to_string(input_shapes.size()));
}

// output[b] = value for every sample b; the batch is the output buffer's (the framework sizes
// it before every pass); an output nobody sized (an operator-level gradcheck) gets one sample.
void repeat_over_batch(const Tensor& value, Tensor& output, BatchedShape& shape) {
  if (output.rank() != value.rank() + 1) output.resize(shape.with_batch(1));
  const int64_t n = value.size();
  const float* from = value.data();
  float* to = output.data();
  for_each_sample(output.dim(0), n, [&](int64_t b) { std::memcpy(to + b * n, from, static_cast<size_t>(n) * sizeof(float)); });
}

// ONNX: the initializer `value` of sample shape `shape`, given a leading axis of 1 and expanded
// to the batch (which the writer takes from the graph's first input).
void export_repeated(OnnxNodeWriter& w, const std::string& value, const Shape& shape) {
  std::vector<int64_t> one{1};
  one.insert(one.end(), shape.begin(), shape.end());
  const auto rank = static_cast<int64_t>(one.size());
  const std::string batch = w.batch_size();
  const std::string single = w.unique_name("single"), target = w.unique_name("target");
  w.add_node("Reshape", {value, w.int64_constant("shape", one, {rank})}, {single});
  w.add_node("Concat", {batch, w.int64_constant("sample_shape", shape, {rank - 1})}, {target}, {{"axis", int64_t{0}}});
  w.add_node("Expand", {single, target}, {w.output()});
}

class ParameterOp final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    OpSchema s{"parameter", OpKind::Layer, "a trainable tensor of the given shape, the same for every sample", 0, 0,
               {shape_attr("tensor"),
                with_choices(attr("init", AttrType::String, AttrValue{std::string("zeros")},
                                  "initialisation: zeros, normal (mean 0, std), or one of linear's schemes with "
                                  "torch's fans"),
                             {"zeros", "normal", "torch_default", "xavier_uniform", "xavier_normal", "he_uniform",
                              "he_normal", "uniform"}),
                bounded(attr("std", AttrType::Float, AttrValue{1.0}, "standard deviation of init normal"), 0.0, true)}};
    return s;
  }
  explicit ParameterOp(const Attributes& attrs)
      : shape_(attrs.get_ints("shape")), init_(attrs.get_string("init")), std_(attrs.get_float("std")) {}

  Shape infer_shape(std::span<const Shape> input_shapes) override {
    check_no_inputs(input_shapes, "parameter");
    params_.clear();
    params_.push_back({"weight", Tensor(shape_), Tensor(shape_)});
    output_shape_.set_sample(shape_);
    return shape_;
  }

  std::span<Parameter> parameters() override { return params_; }

  // torch's fans of a tensor [out, in, k...]: fan_in in·Πk, fan_out out·Πk; a vector's are its length.
  void init_parameters(Rng& rng) override {
    Tensor& w = params_[0].value;
    if (init_ == "normal") return fill_normal(w, rng, std_);
    const double receptive = shape_.size() > 2 ? static_cast<double>(numel(Shape(shape_.begin() + 2, shape_.end()))) : 1.0;
    const double fan_in = shape_.size() > 1 ? static_cast<double>(shape_[1]) * receptive : static_cast<double>(shape_[0]);
    const double fan_out = static_cast<double>(shape_[0]) * receptive;
    init_weights(init_, fan_in, fan_out, w, nullptr, rng);
  }

  void forward(std::span<const Tensor* const> /*inputs*/, Tensor& output) override {
    repeat_over_batch(params_[0].value, output, output_shape_);
  }

  // The weight's gradient: the sum over the batch, sample by sample in order.
  void backward(std::span<const Tensor* const> /*inputs*/, const Tensor& /*output*/, const Tensor& grad_output,
                std::span<Tensor* const> /*grad_inputs*/) override {
    const int64_t n = params_[0].value.size(), batch = grad_output.dim(0);
    const float* g = grad_output.data();
    float* sum = params_[0].grad.data();
    kernels::for_tiles(n, kValueTile, [&](int64_t begin, int64_t end) {
      std::fill(sum + begin, sum + end, 0.0f);
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t i = begin; i < end; ++i) sum[i] += g[b * n + i];
    });
  }

  bool export_onnx(OnnxNodeWriter& w) const override {
    export_repeated(w, w.parameter(params_[0]), shape_);
    return true;
  }

 private:
  Shape shape_;
  std::string init_;
  double std_;
  std::vector<Parameter> params_;
  BatchedShape output_shape_;
};

class ConstantOp final : public Operator, public OnnxExportable {
 public:
  static OpSchema schema() {
    return {"constant", OpKind::Layer, "a fixed tensor of the given shape, the same for every sample; never trained", 0,
            0,
            {shape_attr("tensor"),
             attr("value", AttrType::FloatList, std::nullopt,
                  "a number for every element, or a nested list of the tensor's shape")}};
  }
  explicit ConstantOp(const Attributes& attrs) : shape_(attrs.get_ints("shape")), value_(attrs.get_float_list("value")) {
    if (!value_.shape.empty() && value_.shape != shape_)
      throw std::invalid_argument("constant: value has shape " + to_string(value_.shape) + ", but shape is " +
                                  to_string(shape_));
  }

  // Stored as the buffer `<node>.value` when it has more than one element, as a checkpoint
  // of the torch twin's registered buffer would hold it.
  Shape infer_shape(std::span<const Shape> input_shapes) override {
    check_no_inputs(input_shapes, "constant");
    Tensor value(shape_);
    if (value_.shape.empty())
      value.fill(static_cast<float>(value_.values[0]));
    else
      std::transform(value_.values.begin(), value_.values.end(), value.data(), [](double v) { return static_cast<float>(v); });
    buffers_.clear();
    tensor_ = value;
    if (numel(shape_) > 1) buffers_.push_back({"value", std::move(value)});
    output_shape_.set_sample(shape_);
    return shape_;
  }

  std::span<Buffer> buffers() override { return buffers_; }

  void forward(std::span<const Tensor* const> /*inputs*/, Tensor& output) override {
    repeat_over_batch(buffers_.empty() ? tensor_ : buffers_[0].value, output, output_shape_);
  }

  void backward(std::span<const Tensor* const> /*inputs*/, const Tensor& /*output*/, const Tensor& /*grad_output*/,
                std::span<Tensor* const> /*grad_inputs*/) override {}

  bool export_onnx(OnnxNodeWriter& w) const override {
    export_repeated(w, buffers_.empty() ? w.constant("value", tensor_) : w.initializer("value", buffers_[0].value), shape_);
    return true;
  }

 private:
  Shape shape_;
  FloatList value_;
  Tensor tensor_;  // the value when it is a single element (no buffer)
  std::vector<Buffer> buffers_;
  BatchedShape output_shape_;
};

}  // namespace

void register_parameter(Registrar& registrar) {
  registrar.add<ParameterOp>();
  registrar.add<ConstantOp>();
}

}  // namespace gradflow::ops
