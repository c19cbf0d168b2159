// layer_norm: torch.nn.LayerNorm over the last axis.
#include "families.hpp"

namespace gradflow::ops {

void register_layer_norm(Registrar& /*registrar*/) {}

}  // namespace gradflow::ops
