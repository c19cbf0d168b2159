// What conv2d, conv1d and conv_transpose2d share: a weight and an optional bias in torch's layout,
// torch's fan-based initialisation, and the training calls into their kernel (compute/conv.hpp's
// Conv2d or ConvTranspose2d, both forward(x, batch, weight, bias, y) and backward(x, batch,
// weight, gy, gx, gw, gb)). The operators keep what differs: attributes, shapes, ONNX nodes.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "gradflow/onnx.hpp"
#include "gradflow/operator.hpp"
#include "image_util.hpp"
#include "init.hpp"

namespace gradflow::ops {

template <class Kernel>
class ConvWeights {
 public:
  ConvWeights(bool has_bias, std::string init) : has_bias_(has_bias), init_(std::move(init)) {}

  // Sizes the weight and the bias [bias_size], builds the kernel for `shape`, and records the
  // output's sample shape.
  template <class KernelShape>
  void reset(const Shape& weight, int64_t bias_size, const KernelShape& shape, const Shape& output_sample) {
    params_.clear();
    params_.push_back({"weight", Tensor(weight), Tensor(weight)});
    if (has_bias_) params_.push_back({"bias", Tensor({bias_size}), Tensor({bias_size})});
    kernel_ = std::make_unique<Kernel>(shape);
    output_shape_.set_sample(output_sample);
  }

  std::span<Parameter> parameters() { return params_; }
  bool has_bias() const { return has_bias_; }

  void init(double fan_in, double fan_out, Rng& rng) {
    init_weights(init_, fan_in, fan_out, params_[0].value, has_bias_ ? &params_[1].value : nullptr, rng);
  }

  void forward(const Tensor& x, Tensor& output) {
    const int64_t batch = x.dim(0);
    output.resize(output_shape_.with_batch(batch));
    kernel_->forward(x.data(), batch, params_[0].value.data(), has_bias_ ? params_[1].value.data() : nullptr,
                     output.data());
  }

  void backward(const Tensor& x, const Tensor& grad_output, Tensor* gx) {
    kernel_->backward(x.data(), x.dim(0), params_[0].value.data(), grad_output.data(), gx ? gx->data() : nullptr,
                      params_[0].grad.data(), has_bias_ ? params_[1].grad.data() : nullptr);
  }

  // The ONNX node's inputs: the data, the weight and the bias if any.
  std::vector<std::string> onnx_inputs(OnnxNodeWriter& w) const {
    std::vector<std::string> inputs{w.inputs()[0], w.parameter(params_[0])};
    if (has_bias_) inputs.push_back(w.parameter(params_[1]));
    return inputs;
  }

 private:
  bool has_bias_;
  std::string init_;
  std::unique_ptr<Kernel> kernel_;
  BatchedShape output_shape_;
  std::vector<Parameter> params_;
};

}  // namespace gradflow::ops
