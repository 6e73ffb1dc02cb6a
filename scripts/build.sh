#!/usr/bin/env bash
# Configures and builds miniattn (Release) into build/; extra arguments go to CMake, e.g.
#   ./scripts/build.sh -DMINIATTN_ENABLE_KOKKOS=OFF
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j"$jobs"
