#!/usr/bin/env bash
# One command on a GPU machine (CMake, a C++17 compiler and nvcc; no MPI, HDF5, Kokkos or
# network needed): builds the stand-alone cuda backend, prints its register/spill report,
# checks correctness against the CPU quantiser (bitwise) and the float64 reference, benchmarks
# the fused kernel, and, where PyTorch with CUDA and torch.nn.attention.sdpa_kernel is
# importable, runs the same shapes through torch SDPA (bf16, flash backend).
#   ./scripts/cuda_bench.sh                   full check and sweep (L 1k/4k/16k, D 64/128)
#   QUICK=1 ./scripts/cuda_bench.sh           quick check, L 4k only
#   MINIATTN_CUDA_ARCHS="90-real" ...         architectures (default: this GPU's, else 80;89;90)
#   MINIATTN_CUDA_BUILD_DIR=dir ...           build and output directory (default build-gpu)
#   MINIATTN_CUDA_SKIP_BUILD=1 ...            no configure or build: run the binaries in that
#                                             directory, resources from its build.log
# Every step (nvidia-smi, configure, build, resources, check, bench, SDPA) reports its status and
# the script goes on wherever the next step can still run; a summary of the steps and, as the
# last line, "correctness: ..." end every run. A rerun recompiles the .cu objects, so that its
# build.log holds ptxas's register report again.
# Exit status: 0 the check passed; 1 it found a failure; 2 it rejected its arguments; 3 it
# could not finish (a CUDA error, a crash); 4 no usable GPU (no CUDA device of compute capability
# 8.0 or newer); 5 no binaries (nvcc or cmake missing, configure or build failed).
# Outputs in the build directory: configure.log, build.log, resources.txt, check.txt, bench.txt,
# bench.csv, sdpa.csv, and the tools' stderr in check.err, bench.err, sdpa.err.
set -uo pipefail  # not -e: every step's failure is reported and handled below
cd "$(dirname "$0")/.." || exit 5
jobs=$(nproc 2>/dev/null || echo 4)
out=${MINIATTN_CUDA_BUILD_DIR:-build-gpu}
mkdir -p "$out" || exit 5
# Results of an earlier run must not pass for this one's.
rm -f "$out"/{resources.txt,check.txt,check.err,bench.txt,bench.err,bench.csv,sdpa.csv,sdpa.err}

summary=()
report() {  # step, status
  summary+=("$(printf '%-11s %s' "$1" "$2")")
  echo "--- $1: $2"
}
finish() {  # exit status, correctness text
  echo "=== summary"
  printf '%s\n' "${summary[@]}"
  echo "correctness: $2"
  exit "$1"
}

echo "=== GPU (nvidia-smi)"
smi_cc=""
if ! command -v nvidia-smi >/dev/null 2>&1; then
  report nvidia-smi "not found: GPU not listed, architectures not detected"
elif smi=$(nvidia-smi --query-gpu=name,compute_cap,clocks.max.sm,memory.total --format=csv 2>&1); then
  echo "$smi"
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' ')
  [[ $cc =~ ^[0-9]+\.[0-9]$ ]] && smi_cc=${cc/./}
  report nvidia-smi "ok${smi_cc:+ (compute capability $cc)}"
else
  # Drivers before R510 lack the compute_cap field; without a driver nvidia-smi fails outright.
  echo "$smi" | head -3
  if names=$(nvidia-smi --query-gpu=name,clocks.max.sm,memory.total --format=csv 2>&1); then
    echo "$names"
    report nvidia-smi "no compute_cap field (driver older than R510?): architectures not detected"
  else
    report nvidia-smi "failed: $(echo "$smi" | head -1)"
  fi
fi
archs=${MINIATTN_CUDA_ARCHS:-}
[ -z "$archs" ] && [ -n "$smi_cc" ] && archs="${smi_cc}-real"
archs=${archs:-80-real;89-real;90}

if [ -n "${MINIATTN_CUDA_SKIP_BUILD:-}" ]; then
  report configure "skipped (MINIATTN_CUDA_SKIP_BUILD)"
  report build "skipped (MINIATTN_CUDA_SKIP_BUILD): binaries of $out/bin"
