// Tensor value semantics at the edges: empty, scalar and zero-sized tensors.
#include <catch2/catch.hpp>

#include "gradflow/tensor.hpp"

using gradflow::Shape;
using gradflow::Tensor;

TEST_CASE("an empty tensor copies as empty; a scalar copies its value", "[tensor]") {
  const Tensor empty;
  const Tensor copy(empty);
  CHECK(copy.size() == 0);
  CHECK(copy.shape().empty());

  Tensor target(Shape{2, 3});
  target = empty;
  CHECK(target.size() == 0);
  CHECK(target.shape().empty());

  const Tensor scalar(Shape{}, {4.5f});
  const Tensor scalar_copy(scalar);
  REQUIRE(scalar_copy.size() == 1);
  CHECK(scalar_copy[0] == 4.5f);

  const Tensor zero_rows(Shape{0, 3});
  target = zero_rows;
  CHECK(target.size() == 0);
  CHECK(target.shape() == Shape{0, 3});
}

TEST_CASE("resize({dims}) gives the shape and its values, and keeps storage for the same shape", "[tensor]") {
  Tensor t;
  t.resize({});  // a default tensor holds nothing; [] holds one value
  CHECK(t.shape() == Shape{});
  CHECK(t.size() == 1);
  t.resize({2, 3});
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.size() == 6);
  t[5] = 4.0f;
  const float* storage = t.data();
  t.resize({2, 3});
  CHECK(t.data() == storage);
  CHECK(t[5] == 4.0f);
  t.resize({3, 1});
  CHECK(t.size() == 3);
  CHECK(t.data() == storage);  // smaller: the storage stays
}
