// OpenBLAS, loaded at run time so that gradflow can choose its kernels first.
#pragma once

#include <cblas.h>

#include <string>

namespace gradflow::kernels::blas {

using SgemmFn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, float,
                         const float*, blasint, const float*, blasint, float, float*, blasint);

// cblas_sgemm of OpenBLAS's serial build; loads the library on first use (thread-safe).
SgemmFn sgemm();
// The kernel family OpenBLAS runs ("SkylakeX", "Haswell", ...), for logs and the benchmark.
std::string core_name();

}  // namespace gradflow::kernels::blas
