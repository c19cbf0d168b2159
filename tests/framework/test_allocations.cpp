// A steady-state training step allocates nothing: every buffer is sized on the first batch
// and reused. Counted by replacing the global operator new in this test binary.
#include <tbb/global_control.h>

#include <catch2/catch.hpp>

#include "gradflow/scheduler.hpp"
#include "support/count_allocations.hpp"
#include "graph_fixtures.hpp"

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

int64_t allocations_per_steps(SchedulePolicy policy, int threads) {
  tbb::global_control control(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
  LoadedGraph loaded = test::load(kMlp);
  auto& model = loaded.model;
  const DataSets& data = loaded.data;
  model->scheduler().set_policy(policy);
  model->init_parameters(1);
  const std::vector<int64_t> batch = {0, 1, 1, 0, 1, 0, 0, 1};  // 8 samples: every path splits
  auto step = [&] {
    model->load_batch(data.train, batch);
    model->forward();
    model->backward();
    model->optimizer_step();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: buffers sized, TBB's pools filled
  const int64_t before = allocations.load();
  for (int i = 0; i < 20; ++i) step();
  return allocations.load() - before;
}
}  // namespace

TEST_CASE("a steady-state training step makes no heap allocation", "[allocations]") {
  CHECK(allocations_per_steps(SchedulePolicy::Sequential, 1) == 0);
  CHECK(allocations_per_steps(SchedulePolicy::Parallel, 2) == 0);
}

TEST_CASE("the allocation counter counts", "[allocations]") {
  const int64_t before = allocations.load();
  auto* p = new std::vector<int>(100);
  delete p;
  CHECK(allocations.load() - before >= 1);
}
