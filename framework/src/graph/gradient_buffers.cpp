#include "graph/gradient_buffers.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace gradflow {

namespace {

// Which nodes lead to which along forward paths, as one row of bits per node: rows are merged a
// 64-bit word at a time, so an imported graph of 20,000 nodes takes milliseconds, not seconds.
class ForwardAncestors {
 public:
  ForwardAncestors(const std::vector<ComputeNode>& nodes, const std::vector<Value>& values, const std::vector<int>& order)
      : words_((nodes.size() + 63) / 64), bits_(nodes.size() * words_, 0) {
    for (int n : order) {
      uint64_t* mine = row(n);
      for (int v : nodes[static_cast<size_t>(n)].inputs) {
        const int p = values[static_cast<size_t>(v)].producer;
        if (p < 0) continue;
        mine[static_cast<size_t>(p) / 64] |= uint64_t{1} << (static_cast<size_t>(p) % 64);
        const uint64_t* theirs = row(p);
        for (size_t w = 0; w < words_; ++w) mine[w] |= theirs[w];
      }
    }
  }

  // A forward path leads from node m to node n (m != n).
  bool leads(int m, int n) const {
    return (bits_[static_cast<size_t>(n) * words_ + static_cast<size_t>(m) / 64] >> (static_cast<size_t>(m) % 64)) & 1u;
  }

 private:
  uint64_t* row(int n) { return bits_.data() + static_cast<size_t>(n) * words_; }

  size_t words_;
  std::vector<uint64_t> bits_;
};

struct SharedBuffer {
  std::vector<int> consumers;  // the producers of the values whose gradients it held
  int64_t largest = 0;         // values per sample
};

}  // namespace

std::vector<std::unique_ptr<Tensor>> share_gradient_buffers(std::vector<ComputeNode>& nodes,
                                                            const std::vector<Value>& values,
                                                            const std::vector<int>& order,
                                                            const std::vector<GradientSlot>& slots) {
  const ForwardAncestors ancestors(nodes, values, order);
  std::vector<SharedBuffer> plan;
  std::vector<std::unique_ptr<Tensor>> buffers;
  for (const GradientSlot& slot : slots) {
    ComputeNode& reader = nodes[static_cast<size_t>(slot.reader)];
    const Value& value = values[static_cast<size_t>(reader.inputs[slot.input])];
    if (value.producer < 0) throw std::logic_error("a gradient slot for a graph input");
    const int64_t size = numel(value.sample_shape);
    auto after_every_consumer = [&](const SharedBuffer& b) {
      return std::all_of(b.consumers.begin(), b.consumers.end(), [&](int consumer) {
        return ancestors.leads(slot.reader, consumer);
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
