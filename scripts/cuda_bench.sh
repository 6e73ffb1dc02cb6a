#!/usr/bin/env bash
# One command on a GPU machine (CMake, a C++17 compiler and nvcc; no MPI, HDF5, Kokkos or
# network needed): builds the stand-alone cuda backend, prints its register/spill report,
# checks correctness against the CPU quantiser (bitwise) and the float64 reference, benchmarks
# the fused kernel, and, where PyTorch with CUDA is importable, runs the same shapes through
# torch SDPA (bf16, flash backend). The comparison table is printed last.
#   ./scripts/cuda_bench.sh                   full check and sweep (L 1k/4k/16k, D 64/128)
#   QUICK=1 ./scripts/cuda_bench.sh           quick check, L 4k only
#   MINIATTN_CUDA_ARCHS="90-real" ...         architectures (default: this GPU's, else 80;89;90)
# Outputs in build-gpu/: build.log, resources.txt, check.txt, bench.txt, bench.csv, sdpa.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 4)
out=build-gpu
mkdir -p "$out"

nvcc=${CUDACXX:-$(command -v nvcc || true)}
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
[ -n "$nvcc" ] || { echo "cuda_bench: nvcc not found (set CUDACXX)" >&2; exit 2; }
archs=${MINIATTN_CUDA_ARCHS:-}
if [ -z "$archs" ] && command -v nvidia-smi >/dev/null; then
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  [ -n "$cc" ] && archs="${cc}-real"
fi
archs=${archs:-80-real;89-real;90}
nvidia-smi --query-gpu=name,compute_cap,clocks.max.sm,memory.total --format=csv 2>/dev/null || true

echo "=== build ($("$nvcc" --version | tail -1), architectures $archs)"
cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DMINIATTN_BUILD_APP=OFF -DMINIATTN_BUILD_TESTS=OFF \
  -DMINIATTN_ENABLE_OPENMP=OFF -DMINIATTN_ENABLE_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
  "-DMINIATTN_CUDA_ARCHITECTURES=$archs" >"$out/configure.log"
cmake --build "$out" -j"$jobs" >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
python3 scripts/cuda_resources.py "$out/build.log" | tee "$out/resources.txt"

echo "=== correctness (miniattn-cuda-check)"
check_args=()
[ -n "${QUICK:-}" ] && check_args+=(--quick)
set +e
"$out/bin/miniattn-cuda-check" ${check_args[@]+"${check_args[@]}"} | tee "$out/check.txt"
check_rc=${PIPESTATUS[0]}
set -e

echo "=== benchmark (miniattn-bench-cuda)"
bench_args=(--csv "$out/bench.csv")
[ -n "${QUICK:-}" ] && bench_args+=(--seq 4096 --dims 128)
"$out/bin/miniattn-bench-cuda" "${bench_args[@]}" | tee "$out/bench.txt"

echo "=== PyTorch SDPA (bf16, flash) on the same shapes"
if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  python3 scripts/cuda_vs_sdpa.py --ours "$out/bench.csv" --csv "$out/sdpa.csv"
else
  echo "(PyTorch with CUDA not importable: SDPA comparison skipped)"
  python3 scripts/cuda_vs_sdpa.py --ours "$out/bench.csv" --no-torch
fi
echo "correctness: $(tail -1 "$out/check.txt")"
exit "$check_rc"
