#!/usr/bin/env bash
# Stage install: cmake --install of build/ into a scratch prefix, then tests/package (a project
# of its own) finds the package there and builds and runs against it: the kernels through
# miniattn::core with MPI, HDF5 and Kokkos hidden from CMake, then core and app together.
# Also checks that CMakePresets.json is valid.
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=$(nproc 2>/dev/null || echo 2)
prefix=$PWD/build/install-check
rm -rf "$prefix" build/package-core build/package-app

cmake --install build --prefix "$prefix" >/dev/null
for exe in miniattn miniattn-gen miniattn-verify miniattn-bench; do
  test -x "$prefix/bin/$exe" || { echo "install: $prefix/bin/$exe missing"; exit 1; }
done
"$prefix/bin/miniattn" --version

cmake -S tests/package -B build/package-core -DCMAKE_PREFIX_PATH="$prefix" --no-warn-unused-cli \
  -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON -DCMAKE_DISABLE_FIND_PACKAGE_HDF5=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_Kokkos=ON >/dev/null
cmake --build build/package-core -j"$jobs"
ctest --test-dir build/package-core --output-on-failure

cmake -S tests/package -B build/package-app -DCMAKE_PREFIX_PATH="$prefix" -DWANT_APP=ON >/dev/null
cmake --build build/package-app -j"$jobs"
ctest --test-dir build/package-app --output-on-failure

cmake --list-presets=all >/dev/null
echo "install: binaries, headers and find_package(miniattn) (core, app) work; presets parse"
