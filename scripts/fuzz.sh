#!/usr/bin/env bash
# Runs the libFuzzer targets in fuzz/ (graph file, CSV, IDX, checkpoint) and the ONNX importer
# (tests/onnx/fuzz/) under ASan+UBSan.
# Usage: scripts/fuzz.sh [--smoke | --seconds N] [target...]
#   --smoke      30 s per target (CI)
#   --seconds N  N s per target (default 600: the longer run of docs/reliability.md)
#   targets      any of graph csv idx checkpoint onnx (default: all five)
# The build is the asan tree of scripts/sanitize.sh (build-asan/, or $GRADFLOW_ASAN_DIR).
# Each target starts from its committed seeds in fuzz/corpus/<target> (onnx: tests/onnx/fuzz/corpus,
# beside the ONNX tests that make those models) and grows a working
# corpus in <build>/fuzz-corpus/<target>; a finding (crash, sanitizer report, leak, timeout
# over 10 s, one allocation over the 8 GiB tensor limit, RSS over 3 GiB) is saved in
# <build>/fuzz-artifacts/<target>/ and makes
# the script exit non-zero. Reproduce one with: <build>/fuzz/fuzz_<target> ARTIFACT
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=600
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) seconds=30 ;;
    --seconds) seconds=$2; shift ;;
    graph|csv|idx|checkpoint|onnx) targets+=("$1") ;;
    *) echo "fuzz.sh: unknown argument '$1' (expected --smoke, --seconds N or a target)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=(graph csv idx checkpoint onnx)
dir=${GRADFLOW_ASAN_DIR:-$root/build-asan}
# The tree links the shared sanitizer runtime (scripts/sanitize.sh); libFuzzer's link order puts
# libstdc++ before it, so it is preloaded to come first.
asan_rt=$(clang++-14 -print-file-name=libclang_rt.asan-x86_64.so)

bash scripts/sanitize.sh fuzzers >/dev/null

status=0
for t in "${targets[@]}"; do
  work="$dir/fuzz-corpus/$t" art="$dir/fuzz-artifacts/$t/" run="$dir/fuzz-run/$t"
  mkdir -p "$work" "$art" "$run"
  seeds="$root/fuzz/corpus/$t"
  [ "$t" = onnx ] && seeds="$root/tests/onnx/fuzz/corpus"
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="$root/fuzz/$t.dict")
  echo "== fuzz $t: ${seconds}s"
  # cwd is an empty directory, so relative data paths a graph names resolve to nothing.
  if (cd "$run" && LD_PRELOAD="$asan_rt" ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
      LSAN_OPTIONS="suppressions=$root/tests/reliability/lsan.supp:print_suppressions=0" \
      UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
      "$dir/fuzz/fuzz_$t" "$work" "$seeds" "${dict[@]}" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=3072 -malloc_limit_mb=8300 \
        -max_len=16384 -artifact_prefix="$art" -print_final_stats=1 >"$run/log" 2>&1); then
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" "$run/log" | tr '\n' ' '
    echo
  else
    status=1
    echo "fuzz $t: FINDING (artifact in $art)"
    tail -n 60 "$run/log"
  fi
done
exit $status
