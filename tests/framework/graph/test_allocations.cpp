// A steady-state training step allocates nothing: every buffer is sized on the first batch
// and reused. Counted by replacing the global operator new in this test binary.
#include <tbb/global_control.h>

#include <catch2/catch.hpp>

#include "framework/graph_fixtures.hpp"
#include "gradflow/scheduler.hpp"
#include "support/count_allocations.hpp"

using namespace gradflow;
using gradflow::test::allocations;

namespace {
const char* const kMlp = R"(
seed: 1
inputs: {x: {shape: [16]}, y: {shape: [1]}}
nodes:
  - {name: fc1, op: linear, inputs: [x], units: 512}
  - {name: h1, op: relu, inputs: [fc1]}
  - {name: a, op: linear, inputs: [h1], units: 256}
  - {name: b, op: linear, inputs: [h1], units: 256}
  - {name: joined, op: concat, inputs: [a, b]}
  - {name: logits, op: linear, inputs: [joined], units: 4}
  - {name: loss, op: cross_entropy, inputs: [logits, y]}
  - {name: opt, op: adam, inputs: [loss]}
data:
  train:
    x: [[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16], [0,1,0,1,0,1,0,1,0,1,0,1,0,1,0,1]]
    y: [[3], [1]]
)";

}  // namespace

TEST_CASE("a steady-state training step makes no heap allocation", "[allocations]") {
  CHECK(test::allocations_per_steps(kMlp, SchedulePolicy::Sequential, 1) == 0);
  CHECK(test::allocations_per_steps(kMlp, SchedulePolicy::Parallel, 2) == 0);
}

TEST_CASE("the allocation counter counts", "[allocations]") {
  const int64_t before = allocations.load();
  auto* p = new std::vector<int>(100);
  delete p;
  CHECK(allocations.load() - before >= 1);
}
