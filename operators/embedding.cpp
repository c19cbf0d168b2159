// embedding and positional_embedding: token and position vectors (torch.nn.Embedding).
#include "families.hpp"

namespace gradflow::ops {

void register_embedding(Registrar& /*registrar*/) {}

}  // namespace gradflow::ops
