// Gradient slots share buffers only when one's consumer always runs its backward before the
// other's writer, whatever the schedule: a chain needs two buffers, parallel branches keep theirs.
#include <catch2/catch.hpp>

#include "framework/graph_fixtures.hpp"

using namespace gradflow;
using gradflow::test::build;

namespace {
std::string graph(const std::string& nodes) {
  return "graph: g\ninputs: {x: {shape: [3]}, y: {shape: [2]}}\nnodes:\n" + nodes +
         "  - {name: loss, op: mse, inputs: [out, y]}\n  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}\n";
}
}  // namespace

TEST_CASE("a chain's gradients take turns in two buffers", "[graph][memory]") {
  // Slots: loss->out (read by out's backward), out->h3, h3->h2, h2->h1: each written after the
  // backward that read the one two places before it.
  const auto model = build(graph("  - {name: h1, op: linear, inputs: [x], units: 4}\n"
                                 "  - {name: h2, op: relu, inputs: [h1]}\n"
                                 "  - {name: h3, op: linear, inputs: [h2], units: 4}\n"
                                 "  - {name: out, op: linear, inputs: [h3], units: 2}\n"));
  REQUIRE(model);
  CHECK(model->gradient_buffer_count() == 2);
}

TEST_CASE("parallel branches never share a gradient buffer", "[graph][memory]") {
  // h feeds two branches that may run their backward at the same time: a->h and b->h are live
  // together (and with add's slots for a and b, which add writes at once).
  const auto model = build(graph("  - {name: h, op: linear, inputs: [x], units: 4}\n"
                                 "  - {name: a, op: linear, inputs: [h], units: 2}\n"
                                 "  - {name: b, op: linear, inputs: [h], units: 2}\n"
                                 "  - {name: out, op: add, inputs: [a, b]}\n"));
  REQUIRE(model);
  // loss->out; out->a and out->b (written together); a->h and b->h may overlap each other and
  // out->b / out->a; only loss->out is free again once out's backward has run.
  CHECK(model->gradient_buffer_count() == 4);
}
