#!/usr/bin/env bash
# CI stage "cuda": the stand-alone CUDA build that GPU machines use (kernel library, kernel
# tests, tools; no MPI/HDF5/Kokkos), compiled with nvcc for a subset of the release
# architectures, then every CPU-side test of the backend (scripts/cuda_bench.sh's control flow
# included: CudaBenchScript.ControlFlow) and the tools' no-device behaviour.
# Machines without nvcc skip the stage with a message, except under CI (CI=true), where the
# backend must compile. Arguments go to ctest.
#   MINIATTN_CI_CUDA_ARCHS   architectures to compile (default "80-real;90-real"; the release
#                            build compiles 80, 89 and 90 with PTX: scripts/cuda_bench.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=$(nproc 2>/dev/null || echo 2)

nvcc=${CUDACXX:-$(command -v nvcc || true)}
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "cuda stage: nvcc not found (set CUDACXX or install the CUDA toolkit)" >&2
    exit 1
  fi
  echo "cuda stage: SKIPPED, nvcc not found (set CUDACXX or put nvcc on PATH)"
  exit 0
fi
archs=${MINIATTN_CI_CUDA_ARCHS:-80-real;90-real}
echo "cuda stage: $("$nvcc" --version | tail -1), architectures $archs"

cmake -S . -B build-cuda-ci -DCMAKE_BUILD_TYPE=Release -DMINIATTN_BUILD_APP=OFF -DMINIATTN_BUILD_TESTS=ON \
  -DMINIATTN_ENABLE_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" "-DMINIATTN_CUDA_ARCHITECTURES=$archs" >/dev/null
# The .cu objects are always recompiled so that the log holds ptxas's register report.
rm -f build-cuda-ci/src/CMakeFiles/miniattn_cuda.dir/kernels/cuda/*.cu.o
cmake --build build-cuda-ci -j"$jobs" 2>&1 | tee build-cuda-ci/build.log | grep -E "error|warning" || true
test "${PIPESTATUS[0]}" -eq 0

# ptxas must not spill more than a few bytes in the fused kernels (-Xptxas -v in the log).
python3 scripts/cuda_resources.py build-cuda-ci/build.log --max-spill 16

ctest --test-dir build-cuda-ci --output-on-failure --timeout 600 -j"$jobs" -R 'Cuda' "$@"

# The comparison script's table code on a bench CSV of the documented columns (no torch here).
cat >build-cuda-ci/bench_sample.csv <<'CSV'
device,batch,heads,seq,dim,causal,pv,kernel_ms,kernel_ms_min,tops,peak_tops,pct_peak,quant_ms,tops_with_quant,int8_peak_tops,bf16_peak_tflops
"sample",1,16,4096,128,1,bf16,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0
CSV
python3 scripts/cuda_vs_sdpa.py --ours build-cuda-ci/bench_sample.csv --no-torch | grep "^4096 " >/dev/null

# The GPU tools start and say why they cannot run where there is no device (exit 3); on a
# machine with a GPU the quick check runs for real.
set +e
build-cuda-ci/bin/miniattn-cuda-check --quick >build-cuda-ci/check.out 2>build-cuda-ci/check.err
rc=$?
set -e
if [ $rc -eq 3 ] && grep -q "no CUDA device" build-cuda-ci/check.err; then
  echo "miniattn-cuda-check without a device: exit 3, $(cat build-cuda-ci/check.err)"
elif [ $rc -ne 0 ]; then
  cat build-cuda-ci/check.out build-cuda-ci/check.err
  exit 1
else
  tail -1 build-cuda-ci/check.out
fi
