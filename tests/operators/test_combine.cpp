#include <catch2/catch.hpp>

#include "gradcheck.hpp"

using namespace gradflow;
using namespace gradflow::test;

TEST_CASE("concat: joins along the last axis", "[combine]") {
  auto op = make_op("concat");
  const std::vector<Tensor> inputs{Tensor({2, 1}, {1, 2}), Tensor({2, 2}, {10, 11, 20, 21})};
  CHECK(prepare(*op, inputs) == Shape{3});
  Tensor y;
  op->forward(pointers(inputs), y);
  REQUIRE(y.shape() == Shape{2, 3});
  CHECK(std::vector<float>(y.values().begin(), y.values().end()) ==
        std::vector<float>{1, 10, 11, 2, 20, 21});
}

TEST_CASE("concat: gradient on rank-2 samples", "[combine][gradcheck]") {
  auto op = make_op("concat");
  const std::vector<Tensor> inputs{random_tensor({2, 3, 2}, 24), random_tensor({2, 3, 1}, 25),
                                   random_tensor({2, 3, 4}, 26)};
  CHECK(prepare(*op, inputs) == Shape{3, 7});
  gradcheck(*op, inputs, {true, true, true});
}

TEST_CASE("concat: mismatched leading dimensions are a ShapeError", "[combine][errors]") {
  auto op = make_op("concat");
  REQUIRE_THROWS_AS(op->infer_shape(std::vector<Shape>{{4, 3}, {2, 3}}), ShapeError);
  REQUIRE_THROWS_WITH(op->infer_shape(std::vector<Shape>{{4, 3}, {2, 3}}),
                      "concat: input 1 has shape [2, 3] but input 0 has shape [4, 3]; all "
                      "dimensions but the last must be equal");
}
