#!/usr/bin/env bash
# Stage fuzz: every libFuzzer target of tests/fuzz (built by the debug-asan preset: ASan and
# UBSan on) replays its committed seeds, then fuzzes for FUZZ_SECONDS (default 60) from them,
# the targets side by side. A crash, sanitizer report, leak or timeout fails the stage and
# leaves the input in build-asan/fuzz/<target>-crash-*; reproduce with
#   build-asan/bin/fuzz_<target> build-asan/fuzz/<target>-crash-...
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=$(nproc 2>/dev/null || echo 2)
seconds=${FUZZ_SECONDS:-60}
targets=(deck h5_input)
if [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# Kokkos built by clang as well (its OpenMP is libomp; a g++-built one would bring libgomp).
CXX=clang++ ./scripts/setup_kokkos.sh "$PWD/.deps/kokkos-clang"
cmake --preset debug-asan >/dev/null
cmake --build --preset debug-asan -j"$jobs" --target "${targets[@]/#/fuzz_}"
ctest --test-dir build-asan -L fuzz --output-on-failure

out=build-asan/fuzz
mkdir -p "$out"
pids=()
for t in "${targets[@]}"; do
  rm -rf "$out/$t-corpus" && mkdir -p "$out/$t-corpus"
  # New inputs go to the scratch corpus; the committed seeds are read only.
  "build-asan/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/$t-" "$out/$t-corpus" "tests/fuzz/$t" \
    >"$out/$t.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  if wait "${pids[$i]}"; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | tail -n 1 | grep -o '[0-9]*$' || echo "?")
    echo "fuzz_$t: ${seconds} s, $runs inputs, no crash"
  else
    failed=1
    echo "fuzz_$t FAILED; the end of its log ($out/$t.log):"
    tail -n 60 "$out/$t.log"
    ls -d "$out/$t-"crash-* "$out/$t-"leak-* "$out/$t-"timeout-* "$out/$t-"oom-* 2>/dev/null || true
  fi
done
exit $failed
