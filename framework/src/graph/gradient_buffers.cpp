#include "graph/gradient_buffers.hpp"

#include <algorithm>
#include <stdexcept>

namespace gradflow {

namespace {

// ancestors[n][m]: a forward path leads from node m to node n (m != n).
std::vector<std::vector<bool>> forward_ancestors(const std::vector<ComputeNode>& nodes, const std::vector<Value>& values,
                                                 const std::vector<int>& order) {
  std::vector<std::vector<bool>> ancestors(nodes.size(), std::vector<bool>(nodes.size(), false));
  for (int n : order) {
    auto& mine = ancestors[static_cast<size_t>(n)];
    for (int v : nodes[static_cast<size_t>(n)].inputs) {
      const int p = values[static_cast<size_t>(v)].producer;
      if (p < 0) continue;
      mine[static_cast<size_t>(p)] = true;
      const auto& theirs = ancestors[static_cast<size_t>(p)];
      for (size_t m = 0; m < theirs.size(); ++m) mine[m] = mine[m] || theirs[m];
    }
  }
  return ancestors;
}

struct SharedBuffer {
  std::vector<int> consumers;  // the producers of the values whose gradients it held
  int64_t largest = 0;         // values per sample
};

}  // namespace

std::vector<std::unique_ptr<Tensor>> share_gradient_buffers(std::vector<ComputeNode>& nodes,
                                                            const std::vector<Value>& values,
                                                            const std::vector<int>& order,
                                                            const std::vector<GradientSlot>& slots) {
  const auto ancestors = forward_ancestors(nodes, values, order);
  std::vector<SharedBuffer> plan;
  std::vector<std::unique_ptr<Tensor>> buffers;
  for (const GradientSlot& slot : slots) {
    ComputeNode& reader = nodes[static_cast<size_t>(slot.reader)];
    const Value& value = values[static_cast<size_t>(reader.inputs[slot.input])];
    if (value.producer < 0) throw std::logic_error("a gradient slot for a graph input");
    const int64_t size = numel(value.sample_shape);
    auto after_every_consumer = [&](const SharedBuffer& b) {
      return std::all_of(b.consumers.begin(), b.consumers.end(), [&](int consumer) {
        return ancestors[static_cast<size_t>(consumer)][static_cast<size_t>(slot.reader)];
      });
    };
    // Best fit: the smallest buffer that is large enough, else the largest (it grows).
    int chosen = -1;
    for (size_t b = 0; b < plan.size(); ++b) {
      if (!after_every_consumer(plan[b])) continue;
      if (chosen < 0) {
        chosen = static_cast<int>(b);
        continue;
      }
      const SharedBuffer& best = plan[static_cast<size_t>(chosen)];
      const bool fits = plan[b].largest >= size, best_fits = best.largest >= size;
      if ((fits && (!best_fits || plan[b].largest < best.largest)) || (!fits && !best_fits && plan[b].largest > best.largest))
        chosen = static_cast<int>(b);
    }
    if (chosen < 0) {
      chosen = static_cast<int>(plan.size());
      plan.emplace_back();
      buffers.push_back(std::make_unique<Tensor>());
    }
    SharedBuffer& buffer = plan[static_cast<size_t>(chosen)];
    buffer.consumers.push_back(value.producer);
    buffer.largest = std::max(buffer.largest, size);
    reader.input_grad_ptrs[slot.input] = buffers[static_cast<size_t>(chosen)].get();
  }
  return buffers;
}

}  // namespace gradflow
