// The avx2 library's quantisation entries (kernels/common/quantize_simd.hpp on 8 lanes): the
// Hadamard rotation, K/V statistics, Q and K rows, and K/V straight into the backend's packed
// forms. Compiled with the library's ISA flags (AVX2 + FMA); called only where the CPU has them.
// Every result is bitwise the scalar definition's (kernels/common/quantize.hpp).
#pragma once

#include <cstdint>

#include "kernels/common/quantize.hpp"

namespace miniattn::avx2 {

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

// count int8 values widened to int16.
void widen_s8(const int8_t* x, int64_t count, int16_t* out);

// count values of V rounded to bf16 (nearest even), kept as floats.
void v_bf16_floats(const float* v, int64_t count, float* out);

// Keys [j0, j0 + n) of a block of block_n keys (v: the block's key 0; j0 even), V quantised with
// the channel maxima amax (quant::quantize_v_with_absmax) as int16 key pairs [key / 2][d][2]; the
// key after block_n in the last pair is 0.
void v_s16_pairs(const float* v, int64_t j0, int64_t n, int64_t block_n, int d, const float* amax, int16_t* v16);

}  // namespace miniattn::avx2
