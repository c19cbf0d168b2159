// The scheduler runs independent branches at the same time, gives bit-identical results for
// any thread count and either policy, and reports a failing node by name.
#include <tbb/global_control.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "framework/graph_fixtures.hpp"
#include "gradflow/scheduler.hpp"
#include "gradflow/trainer.hpp"

using namespace gradflow;
using Clock = std::chrono::steady_clock;

namespace {

AttrSpec optional_attr(std::string name, AttrType type, AttrValue default_value) {
  AttrSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  spec.default_value = std::move(default_value);
  return spec;
}

// A test operator that busy-waits in forward and records when it ran; `fail: true` throws.
class SpinOp final : public Operator {
 public:
  explicit SpinOp(const Attributes& a) : millis_(a.get_int("millis")), fail_(a.get_bool("fail")) {}
  static OpSchema schema() {
    return {"spin", OpKind::Layer, "identity that spins (scheduler tests)", 1, 1,
            {optional_attr("millis", AttrType::Int, int64_t{0}), optional_attr("fail", AttrType::Bool, false)}};
  }
  Shape infer_shape(std::span<const Shape> in) override { return in[0]; }
  void forward(std::span<const Tensor* const> in, Tensor& out) override {
    if (fail_) throw std::runtime_error("boom");
    const auto start = Clock::now();
    while (Clock::now() - start < std::chrono::milliseconds(millis_)) {
    }
    out = *in[0];
    std::lock_guard lock(mutex);
    intervals.push_back({start, Clock::now()});
  }
  void backward(std::span<const Tensor* const>, const Tensor&, const Tensor& g, std::span<Tensor* const> gi) override {
    if (gi[0]) *gi[0] = g;
  }
  static inline std::mutex mutex;
  static inline std::vector<std::pair<Clock::time_point, Clock::time_point>> intervals;

 private:
  int64_t millis_;
  bool fail_;
};

Registry& test_registry() {
  static Registry registry = [] {
    Registry r;
    r.register_all("built-in", register_builtin_operators);
    r.register_all("scheduler tests", [](Registrar& reg) { reg.add<SpinOp>(); });
    return r;
  }();
  return registry;
}

LoadedGraph load_with_test_ops(const std::string& yaml) { return test::load(yaml, test_registry()); }

const char* const kTwoSpinningBranches = R"(
inputs: {x: {shape: [4]}}
nodes:
  - {name: left, op: spin, inputs: [x], millis: 150}
  - {name: right, op: spin, inputs: [x], millis: 150}
  - {name: joined, op: add, inputs: [left, right]}
data:
  train: {x: [[1, 2, 3, 4]]}
)";

// A graph wide and large enough that both the flow graph and the tiled kernels engage:
// a shared trunk read by two towers (fan-out gradients) joined by concat.
std::string wide_graph() {
  std::string x = "[", y = "[";
  Rng rng(5);
  for (int i = 0; i < 300; ++i) {
    x += "[";
    for (int j = 0; j < 32; ++j) x += std::to_string(rng.uniform(-1, 1)) + (j < 31 ? "," : "");
    x += i < 299 ? "]," : "]";
    y += "[" + std::to_string(rng.below(5)) + (i < 299 ? "]," : "]");
  }
  return R"(
seed: 3
inputs: {x: {shape: [32]}, y: {shape: [1]}}
nodes:
  - {name: trunk, op: linear, inputs: [x], units: 256}
  - {name: shared, op: tanh, inputs: [trunk]}
  - {name: a_fc, op: linear, inputs: [shared], units: 256}
  - {name: a, op: relu, inputs: [a_fc]}
  - {name: b_fc, op: linear, inputs: [shared], units: 256}
  - {name: b, op: sigmoid, inputs: [b_fc]}
  - {name: joined, op: concat, inputs: [a, b]}
  - {name: logits, op: linear, inputs: [joined], units: 5}
  - {name: loss, op: cross_entropy, inputs: [logits, y]}
  - {name: opt, op: adam, inputs: [loss], lr: 0.01}
data:
  train: {x: )" + x + "], y: " + y + "]}\n";
}

