#include "families.hpp"
#include "gradflow/registry.hpp"

namespace gradflow {

// Every family of GRADFLOW_OPERATOR_FAMILIES (operators/CMakeLists.txt), in its order.
void register_builtin_operators(Registrar& registrar) {
#define GRADFLOW_OPERATOR_FAMILY(family) ops::register_##family(registrar);
#include "operator_families.inc"
#undef GRADFLOW_OPERATOR_FAMILY
}

}  // namespace gradflow
