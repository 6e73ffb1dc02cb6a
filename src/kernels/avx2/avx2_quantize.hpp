// The avx2 library's quantisation entries (kernels/common/quantize_simd.hpp on 8 lanes): the
// Hadamard rotation, K/V statistics, Q and K rows, and K/V straight into the backend's packed
// forms. Compiled with the library's ISA flags (AVX2 + FMA); called only where the CPU has them.
// Every result is bitwise the scalar definition's (kernels/common/quantize.hpp).
#pragma once

#include <cstdint>

#include "kernels/common/quantize.hpp"
#include "kernels/common/quantize_entries.hpp"

namespace miniattn::avx2 {

// The vector type of this library's quantisation (avx2_quantize.cpp) and its entries
// (kernels/common/quantize_entries.hpp): Quant::hadamard_rows, kv_stats, quantize_q, quantize_k.
struct QuantVec;
using Quant = quant_simd::Entries<QuantVec>;

// count int8 values widened to int16.
void widen_s8(const int8_t* x, int64_t count, int16_t* out);

// count values of V rounded to bf16 (nearest even), kept as floats.
void v_bf16_floats(const float* v, int64_t count, float* out);

// Keys [j0, j0 + n) of a block of block_n keys (v: the block's key 0; j0 even), V quantised with
// the channel maxima amax (quant::quantize_v_with_absmax) as int16 key pairs [key / 2][d][2]; the
// key after block_n in the last pair is 0.
void v_s16_pairs(const float* v, int64_t j0, int64_t n, int64_t block_n, int d, const float* amax, int16_t* v16);

}  // namespace miniattn::avx2

extern template struct miniattn::quant_simd::Entries<miniattn::avx2::QuantVec>;
