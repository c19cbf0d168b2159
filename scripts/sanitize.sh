#!/usr/bin/env bash
# Builds gradflow with sanitizers (clang 14) and runs the whole test suite under them.
# Usage: scripts/sanitize.sh [asan|tsan|all|fuzzers] [ctest args...]     (default: all)
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer), build-asan/.
#         The same tree carries libFuzzer coverage instrumentation, so scripts/fuzz.sh
#         reuses it instead of building a third tree.
#   tsan  ThreadSanitizer, build-tsan/ (the oneTBB scheduler and parallel kernels), against a
#         oneTBB built with TSan from Debian's source package (scripts/tsan_tbb.sh), with
#         the suppressions in tests/reliability/tsan.supp (each one explained there).
#   fuzzers  only builds the libFuzzer targets of the asan tree (used by scripts/fuzz.sh).
# Any sanitizer report fails the test that triggered it (halt_on_error / exitcode).
# allocation_tests is left out of both: it replaces the global operator new/delete to count
# allocations, which measures the sanitizer's allocator, and ASan reports its malloc/free
# pairing against the runtime's own operator new as alloc-dealloc-mismatch.
# Build directories can be moved with GRADFLOW_ASAN_DIR / GRADFLOW_TSAN_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-all}
[ $# -gt 0 ] && shift
bash scripts/setup.sh --data --test --sanitize >/dev/null

jobs=$(nproc)
# Ten epochs of Fashion-MNIST take minutes under the sanitizers; the Release suite runs them.
export GRADFLOW_SKIP_SLOW=1
# Nested builds in the tests (the out-of-tree plugin SDK) must use the same compiler: a plugin's
# build fingerprint names it, and gradflow refuses a plugin built by another.
export CC=clang-14 CXX=clang++-14
common=(-DCMAKE_CXX_COMPILER=clang++-14
        -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g"
        -DGRADFLOW_BUILD_BENCH=OFF)

# ASan: the shared sanitizer runtime, because plugins are linked with --no-undefined
# (cmake/gradflowPlugin.cmake) and clang's default static runtime lives only in executables.
# TSan: the static runtime (the shared one crashes before it is initialised, when
# libquadmath's constructor, pulled in by OpenBLAS, calls calloc), and shared libraries are
# linked with -z undefs (after the plugins' --no-undefined, so it wins): their __tsan_*
# references resolve against the executable's runtime at load time.
rtdir=$(dirname "$(clang++-14 -print-file-name=libclang_rt.asan-x86_64.so)")

configure() {  # dir flags exe-link-flags shared-link-flags extra-cmake-args...
  local dir=$1 flags=$2 exe_link=$3 shared_link=$4
  shift 4
  cmake -S "$root" -B "$dir" "${common[@]}" \
    -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="$exe_link" -DCMAKE_SHARED_LINKER_FLAGS="$shared_link" \
    -DCMAKE_MODULE_LINKER_FLAGS="$shared_link" "$@" >/dev/null
}

asan_flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -fsanitize=fuzzer-no-link"
asan_link="$asan_flags -shared-libsan -Wl,-rpath,$rtdir"

configure_build() {  # as configure
  configure "$@"
  cmake --build "$1" -j "$jobs"
}

run_asan() {
  local dir=${GRADFLOW_ASAN_DIR:-$root/build-asan}
  echo "== sanitize: ASan+UBSan build in $dir"
  configure_build "$dir" "$asan_flags" "$asan_link" "$asan_link" -DGRADFLOW_BUILD_FUZZERS=ON
  echo "== sanitize: ASan+UBSan ctest"
  ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  LSAN_OPTIONS="suppressions=$root/tests/reliability/lsan.supp:print_suppressions=0" \
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" -E "allocation_tests" "$@"
}

run_tsan() {
  local dir=${GRADFLOW_TSAN_DIR:-$root/build-tsan}
  local flags="-fsanitize=thread -fno-omit-frame-pointer"
  local tbb
  tbb=$(bash scripts/tsan_tbb.sh | tail -n 1)
  echo "== sanitize: TSan build in $dir (oneTBB instrumented too: $tbb)"
  configure "$dir" "$flags" "$flags" "$flags -Wl,-z,undefs" -DTBB_DIR="$tbb/lib/cmake/TBB"
  # allocation_tests and image_allocation_tests replace the global operator new/delete, which
  # TSan's static runtime defines too: they cannot link here, and are the only targets allowed
  # to fail (both names end in allocation_tests).
  if ! cmake --build "$dir" -j "$jobs" -- -k 2>&1 | tee "$dir/build.log"; then
    if grep -E "\*\*\* \[.*CMakeFiles/" "$dir/build.log" | grep -qv "allocation_tests"; then
      echo "sanitize: TSan build failed" >&2; exit 1
    fi
    echo "== sanitize: TSan: allocation_tests skipped (it replaces operator new/delete)"
  fi
  echo "== sanitize: TSan ctest"
  # The tests that install gradflow into a prefix run binaries whose install rpath does not name
  # the instrumented oneTBB; without this they would load Debian's and report its tasks as races.
  # That path also reaches Debian's python3-torch, whose own libtbb dependency then resolves to
  # the instrumented one and fails to load without TSan's runtime: the tests that import torch
  # (every tools:torch_loads_* checkpoint check; ONNX models from torch.onnx.export: the import,
  # folding and zoo tests, and the ONNX walk-through) run in the Release and ASan trees only.
  LD_LIBRARY_PATH="$tbb/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=$root/tests/reliability/tsan.supp" \
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" \
      -E "allocation_tests|tools:torch_loads_|onnx_import_torch|onnx_import_fold|onnx_zoo_subset|onnx_docs" "$@"
}

build_fuzzers() {  # the ASan tree's libFuzzer targets only (scripts/fuzz.sh)
  local dir=${GRADFLOW_ASAN_DIR:-$root/build-asan}
  configure "$dir" "$asan_flags" "$asan_link" "$asan_link" -DGRADFLOW_BUILD_FUZZERS=ON
  cmake --build "$dir" -j "$jobs" --target fuzz_graph fuzz_csv fuzz_idx fuzz_checkpoint fuzz_onnx
}

case "$mode" in
  fuzzers) build_fuzzers ;;
  asan) run_asan "$@" ;;
  tsan) run_tsan "$@" ;;
  all) run_asan "$@"; run_tsan "$@" ;;
  *) echo "sanitize.sh: unknown mode '$mode' (expected asan, tsan, all or fuzzers)" >&2; exit 2 ;;
esac
