#!/usr/bin/env bash
# The README's order: the main job configures before Open MPI is installed, the test command
# installs it and configures the same build again. The second configure must find MPI (the
# default, AUTO, is decided at every configure) and register the distributed tests; the first
# must say in its summary that they were not built. Installing is simulated: the first
# configure runs with find_package(MPI) disabled. Usage: reconfigure_finds_mpi.sh SOURCE_DIR
set -euo pipefail
src=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/gradflow-reconf.XXXXXX")
trap 'rm -rf "$work"' EXIT
configure() {
  cmake -S "$src" -B "$work" -DGRADFLOW_BUILD_BENCH=OFF "$@" >"$work.log" 2>&1 || { cat "$work.log"; exit 1; }
  grep "data-parallel training" "$work.log"
}
listed() { ctest --test-dir "$work" -N | grep -o 'distributed:[a-z_]*' | sort | tr '\n' ' '; }

configure -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON
grep -q "data-parallel training (MPI): not built: no MPI found" "$work.log" || { echo "FAIL: first configure"; exit 1; }
[ "$(listed)" = "distributed:not_built " ] || { echo "FAIL: without MPI, tests: $(listed)"; exit 1; }
ctest --test-dir "$work" -R distributed:not_built >"$work.ctest" 2>&1
grep -A1 "The following tests did not run" "$work.ctest" | grep -q "distributed:not_built (Skipped)" ||
  { cat "$work.ctest"; echo "FAIL: the summary does not say the distributed tests were skipped"; exit 1; }

configure -DCMAKE_DISABLE_FIND_PACKAGE_MPI=OFF
grep -q "data-parallel training (MPI): built" "$work.log" || { echo "FAIL: second configure did not find MPI"; exit 1; }
case "$(listed)" in
  *distributed:matches_single*) ;;
  *) echo "FAIL: after installing MPI, tests: $(listed)"; exit 1 ;;
esac
grep -q "GRADFLOW_WITH_MPI:STRING=AUTO" "$work/CMakeCache.txt" || { echo "FAIL: the choice is not AUTO"; exit 1; }
rm -f "$work.log" "$work.ctest"
echo "PASS"
