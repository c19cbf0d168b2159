// `graph-runner ops` lists the image operators' attributes with their types and defaults, a
// default that names another attribute included.
#include <catch2/catch.hpp>

#include "tools/runner.hpp"

using gradflow::test::run_graph_runner;

TEST_CASE("graph-runner ops prints integer pairs, lists and their defaults", "[images][e2e]") {
  const auto result = run_graph_runner("ops");
  REQUIRE(result.status == 0);
  const std::string& out = result.output;
  CHECK_THAT(out, Catch::Contains("    kernel_size      integer or [h, w] required       window height and width\n"));
  CHECK_THAT(out, Catch::Contains("    padding          integer or [h, w] = 0            zeros added on each side\n"));
  CHECK_THAT(out, Catch::Contains("    stride           integer or [h, w] = kernel_size  step between windows\n"));
  CHECK_THAT(out, Catch::Contains("    shape            list of integers  required       the sample's new shape"));
  CHECK_THAT(out, Catch::Contains("\nconv2d           layer     inputs 1    2-D convolution over a [C, H, W] image"));
}
