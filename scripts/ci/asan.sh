#!/usr/bin/env bash
# Stage asan: the unit tests (kernels, deck, memory estimate, HDF5 I/O) built with clang,
# AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer (CMakePresets.json:
# debug-asan, in build-asan/), then one 2-rank run of the sanitized app. Any sanitizer report
# fails. Arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=$(nproc 2>/dev/null || echo 2)
if [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
# Kokkos built by clang as well (its OpenMP is libomp; a g++-built one would bring libgomp).
CXX=clang++ ./scripts/setup_kokkos.sh "$PWD/.deps/kokkos-clang"
cmake --preset debug-asan >/dev/null
cmake --build --preset debug-asan -j"$jobs" \
  --target miniattn_kernel_tests miniattn_app_tests miniattn_io_tests miniattn
ctest --preset debug-asan -j"$jobs" "$@"

# The driver itself (setup, preflight, read, attention, verify, write, report, progress) under
# the sanitizers: a GQA causal run on 2 ranks that writes its file and report.
out=build-asan/asan_run
mkdir -p "$out"
OMP_NUM_THREADS=2 ./scripts/mpirun -np 2 build-asan/bin/miniattn tests/mpi/decks/faults.toml \
  --verbose --set output.file=\"$out/run.h5\" --set output.report=\"$out/run.json\" >"$out/run.log" 2>&1 ||
  { cat "$out/run.log"; echo "asan: the sanitized 2-rank run failed"; exit 1; }
test -s "$out/run.h5" && test -s "$out/run.json"
grep "^MINIATTN |" "$out/run.log"
