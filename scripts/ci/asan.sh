#!/usr/bin/env bash
# Stage asan: the unit tests (kernels, deck, memory estimate, HDF5 I/O) built with clang,
# AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer (CMakePresets.json:
# debug-asan, in build-asan/). Any sanitizer report fails its test. Arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=$(nproc 2>/dev/null || echo 2)
if [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
cmake --preset debug-asan >/dev/null
cmake --build --preset debug-asan -j"$jobs" \
  --target miniattn_kernel_tests miniattn_app_tests miniattn_io_tests
ctest --preset debug-asan -j"$jobs" "$@"
