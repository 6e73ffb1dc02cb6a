#!/usr/bin/env bash
# Configures and builds miniattn (Release) into build/ against the threaded Kokkos of
# scripts/setup_kokkos.sh (.deps/kokkos); extra arguments go to CMake, e.g. a Kokkos of your own:
#   ./scripts/build.sh -DKokkos_ROOT=/opt/kokkos-4.6
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
# The threaded Kokkos that scripts/setup_kokkos.sh builds, unless the arguments name another.
kokkos=()
if [ -d .deps/kokkos ] && [[ " $* " != *" -DKokkos_ROOT="* ]] && [[ " $* " != *" -DKokkos_DIR="* ]]; then
  kokkos=(-DKokkos_ROOT="$PWD/.deps/kokkos")
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${kokkos[@]+"${kokkos[@]}"} "$@"
cmake --build build -j"$jobs"
