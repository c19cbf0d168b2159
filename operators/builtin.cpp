#include "gradflow/registry.hpp"

namespace gradflow {

void register_builtin_operators(Registrar& /*registrar*/) {}

}  // namespace gradflow