else
  nvcc=${CUDACXX:-$(command -v nvcc || true)}
  [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
  if [ -z "$nvcc" ]; then
    report configure "not run: nvcc not found (set CUDACXX or put nvcc on PATH)"
    finish 5 "not run: no build (nvcc not found)"
  fi
  if ! command -v cmake >/dev/null 2>&1; then
    report configure "not run: cmake not found"
    finish 5 "not run: no build (cmake not found)"
  fi
  echo "=== configure ($("$nvcc" --version 2>&1 | tail -1), architectures $archs)"
  cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DMINIATTN_BUILD_APP=OFF -DMINIATTN_BUILD_TESTS=OFF \
    -DMINIATTN_ENABLE_KOKKOS=OFF -DMINIATTN_ENABLE_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
    "-DMINIATTN_CUDA_ARCHITECTURES=$archs" >"$out/configure.log" 2>&1
  rc=$?
  if [ $rc -ne 0 ]; then
    tail -30 "$out/configure.log"
    report configure "FAILED (exit $rc, $out/configure.log)"
    finish 5 "not run: configure failed (see $out/configure.log)"
  fi
  report configure ok
  echo "=== build"
  # ptxas prints its register report only when it compiles, and a rerun would compile nothing:
  # the .cu objects are always rebuilt (seconds at one architecture).
  rm -f "$out"/src/CMakeFiles/miniattn_cuda.dir/kernels/cuda/*.cu.o
  t0=$SECONDS
  cmake --build "$out" -j"$jobs" >"$out/build.log" 2>&1
  rc=$?
  if [ $rc -ne 0 ]; then
    tail -40 "$out/build.log"
    report build "FAILED (exit $rc, $out/build.log)"
    finish 5 "not run: build failed (see $out/build.log)"
  fi
  report build "ok ($((SECONDS - t0)) s)"
fi
for tool in miniattn-cuda-check miniattn-bench-cuda; do
  if [ ! -x "$out/bin/$tool" ]; then
    report binaries "missing: $out/bin/$tool"
    finish 5 "not run: no $out/bin/$tool"
  fi
done

echo "=== resources (ptxas report in $out/build.log)"
if [ ! -f "$out/build.log" ]; then
  report resources "not reported: no $out/build.log"
else
  python3 scripts/cuda_resources.py "$out/build.log" >"$out/resources.txt" 2>&1
  rc=$?
  cat "$out/resources.txt"
  if [ $rc -eq 0 ]; then
    report resources ok
  else
    report resources "FAILED (exit $rc): $(tail -1 "$out/resources.txt")"
  fi
fi

echo "=== correctness (miniattn-cuda-check)"
check_args=()
[ -n "${QUICK:-}" ] && check_args+=(--quick)
"$out/bin/miniattn-cuda-check" ${check_args[@]+"${check_args[@]}"} 2>"$out/check.err" | tee "$out/check.txt"
check_rc=${PIPESTATUS[0]}
cat "$out/check.err" >&2
gpu=yes
case $check_rc in
  0 | 1)
    status=$check_rc
    correctness=$(tail -1 "$out/check.txt")
    correctness=${correctness:-"exit $check_rc, no output"}
    if [ "$check_rc" -eq 0 ]; then report check "passed"; else report check "FAILED: $correctness"; fi
    ;;
  *)
    why=$(tail -1 "$out/check.err")
    if [ "$check_rc" -eq 3 ] && grep -Eq "no CUDA device|compute capability" "$out/check.err"; then
      gpu=no
      status=4
      correctness="not run: no usable GPU (${why#miniattn-cuda-check: })"
      report check "not run: no usable GPU"
    else
      status=$((check_rc == 2 ? 2 : 3))
      correctness="aborted (exit $check_rc)${why:+: $why}"
      report check "ABORTED (exit $check_rc)"
    fi
    ;;
esac

echo "=== benchmark (miniattn-bench-cuda)"
if [ $gpu = no ]; then
  report bench "skipped (no usable GPU)"
else
  bench_args=(--csv "$out/bench.csv")
  [ -n "${QUICK:-}" ] && bench_args+=(--seq 4096 --dims 128)
  "$out/bin/miniattn-bench-cuda" "${bench_args[@]}" 2>"$out/bench.err" | tee "$out/bench.txt"
  rc=${PIPESTATUS[0]}
  cat "$out/bench.err" >&2
  if [ "$rc" -eq 0 ]; then
    report bench ok
  else
    # The CSV keeps the shapes measured before the failure; they are still compared.
    why=$(tail -1 "$out/bench.err")
    report bench "FAILED (exit $rc)${why:+: $why}"
  fi
fi

echo "=== PyTorch SDPA (bf16, flash) on the same shapes"
ours=()
[ -f "$out/bench.csv" ] && [ "$(wc -l <"$out/bench.csv")" -gt 1 ] && ours=(--ours "$out/bench.csv")
if [ $gpu = no ]; then
  report SDPA "skipped (no usable GPU)"
elif ! why=$(python3 scripts/cuda_vs_sdpa.py --check-torch 2>&1 | tail -1); then  # the reason is its last line
  report SDPA "skipped (${why:-python3 failed})"
  # miniattn's table alone
  [ ${#ours[@]} -gt 0 ] && python3 scripts/cuda_vs_sdpa.py "${ours[@]}" --no-torch
else
  sdpa_args=(--csv "$out/sdpa.csv")
  if [ ${#ours[@]} -gt 0 ]; then
    sdpa_args+=("${ours[@]}")
  elif [ -n "${QUICK:-}" ]; then
    sdpa_args+=(--seq 4096 --dims 128)  # SDPA alone, on the shapes the bench would have run
  fi
  python3 scripts/cuda_vs_sdpa.py "${sdpa_args[@]}" 2>"$out/sdpa.err"
  rc=$?
  cat "$out/sdpa.err" >&2
  if [ $rc -eq 0 ]; then
    report SDPA ok
  else
    why=$(tail -1 "$out/sdpa.err")
    report SDPA "FAILED (exit $rc)${why:+: $why}"
    [ ${#ours[@]} -gt 0 ] && python3 scripts/cuda_vs_sdpa.py "${ours[@]}" --no-torch
  fi
fi

finish "$status" "$correctness"
