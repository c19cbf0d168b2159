// OpenBLAS (its pthreads build, thread-safe for concurrent callers) is told to start no threads
// of its own: OPENBLAS_NUM_THREADS=1 before it loads. OpenBLAS picks its kernels once, when it is loaded, from the CPU model it recognises. A CPU
// newer than the library (0.3.21 here) is "unknown" and gets the generic SSE3 kernels, about a
// fifth of the speed of the AVX-512 ones on the same core. So gradflow does not link OpenBLAS:
// it loads it on first use, and when the user has not chosen (OPENBLAS_CORETYPE unset) it first
// names the kernel family that the CPU's features support, as newer OpenBLAS releases do.
#include "compute/blas.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace gradflow::kernels::blas {

namespace {

const char* core_for_this_cpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  if (__builtin_cpu_supports("avx")) return "Sandybridge";
  return nullptr;  // let OpenBLAS decide
}

struct Library {
  void* handle = nullptr;
  SgemmFn sgemm = nullptr;
  char* (*corename)() = nullptr;
};

const Library& library() {
  static Library lib;
  static std::once_flag once;
  std::call_once(once, [] {
    // One OpenBLAS thread per call: the calls themselves run in parallel on TBB's threads.
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    if (!std::getenv("OPENBLAS_CORETYPE"))
      if (const char* core = core_for_this_cpu()) setenv("OPENBLAS_CORETYPE", core, 0);
    lib.handle = dlopen(GRADFLOW_OPENBLAS_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib.handle) throw std::runtime_error(std::string("cannot load OpenBLAS: ") + dlerror());
    lib.sgemm = reinterpret_cast<SgemmFn>(dlsym(lib.handle, "cblas_sgemm"));
    lib.corename = reinterpret_cast<char* (*)()>(dlsym(lib.handle, "openblas_get_corename"));
    if (!lib.sgemm) throw std::runtime_error(std::string(GRADFLOW_OPENBLAS_LIBRARY) + " has no cblas_sgemm");
  });
  return lib;
}

}  // namespace

SgemmFn sgemm() { return library().sgemm; }

std::string core_name() {
  const Library& lib = library();
  return lib.corename ? lib.corename() : "unknown";
}

}  // namespace gradflow::kernels::blas
