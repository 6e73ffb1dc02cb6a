#!/usr/bin/env bash
# The whole test suite, as CI runs it: the CTest suite of build/ (unit, MPI, tools), then the
# stages that need a build of their own (scripts/ci/<stage>.sh). Each stage prints its name and
# time; the first failure stops the run with a non-zero exit.
#   ./scripts/test.sh                 every stage
#   ./scripts/test.sh ctest -L mpi    one stage; arguments after the name go to that stage
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

stages=(ctest sve cuda asan fuzz install)

run_stage() {
  local name=$1
  shift
  echo "=== stage $name"
  local t0=$SECONDS
  case $name in
    ctest) ctest --test-dir build --output-on-failure --timeout 600 -j"$jobs" "$@" ;;
    *) "./scripts/ci/$name.sh" "$@" ;;
  esac
  echo "=== stage $name passed in $((SECONDS - t0)) s"
}

if [ $# -gt 0 ]; then
  run_stage "$@"
else
  for s in "${stages[@]}"; do run_stage "$s"; done
fi
