// Runs a model's forward and backward passes. Nodes run as soon as what they read is ready
// (oneTBB flow graph, built once, fired every step); a graph too small or too narrow to gain
// from tasks runs inline in topological order instead. Both give bit-identical results:
// every node writes its own buffers and fan-in sums happen in a fixed order.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradflow/diagnostics.hpp"

namespace gradflow {

enum class SchedulePolicy {
  Auto,        // inline when the step is cheap or the graph is a chain, tasks otherwise
  Sequential,  // always inline, in topological order
  Parallel,    // always the flow graph
};

// What one pass runs: `run(i)` for each node i, after all of `predecessors[i]` finished.
struct PassPlan {
  std::vector<std::vector<int>> predecessors;
  std::vector<int> order;  // a topological order of the nodes that run
};

class Scheduler {
 public:
  // One label per node ("node 'fc1' (op linear)") and, optionally, where the file defines it.
  Scheduler(PassPlan forward, PassPlan backward, std::vector<std::string> node_labels,
            std::vector<SourceLocation> node_places = {});
  ~Scheduler();

  void set_policy(SchedulePolicy policy) { policy_ = policy; }
  SchedulePolicy policy() const { return policy_; }
  // Whether the next pass would use tasks, given the step's estimated work in flops.
  bool uses_tasks(double step_flops) const;

  // Runs the pass; the first exception from a node stops the remaining ones and is rethrown
  // as NodeError naming the node.
  void run_forward(const std::function<void(int)>& run, double step_flops);
  void run_backward(const std::function<void(int)>& run, double step_flops);

 private:
  struct FlowPass;
  void run_pass(FlowPass& pass, const PassPlan& plan, const std::function<void(int)>& run,
                double step_flops, const char* pass_name);

  PassPlan forward_plan_, backward_plan_;
  std::vector<std::string> labels_;
  std::vector<SourceLocation> places_;
  std::unique_ptr<FlowPass> forward_, backward_;
  SchedulePolicy policy_ = SchedulePolicy::Auto;
  bool graph_is_chain_ = true;
};

// An operator failed while running: names the node, its op and the pass; where() is the node's line in the
// graph file.
struct NodeError : LocatedError {
  using LocatedError::LocatedError;
};

}  // namespace gradflow
