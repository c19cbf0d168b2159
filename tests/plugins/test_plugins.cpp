// Test-only plugins, one library per variant (tests/plugins/CMakeLists.txt picks it with a
// GF_TEST_* definition): each exercises one way a plugin can fail.
#include <stdexcept>
#include <string>

#include "gradflow/plugin.hpp"

namespace {

using namespace gradflow;

// An identity layer that throws from forward or backward when its `fail_in` attribute says so.
class Thrower final : public Operator {
 public:
  static OpSchema schema() {
    AttrSpec fail_in;
    fail_in.name = "fail_in";
    fail_in.type = AttrType::String;
    fail_in.default_value = AttrValue{std::string("none")};
    fail_in.help = "none, forward or backward: where to throw";
    fail_in.choices = {"none", "forward", "backward"};
    return {"test_throw", OpKind::Layer, "identity that throws on request (tests)", 1, 1, {fail_in}};
  }
  explicit Thrower(const Attributes& attrs) : fail_in_(attrs.get_string("fail_in")) {}
  Shape infer_shape(std::span<const Shape> shapes) override { return shapes[0]; }
  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    if (fail_in_ == "forward") throw std::runtime_error("test_throw: asked to fail in forward");
    output = *inputs[0];
  }
  void backward(std::span<const Tensor* const> /*inputs*/, const Tensor& /*output*/,
                const Tensor& grad_output, std::span<Tensor* const> grad_inputs) override {
    if (fail_in_ == "backward") throw std::runtime_error("test_throw: asked to fail in backward");
    if (grad_inputs[0]) *grad_inputs[0] = grad_output;
  }

 private:
  std::string fail_in_;
};

// Same behaviour under another name, to make a batch whose second entry collides.
template <const char* Name>
class Named final : public Operator {
 public:
  static OpSchema schema() { return {Name, OpKind::Layer, "test operator", 1, 1, {}}; }
  explicit Named(const Attributes&) {}
  Shape infer_shape(std::span<const Shape> shapes) override { return shapes[0]; }
  void forward(std::span<const Tensor* const> inputs, Tensor& output) override {
    output = *inputs[0];
  }
  void backward(std::span<const Tensor* const>, const Tensor&, const Tensor& grad_output,
                std::span<Tensor* const> grad_inputs) override {
    if (grad_inputs[0]) *grad_inputs[0] = grad_output;
  }
};

[[maybe_unused]] constexpr char kRelu[] = "relu";
[[maybe_unused]] constexpr char kFirst[] = "test_first_ok";
[[maybe_unused]] constexpr char kSigmoid[] = "sigmoid";
[[maybe_unused]] constexpr char kAfterThrow[] = "test_before_throw";

}  // namespace

#if defined(GF_TEST_THROWING)
GRADFLOW_PLUGIN(registrar) { registrar.add<Thrower>(); }
#elif defined(GF_TEST_DUP_RELU)
GRADFLOW_PLUGIN(registrar) { registrar.add<Named<kRelu>>(); }
#elif defined(GF_TEST_DUP_SECOND)
GRADFLOW_PLUGIN(registrar) {
  registrar.add<Named<kFirst>>();
  registrar.add<Named<kSigmoid>>();  // already built in: the whole library is refused
}
#elif defined(GF_TEST_INIT_THROWS)
GRADFLOW_PLUGIN(registrar) {
  registrar.add<Named<kAfterThrow>>();
  throw std::runtime_error("cannot find my configuration");
}
#elif defined(GF_TEST_BAD_VERSION)
// What a plugin built for a future API answers: its own version, and no registration.
extern "C" GRADFLOW_PLUGIN_EXPORT int gradflow_plugin_init(const gradflow_host_info*,
                                                           gradflow_plugin_result* result) {
  result->api_version = GRADFLOW_PLUGIN_API_VERSION + 1;
  return GRADFLOW_PLUGIN_ERR_API_VERSION;
}
#else
#error "define one GF_TEST_* variant"
#endif
