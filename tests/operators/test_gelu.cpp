// gelu (approximate none and tanh): numbers against PyTorch (tests/reference/torch_sequence_reference.py),
// gradients against finite differences, the vectorisable erf/exp/tanh of framework/src/compute/fast_math.hpp
// against the C library over a dense range, bit-identical results at 1 and 2 threads.
#include <catch2/catch.hpp>

#include <cmath>

#include "../../framework/src/compute/fast_math.hpp"
#include "sequence_cases.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {

double gelu_input_at(int64_t i) { return (static_cast<double>(i) - 7.0) * 0.61; }

// The largest |approx(x) - reference(x)| over x = from, from + step, ..., to, in double.
template <class Approx, class Reference>
double worst_error(Approx approx, Reference reference, double from, double to, double step) {
  double worst = 0.0;
  for (double v = from; v <= to; v += step) {
    const auto x = static_cast<float>(v);
    worst = std::max(worst, std::abs(static_cast<double>(approx(x)) - reference(static_cast<double>(x))));
  }
  return worst;
}

}  // namespace

TEST_CASE("gelu matches torch in both forms: output and input gradient", "[gelu][torch]") {
  for (const char* form : {"none", "tanh"}) {
    INFO("approximate " << form);
    auto op = make_op("gelu", {{"approximate", std::string(form)}});
    CHECK(op->infer_shape(std::vector<Shape>{{7}}) == Shape{7});
    check_one_step(*op, formula({2, 7}, gelu_input_at), std::string(form) == "none" ? kGeluNone : kGeluTanh);
  }
}

TEST_CASE("gelu gradients match finite differences", "[gelu][gradcheck]") {
  for (const char* form : {"none", "tanh"}) {
    INFO("approximate " << form);
    auto op = make_op("gelu", {{"approximate", std::string(form)}});
    const Tensor x = random_tensor({4, 9}, 13, -4.0, 4.0);
    prepare(*op, {x});
    gradcheck(*op, {x}, {true});
  }
}

TEST_CASE("fast erf, exp and tanh are within float rounding of the C library", "[gelu][math]") {
  // Every step of 1e-5 over [-6, 6] ([-9, 9] for tanh): erf within 1e-7 absolute (float
  // rounding near 1 is 6e-8), tanh within 6e-8; exp within 3 ulp relative over the range of
  // gelu's derivative.
  CHECK(worst_error(fast::erf, [](double x) { return std::erf(x); }, -6.0, 6.0, 1e-5) < 1e-7);
  CHECK(worst_error(fast::tanh, [](double x) { return std::tanh(x); }, -9.0, 9.0, 1e-5) < 6e-8);
  CHECK(worst_error([](float x) { return fast::exp(x) / static_cast<float>(std::exp(static_cast<double>(x))); },
                    [](double) { return 1.0; }, -87.0, 88.0, 1e-4) < 3.6e-7);
  CHECK(fast::erf(0.0f) == 0.0f);
  CHECK(fast::erf(-30.0f) == -1.0f);
  CHECK(fast::tanh(40.0f) == 1.0f);
  CHECK(fast::exp(0.0f) == 1.0f);
  CHECK(fast::exp(-1000.0f) > 0.0f);  // clamped: no denormal, no zero
}

TEST_CASE("gelu values and derivatives stay close to the exact formula for large inputs", "[gelu][math]") {
  auto op = make_op("gelu");
  const Tensor x({1, 6}, {-40.0f, -10.0f, -5.0f, 5.0f, 10.0f, 40.0f});
  prepare(*op, {x});
  Tensor y, gx;
  const std::vector<const Tensor*> in{&x};
  op->forward(in, y);
  Tensor g(x.shape());
  g.fill(1.0f);
  std::vector<Tensor*> grads{&gx};
  size_gradients(in, grads);  // as the model does before backward
  op->backward(in, y, g, grads);
  for (int64_t i = 0; i < 6; ++i) {
    const double v = x[i];
    CHECK(y[i] == Approx(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)))).margin(1e-6));
    const double d = 0.5 * (1.0 + std::erf(v / std::sqrt(2.0))) + v * std::exp(-0.5 * v * v) / std::sqrt(2.0 * M_PI);
    CHECK(gx[i] == Approx(d).margin(1e-6));
  }
}

TEST_CASE("gelu is bit-identical at 1 and 2 threads (transformer size [32, 128, 512])", "[gelu][threads]") {
  for (const char* form : {"none", "tanh"}) {
    auto op = make_op("gelu", {{"approximate", std::string(form)}});
    const Tensor x = random_tensor({32, 128, 512}, 14, -5.0, 5.0);
    prepare(*op, {x});
    CHECK(bit_identical(pass_at(1, *op, x), pass_at(2, *op, x)));
  }
}

TEST_CASE("gelu: approximate takes none or tanh", "[gelu][errors]") {
  const OpEntry& e = entry("gelu");
  REQUIRE(e.schema.attributes.size() == 1);
  CHECK(e.schema.attributes[0].choices == std::vector<std::string>{"none", "tanh"});
}
