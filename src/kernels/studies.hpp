// miniattn-bench's kernel studies (the seeds' measurements, rerun per backend): the vectorised
// exp2 row and stage 2. Bench-only, so not part of the kernel interface (kernel.hpp): each ISA
// folder implements them in its *_studies.cpp and kernel_studies() finds them by backend name.
#pragma once

#include <cstdint>
#include <string_view>

#include "miniattn/attn_params.hpp"

namespace miniattn {

enum class Stage2Kind { FusedPerK, TwoPass, PureGemm };

class KernelStudies {
 public:
  virtual ~KernelStudies() = default;
  // y = 2^x over n values with the backend's vectorised exp2 of the given form.
  virtual void exp2_row(Exp2Kind e, const float* x, float* y, int64_t n) const = 0;
  // The seeds' stage 2 (seed 001): O[m x d] = exp2(s * scale - row_max) . V[nc x d], with s
  // int32 m x nc row-major, V nc x d fp32, O overwritten, accurate exp2. FusedPerK computes
  // each row's exp2 inside the k loop; TwoPass runs exp2 over the whole chunk into scratch
  // (m x nc floats), then a GEMM; PureGemm is the GEMM alone on P = scratch as the caller left
  // it, the bound of the other two.
  virtual void stage2(Stage2Kind kind, int m, int nc, int d, const int32_t* s, float scale,
                      const float* row_max, const float* v, float* o, float* scratch) const = 0;
};

// The studies of a backend ("portable", "avx512", "avx2", "sve"), as create_backend(name) would
// run them on this machine; null when it has none, is not built, or cannot run here.
const KernelStudies* kernel_studies(std::string_view backend);

}  // namespace miniattn
