#include <catch2/catch.hpp>

#include "gradcheck.hpp"

using namespace gradflow;
using namespace gradflow::test;

namespace {
using Ints = std::vector<int64_t>;

Shape reshaped(const Ints& shape, const Shape& in) {
  return make_op("reshape", {{"shape", shape}})->infer_shape(std::vector<Shape>{in});
}
}  // namespace

TEST_CASE("flatten: any sample to one axis, values unchanged", "[reshape]") {
  auto op = make_op("flatten");
  const std::vector<Tensor> inputs{random_tensor({2, 3, 2, 2}, 1)};
  CHECK(prepare(*op, inputs) == Shape{12});
  Tensor y, gx;
  op->forward(pointers(inputs), y);
  CHECK(y.shape() == Shape{2, 12});
  for (int64_t i = 0; i < y.size(); ++i) CHECK(y[i] == inputs[0][i]);
  const Tensor g = random_tensor({2, 12}, 2);
  std::vector<Tensor*> grads{&gx};
  size_gradients(pointers(inputs), grads);  // as the model does before backward
  op->backward(pointers(inputs), y, g, grads);
  CHECK(gx.shape() == Shape{2, 3, 2, 2});
  for (int64_t i = 0; i < g.size(); ++i) CHECK(gx[i] == g[i]);
}

TEST_CASE("reshape: the given shape, one axis inferred from -1", "[reshape]") {
  CHECK(reshaped({1, 28, 28}, {784}) == Shape{1, 28, 28});
  CHECK(reshaped({-1, 7}, {2, 7, 2}) == Shape{4, 7});
  CHECK(reshaped({3, -1}, {12}) == Shape{3, 4});
  CHECK(reshaped({-1}, {2, 3}) == Shape{6});
}

TEST_CASE("reshape: gradients match finite differences", "[reshape][gradcheck]") {
  auto op = make_op("reshape", {{"shape", Ints{2, -1}}});
  const std::vector<Tensor> inputs{random_tensor({3, 4, 1}, 3)};
  CHECK(prepare(*op, inputs) == Shape{2, 2});
  gradcheck(*op, inputs, {true});
}

TEST_CASE("reshape: a shape that changes the number of values, or has two -1, is refused", "[reshape]") {
  CHECK_THROWS_WITH(reshaped({4, 2}, {2, 3}), "reshape: cannot reshape [2, 3] (6 values) to [4, 2] (8 values)");
  CHECK_THROWS_WITH(reshaped({4, -1}, {2, 3}),
                    "reshape: cannot reshape [2, 3] (6 values) to [4, -1] (a multiple of 4 values)");
  CHECK_THROWS_WITH(make_op("reshape", {{"shape", Ints{-1, 2, -1}}}), "reshape: shape [-1, 2, -1] has more than one -1");
  CHECK_THROWS_WITH(make_op("reshape", {{"shape", Ints{-2, 2}}}),
                    "reshape: shape [-2, 2] may hold only sizes >= 1, 0 (copy the axis) and one -1, got -2");
}
