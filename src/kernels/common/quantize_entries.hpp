// The quantisation entries an x86 ISA library exports: the passes of quantize_simd.hpp on the
// library's vector type V, declared here for code compiled without the library's ISA flags (the
// backend glue, the rotation dispatch, the tests) and instantiated once, explicitly, by the
// library's own quantize .cpp. Each library's header names its V and its `Quant` alias and
// declares the instantiation extern. Every result is bitwise the scalar definition's
// (kernels/common/quantize.hpp).
#pragma once

#include <cstdint>

#include "kernels/common/quantize.hpp"

namespace miniattn::quant_simd {

template <class V>
struct Entries {
  // x <- x H for `rows` rows of d values, bitwise equal to rotation::hadamard_rows_scalar.
  static void hadamard_rows(float* x, int64_t rows, int d);

  // quant::k_channel_sum (k_sum) and quant::v_channel_absmax (v_absmax); either may be null.
  static void kv_stats(const float* k, const float* v, int64_t n, int d, double* k_sum, float* v_absmax);

  // quant::quantize_q_tile, and quant::smoothing_lse_shift where k_mean is not null.
  static void quantize_q(quant::QkQuant mode, const float* q, int rows, int d, const float* k_mean, double scale,
                         int8_t* q8, float* q_scale, float* lse_shift);

  // quant::quantize_k, and sums[j] = sum_c k8[j][c] (may be null).
  static void quantize_k(quant::QkQuant mode, const float* k, int64_t n, int d, const float* mean, int8_t* k8,
                         float* scale, int32_t* sums);
};

}  // namespace miniattn::quant_simd
