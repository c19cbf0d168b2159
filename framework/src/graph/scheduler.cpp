#include "gradflow/scheduler.hpp"

#include <tbb/flow_graph.h>

#include <atomic>
#include <deque>
#include <exception>
#include <mutex>

namespace gradflow {

namespace {
// Below this much work per step a task costs more than it can win back: a spawn and steal is
// a few microseconds, while a step of 10^6 flops takes ~100 us on one core.
constexpr double kTaskWorthwhileFlops = 1e6;

// True when the plan's order is the only one: every node depends on the one before it, so
// no two nodes could ever run at the same time.
bool is_chain(const PassPlan& plan) {
  for (size_t k = 1; k < plan.order.size(); ++k) {
    const auto& preds = plan.predecessors[static_cast<size_t>(plan.order[k])];
    if (std::find(preds.begin(), preds.end(), plan.order[k - 1]) == preds.end()) return false;
  }
  return true;
}
}  // namespace

// One oneTBB flow graph per pass, built once: a broadcast start node and a continue_node per
// graph node. continue_node counts its predecessors and resets itself, so firing `start`
// again runs the next step.
struct Scheduler::FlowPass {
  tbb::flow::graph graph;
  tbb::flow::broadcast_node<tbb::flow::continue_msg> start{graph};
  std::deque<tbb::flow::continue_node<tbb::flow::continue_msg>> nodes;
  const std::function<void(int)>* run = nullptr;
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  int failed_node = -1;

  explicit FlowPass(const PassPlan& plan) {
    std::vector<tbb::flow::continue_node<tbb::flow::continue_msg>*> by_id(plan.predecessors.size(), nullptr);
    for (int id : plan.order) {
      nodes.emplace_back(graph, [this, id](const tbb::flow::continue_msg&) { body(id); });
      by_id[static_cast<size_t>(id)] = &nodes.back();
    }
    for (int id : plan.order) {
      const auto& preds = plan.predecessors[static_cast<size_t>(id)];
      if (preds.empty()) tbb::flow::make_edge(start, *by_id[static_cast<size_t>(id)]);
      for (int p : preds) tbb::flow::make_edge(*by_id[static_cast<size_t>(p)], *by_id[static_cast<size_t>(id)]);
    }
  }

  // Exceptions never leave a body: the first is kept, later nodes skip their work, and
  // successors still fire so the graph drains and wait_for_all() returns.
  void body(int id) {
    if (failed.load(std::memory_order_acquire)) return;
    try {
      (*run)(id);
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) {
        error = std::current_exception();
        failed_node = id;
      }
      failed.store(true, std::memory_order_release);
    }
  }
};

Scheduler::Scheduler(PassPlan forward, PassPlan backward, std::vector<std::string> node_labels,
                     std::vector<SourceLocation> node_places)
    : forward_plan_(std::move(forward)),
      backward_plan_(std::move(backward)),
      labels_(std::move(node_labels)),
      places_(std::move(node_places)),
      forward_(std::make_unique<FlowPass>(forward_plan_)),
      backward_(std::make_unique<FlowPass>(backward_plan_)),
      graph_is_chain_(is_chain(forward_plan_)) {}

Scheduler::~Scheduler() = default;

bool Scheduler::uses_tasks(double step_flops) const {
  switch (policy_) {
    case SchedulePolicy::Sequential: return false;
    case SchedulePolicy::Parallel: return true;
    case SchedulePolicy::Auto: return !graph_is_chain_ && step_flops >= kTaskWorthwhileFlops;
  }
  return false;
}

void Scheduler::run_forward(const std::function<void(int)>& run, double step_flops) {
  run_pass(*forward_, forward_plan_, run, step_flops, "forward");
}

void Scheduler::run_backward(const std::function<void(int)>& run, double step_flops) {
  run_pass(*backward_, backward_plan_, run, step_flops, "backward");
}

void Scheduler::run_pass(FlowPass& pass, const PassPlan& plan, const std::function<void(int)>& run,
                         double step_flops, const char* pass_name) {
  auto fail = [&](int node, const std::exception_ptr& error) {
    const auto n = static_cast<size_t>(node);
    const SourceLocation where = n < places_.size() ? places_[n] : SourceLocation{};
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      throw NodeError(labels_[n] + " failed in the " + pass_name + " pass: " + e.what(), where);
    } catch (...) {
      throw NodeError(labels_[n] + " failed in the " + pass_name + " pass: unknown exception", where);
    }
  };
  if (!uses_tasks(step_flops)) {
    for (int id : plan.order) {
      try {
        run(id);
      } catch (...) {
        fail(id, std::current_exception());
      }
    }
    return;
  }
  pass.run = &run;
  pass.failed.store(false);
  pass.error = nullptr;
  pass.start.try_put(tbb::flow::continue_msg());
  pass.graph.wait_for_all();
  if (pass.error) {
    pass.graph.reset();
    fail(pass.failed_node, pass.error);
  }
}

}  // namespace gradflow
