#!/usr/bin/env bash
# Stage "sve": cross-compiles the kernel library and its tests for aarch64 (build-aarch64/, with
# scripts/toolchains/aarch64-linux-gnu.cmake) and runs the sve backend's tests under qemu-user:
#   a64fx                                512-bit SVE, no BF16 (bf16 P.V widened for fmla)
#   a64fx,sve-default-vector-length=32   256-bit SVE: the code is vector-length agnostic
#   max,sve-max-vq=1                     128-bit SVE with BF16 (bf16 P.V with bfdot)
#   cortex-a57                           no SVE: the backend reports unsupported, auto avoids it
# with the emulation shape list (MINIATTN_TEST_SHAPES=emulation). Emulated timings mean
# nothing, so nothing here is timed. Before running, it checks that no function outside the
# sve backend contains SVE instructions (an inline function compiled with +sve and kept by the
# linker would crash the portable path on an aarch64 CPU without SVE).
#   ./scripts/ci/sve.sh [extra gtest arguments]
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=$(nproc 2>/dev/null || echo 2)
build=build-aarch64
sysroot=/usr/aarch64-linux-gnu

cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=scripts/toolchains/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release -DMINIATTN_BUILD_APP=OFF -DMINIATTN_WARNINGS_AS_ERRORS=ON >/dev/null
cmake --build "$build" -j"$jobs" --target miniattn_kernel_tests miniattn_kernel_digest
tests="$build/bin/miniattn_kernel_tests"

echo "--- SVE instructions only in the sve backend"
aarch64-linux-gnu-objdump -d --no-show-raw-insn -C "$tests" | awk '
  /^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ </, "", fn); sub(/>:$/, "", fn); next }
  /[ \t{,](z[0-9]+\.[bhsdq]|p[0-9]+(\.[bhsd]|\/[zm]))/ || /\t(cnt[bhwd]|rdvl|addvl|addpl|inc[bhwd]|dec[bhwd])(\t|$)/ { sve[fn] = 1 }
  /\tbf(dot|mmla|cvt|cvtnt|mlal[bt])(\t|$)/ { bf[fn] = 1 }
  END {
    for (f in sve) { n++; if (f !~ /sve/) { print "SVE code outside the sve backend: " f; bad++ } }
    for (f in bf) { m++; if (tolower(f) !~ /bf16|bfdot/) { print "BF16 code outside the bfdot kernels: " f; bad++ } }
    printf "%d functions with SVE code (%d with BF16), %d elsewhere\n", n, m, bad
    if (n == 0) { print "no SVE code found: is the sve backend built?"; bad++ }
    exit bad > 0 }'

echo "--- shell syntax of the Fugaku kit (scripts/fugaku; it runs only on Fugaku)"
for f in scripts/fugaku/*.sh; do bash -n "$f"; done

# Fresh inputs every run, like the native suite; a failing run prints its MINIATTN_TEST_SEED.

passed=0 skipped=0
run() {  # QEMU_CPU, expected SVE bits, expected SVE BF16, gtest filter
  echo "--- QEMU_CPU=$1"
  local log
  log=$(mktemp)
  if ! QEMU_LD_PREFIX=$sysroot QEMU_CPU=$1 MINIATTN_EXPECT_SVE_BITS=$2 MINIATTN_EXPECT_SVE_BF16=$3 \
      MINIATTN_TEST_SHAPES=emulation qemu-aarch64 "$tests" --gtest_filter="$4" --gtest_brief=1 \
      "${@:5}" >"$log" 2>&1; then
    cat "$log"
    rm -f "$log"
    echo "sve: tests failed under QEMU_CPU=$1"
    exit 1
  fi
  grep -E '^  sve |^\[  (PASSED|SKIPPED) +\] [0-9]+ test' "$log" || true
  passed=$((passed + $(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | head -1)))
  skipped=$((skipped + $(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | head -1 | grep . || echo 0)))
  rm -f "$log"
}

sve_tests='SveBackend.*:Sve/*'
run a64fx 512 0 "$sve_tests:Exp2.*:Quantize*:Rotation*" "$@"
run a64fx,sve-default-vector-length=32 256 0 "$sve_tests" "$@"
run max,sve-max-vq=1 128 1 "$sve_tests" "$@"
run cortex-a57 0 0 'SveBackend.*' "$@"
echo "sve: $passed passed, 0 failed, $skipped skipped"
