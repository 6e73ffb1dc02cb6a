// The avx512 library's quantisation entries (kernels/common/quantize_simd.hpp on 16 lanes): the
// Hadamard rotation, K/V statistics, Q and K rows, and V straight into the backend's packed key
// pairs and quads. Compiled with the library's ISA flags; called only where the CPU has AVX-512
// (F, BW, VL, DQ). Every result is bitwise the scalar definition's (kernels/common/quantize.hpp).
#pragma once

#include <cstdint>

#include "kernels/common/quantize.hpp"

namespace miniattn::avx512 {

// x <- x H for `rows` rows of d values, bitwise equal to rotation::hadamard_rows_scalar.
void hadamard_rows(float* x, int64_t rows, int d);

// quant::k_channel_sum (k_sum) and quant::v_channel_absmax (v_absmax); either may be null.
void kv_stats(const float* k, const float* v, int64_t n, int d, double* k_sum, float* v_absmax);

// quant::quantize_q_tile, and quant::smoothing_lse_shift where k_mean is not null.
void quantize_q(quant::QkQuant mode, const float* q, int rows, int d, const float* k_mean, double scale, int8_t* q8,
                float* q_scale, float* lse_shift);

// quant::quantize_k, and sums[j] = sum_c k8[j][c] (may be null).
void quantize_k(quant::QkQuant mode, const float* k, int64_t n, int d, const float* mean, int8_t* k8, float* scale,
                int32_t* sums);

// Keys [j0, j0 + n) of a block of block_n keys (v: the block's key 0), V as the P.V reads it:
// bf16 (round to nearest even) in key pairs [key / 2][d][2] (j0 even), or int8 with the channel
// maxima amax (quant::quantize_v_with_absmax) in key quads [key / 4][d][4] (j0 a multiple of 4);
// the keys from block_n to the end of the last pair or quad are 0.
void v_bf16_pairs(const float* v, int64_t j0, int64_t n, int64_t block_n, int d, uint16_t* v2);
void v_s8_quads(const float* v, int64_t j0, int64_t n, int64_t block_n, int d, const float* amax, int8_t* v4);

}  // namespace miniattn::avx512
