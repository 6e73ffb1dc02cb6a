#!/usr/bin/env bash
# Builds miniattn with GCC (>= 10, for -mcpu=a64fx) on an A64FX Linux node, e.g. a Fugaku
# compute node in an interactive job. See docs/a64fx.md.
#   scripts/fugaku/build_gcc.sh [BUILD_DIR] [extra CMake arguments]
#   scripts/fugaku/build_gcc.sh build-a64fx-gcc -DMINIATTN_BUILD_APP=OFF   # kernels, tests
#   scripts/fugaku/build_gcc.sh build-a64fx-gcc -DMINIATTN_BUILD_APP=OFF -DKokkos_ROOT=$KOKKOS
#                                                                           # + miniattn-bench
# The full app needs MPI, parallel HDF5, Kokkos with OpenMP (spack install kokkos+openmp),
# toml++, CLI11, nlohmann-json and fmt; miniattn-bench needs Kokkos; the kernel library and its
# tests need none.
# A64FX has no BF16: the bfdot kernels are built without it and never called.
# Not run by the project (no A64FX access): report what breaks.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-a64fx-gcc}
shift || true
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER="${CC:-gcc}" -DCMAKE_CXX_COMPILER="${CXX:-g++}" \
  -DMINIATTN_ENABLE_SVE=ON -DMINIATTN_SVE_FLAGS="-mcpu=a64fx" -DMINIATTN_SVE_BF16_FLAGS="" "$@"
cmake --build "$build" -j"$(nproc)"
echo "built $build; check with: $build/bin/miniattn --list-backends (sve must say supported)"