std::vector<double> loss_curve(int threads, SchedulePolicy policy) {
  tbb::global_control control(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));
  LoadedGraph loaded = test::load(wide_graph());
  auto& model = loaded.model;
  const DataSets& data = loaded.data;
  model->scheduler().set_policy(policy);
  model->init_parameters(model->spec().seed);
  Trainer trainer(*model, TrainOptions::batches(64, true, 3));
  std::vector<double> losses;
  for (int epoch = 0; epoch < 4; ++epoch) losses.push_back(trainer.train_epoch(data.train, epoch).loss);
  for (const ParamRef& p : model->parameters())
    losses.insert(losses.end(), p.value->data(), p.value->data() + std::min<int64_t>(16, p.value->size()));
  return losses;
}

}  // namespace

TEST_CASE("independent branches overlap in time under the flow graph", "[scheduler]") {
  tbb::global_control control(tbb::global_control::max_allowed_parallelism, 2);
  LoadedGraph loaded = load_with_test_ops(kTwoSpinningBranches);
  auto& model = loaded.model;
  const DataSets& data = loaded.data;
  model->scheduler().set_policy(SchedulePolicy::Parallel);
  model->load_batch(data.train, std::vector<int64_t>{0});
  SpinOp::intervals.clear();
  model->forward();
  REQUIRE(SpinOp::intervals.size() == 2);
  const auto [a_start, a_end] = SpinOp::intervals[0];
  const auto [b_start, b_end] = SpinOp::intervals[1];
  CHECK(a_start < b_end);
  CHECK(b_start < a_end);  // the second began before the first ended
  CHECK(model->values()[static_cast<size_t>(model->find_value("joined"))].data[3] == 8.0f);
}

TEST_CASE("the sequential policy runs the same branches one after the other", "[scheduler]") {
  LoadedGraph loaded = load_with_test_ops(kTwoSpinningBranches);
  auto& model = loaded.model;
  const DataSets& data = loaded.data;
  model->scheduler().set_policy(SchedulePolicy::Sequential);
  model->load_batch(data.train, std::vector<int64_t>{0});
  SpinOp::intervals.clear();
  model->forward();
  REQUIRE(SpinOp::intervals.size() == 2);
  CHECK(SpinOp::intervals[0].second <= SpinOp::intervals[1].first);
}

TEST_CASE("a chain or a tiny step runs inline under the auto policy", "[scheduler]") {
  auto xor_model = test::build(test::kXor);
  CHECK_FALSE(xor_model->scheduler().uses_tasks(1e12));  // a chain: nothing could overlap
  auto wide = test::build(wide_graph());
  CHECK_FALSE(wide->scheduler().uses_tasks(1e3));
  CHECK(wide->scheduler().uses_tasks(1e9));
}

TEST_CASE("loss curves are bit-identical for 1 and 2 threads and either policy", "[scheduler][determinism]") {
  const auto reference = loss_curve(1, SchedulePolicy::Sequential);
  CHECK(reference.front() > reference[3]);  // it learns
  CHECK(loss_curve(2, SchedulePolicy::Parallel) == reference);
  CHECK(loss_curve(1, SchedulePolicy::Parallel) == reference);
  CHECK(loss_curve(2, SchedulePolicy::Sequential) == reference);
}

TEST_CASE("an exception in a node names the node, op and pass", "[scheduler]") {
  const std::string yaml = test::replace(kTwoSpinningBranches, "{name: right, op: spin, inputs: [x], millis: 150}",
                                         "{name: right, op: spin, inputs: [x], fail: true}");
  for (auto policy : {SchedulePolicy::Sequential, SchedulePolicy::Parallel}) {
    LoadedGraph loaded = load_with_test_ops(yaml);
    auto& model = loaded.model;
    const DataSets& data = loaded.data;
    model->scheduler().set_policy(policy);
    model->load_batch(data.train, std::vector<int64_t>{0});
    REQUIRE_THROWS_WITH(model->forward(), "node 'right' (op spin) failed in the forward pass: boom");
    // The graph stays usable after a failed step.
    REQUIRE_THROWS_WITH(model->forward(), "node 'right' (op spin) failed in the forward pass: boom");
  }
}
