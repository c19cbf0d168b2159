// The memory budget's side that Tensor uses: every allocation of tensor storage is charged
// before it happens and refunded when freed (the public half is in gradflow/tensor.hpp).
#pragma once

#include <cstdint>

#include "gradflow/tensor.hpp"

namespace gradflow::detail {

// Counts `bytes` against the budget, or throws std::length_error naming `shape` before
// anything is allocated.
void charge_budget(int64_t bytes, const Shape& shape);
void refund_budget(int64_t bytes) noexcept;

}  // namespace gradflow::detail
