// The GPU machine's tools, as library functions (the lent GPU machine has no GoogleTest, MPI or
// HDF5): a correctness check against the float64 reference and a benchmark. Thin mains in
// src/tools/ call them; miniattn-bench can hand `--backend cuda` to bench_main as well.
#pragma once

#include <cstdio>

namespace miniattn::cuda {

// miniattn-cuda-check [--quick] [--seed N]: every check prints one table row; returns the
// number of failed checks (0 = all passed), or throws miniattn::Error (no device, bad args).
int check_main(int argc, char** argv, std::FILE* out);

// miniattn-bench-cuda [--seq 1024,4096,16384] [--dims 64,128] [--causal 0,1] [--pv bf16,int8]
//   [--bh N] [--heads 16] [--warmup 5] [--repeat 20] [--csv FILE]
// Times the fused kernel (CUDA events, median, inputs rotated across sets larger than L2) and
// the on-device quantisation; prints a table and writes a CSV for scripts/cuda_vs_sdpa.py.
int bench_main(int argc, char** argv, std::FILE* out);

}  // namespace miniattn::cuda
