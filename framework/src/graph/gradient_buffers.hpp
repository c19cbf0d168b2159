// Gradient buffers shared by the slots whose lifetimes never overlap, whatever the schedule.
#pragma once

#include <memory>
#include <vector>

#include "gradflow/model.hpp"

namespace gradflow {

// The gradient slot of input `input` of node `reader`: written by the reader's backward, read
// by the backward of the value's producer.
struct GradientSlot {
  int reader = -1;
  size_t input = 0;
};

// Gives every slot a buffer and returns the buffers. A slot B takes a buffer only if, for every
// slot A already in it, B's reader is a forward ancestor of A's consumer (the producer of A's
// value): B's reader then runs its backward after that consumer's in every schedule, sequential
// or parallel, because backward follows the edges of the graph in reverse. In a chain of layers
// a handful of buffers serve every gradient; without sharing each slot held a batch's worth.
// `slots` come in backward order (the sequential schedule's), which the first fit follows.
std::vector<std::unique_ptr<Tensor>> share_gradient_buffers(std::vector<ComputeNode>& nodes,
                                                            const std::vector<Value>& values,
                                                            const std::vector<int>& order,
                                                            const std::vector<GradientSlot>& slots);

}  // namespace gradflow
