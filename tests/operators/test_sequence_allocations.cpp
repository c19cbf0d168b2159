// A steady-state training step of a small transformer allocates nothing: attention's per-thread
// scratch, layer_norm's row statistics, the embedding's id list and the loss's log-sum-exps
// are sized on the first batch and reused. Its own binary: it replaces the global operator new.
#include <catch2/catch.hpp>

#include "gradflow/scheduler.hpp"
#include "support/count_allocations.hpp"

using namespace gradflow;

namespace {
// graphs/fortunes_transformer.yaml in small: one pre-norm block with both gelu forms and
// attention dropout, so every sequence operator and its training path runs.
const char* const kTransformer = R"(
seed: 1
inputs: {x: {shape: [8]}, y: {shape: [8]}}
nodes:
  - {name: embed, op: embedding, inputs: [x], num_embeddings: 16, embedding_dim: 16}
  - {name: pos, op: positional_embedding, inputs: [embed], max_length: 8}
  - {name: ln1, op: layer_norm, inputs: [pos]}
  - {name: attn, op: multihead_attention, inputs: [ln1], num_heads: 2, causal: true, dropout: 0.1}
  - {name: res1, op: add, inputs: [pos, attn]}
  - {name: ln2, op: layer_norm, inputs: [res1]}
  - {name: fc1, op: linear, inputs: [ln2], units: 32}
  - {name: act, op: gelu, inputs: [fc1]}
  - {name: fc2, op: linear, inputs: [act], units: 16}
  - {name: act2, op: gelu, inputs: [fc2], approximate: tanh}
  - {name: res2, op: add, inputs: [res1, act2]}
  - {name: head, op: linear, inputs: [res2], units: 16}
  - {name: loss, op: cross_entropy, inputs: [head, y]}
  - {name: opt, op: adamw, inputs: [loss]}
data:
  train:
    x: [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 0]]
    y: [[2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 0, 1]]
)";
}  // namespace

TEST_CASE("a steady-state training step of a transformer makes no heap allocation", "[allocations][sequences]") {
  CHECK(test::allocations_per_steps(kTransformer, SchedulePolicy::Sequential, 1) == 0);
  CHECK(test::allocations_per_steps(kTransformer, SchedulePolicy::Parallel, 2) == 0);
}
