// One registration function per operator family, declared from the one list of families
// (GRADFLOW_OPERATOR_FAMILIES in operators/CMakeLists.txt); builtin.cpp calls them all,
// through the same Registrar a plugin receives.
#pragma once

#include "gradflow/registry.hpp"

namespace gradflow::ops {

#define GRADFLOW_OPERATOR_FAMILY(family) void register_##family(Registrar& registrar);
#include "operator_families.inc"
#undef GRADFLOW_OPERATOR_FAMILY

}  // namespace gradflow::ops
