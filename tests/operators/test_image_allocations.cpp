// A steady-state training step of a graph with every image operator allocates nothing: the
// im2col buffers, the weight-gradient partial sums and the argmax indices are sized on the
// first batch and reused. Its own binary: it replaces the global operator new.
#include <tbb/global_control.h>

#include <catch2/catch.hpp>

#include "framework/graph_fixtures.hpp"
#include "gradflow/scheduler.hpp"
#include "support/count_allocations.hpp"

using namespace gradflow;
using gradflow::test::allocations;

namespace {
const char* const kCnn = R"(
seed: 1
inputs: {x: {shape: [64]}, y: {shape: [1]}}
nodes:
  - {name: img, op: reshape, inputs: [x], shape: [1, 8, -1]}
  - {name: c1, op: conv2d, inputs: [img], out_channels: 4, kernel_size: 3, padding: 1}
  - {name: bn, op: batch_norm, inputs: [c1]}
  - {name: a1, op: relu, inputs: [bn]}
  - {name: p1, op: max_pool2d, inputs: [a1], kernel_size: 2}
  - {name: c2, op: conv2d, inputs: [p1], out_channels: 4, kernel_size: [3, 2], padding: 1, groups: 2}
  - {name: p2, op: avg_pool2d, inputs: [c2], kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}
  - {name: g, op: global_avg_pool, inputs: [p2]}
  - {name: f, op: flatten, inputs: [p1]}
  - {name: d, op: dropout, inputs: [f], p: 0.3}
  - {name: l1, op: linear, inputs: [d], units: 2}
  - {name: l2, op: linear, inputs: [g], units: 2}
  - {name: logits, op: add, inputs: [l1, l2]}
  - {name: loss, op: cross_entropy, inputs: [logits, y]}
  - {name: opt, op: adam, inputs: [loss]}
data:
  train:
    x: [[0, 3, 6, 2, 5, 1, 4, 0, 3, 6, 2, 5, 1, 4, 0, 3, 6, 2, 5, 1, 4, 0, 3, 6, 2, 5, 1, 4, 0, 3, 6, 2, 5, 1, 4, 0, 3, 6, 2, 5, 1, 4, 0, 3, 6, 2, 5, 1, 4, 0, 3, 6, 2, 5, 1, 4, 0, 3, 6, 2, 5, 1, 4, 0], [0, 5, 1, 6, 2, 7, 3, 8, 4, 0, 5, 1, 6, 2, 7, 3, 8, 4, 0, 5, 1, 6, 2, 7, 3, 8, 4, 0, 5, 1, 6, 2, 7, 3, 8, 4, 0, 5, 1, 6, 2, 7, 3, 8, 4, 0, 5, 1, 6, 2, 7, 3, 8, 4, 0, 5, 1, 6, 2, 7, 3, 8, 4, 0]]
    y: [[0], [1]]
)";

}  // namespace

TEST_CASE("a steady-state training step of a CNN with batch_norm and dropout makes no heap allocation", "[allocations][images]") {
  CHECK(test::allocations_per_steps(kCnn, SchedulePolicy::Sequential, 1) == 0);
  CHECK(test::allocations_per_steps(kCnn, SchedulePolicy::Parallel, 2) == 0);
}
