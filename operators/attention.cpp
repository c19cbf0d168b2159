// multihead_attention: self-attention as torch.nn.MultiheadAttention(batch_first=True).
#include "families.hpp"

namespace gradflow::ops {

void register_attention(Registrar& /*registrar*/) {}

}  // namespace gradflow::ops
