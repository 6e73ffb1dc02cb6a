// The avx512 library's quantisation entries (kernels/common/quantize_simd.hpp on 16 lanes): the
// Hadamard rotation, K/V statistics, Q and K rows, and V straight into the backend's packed key
// pairs and quads. Compiled with the library's ISA flags; called only where the CPU has AVX-512
// (F, BW, VL, DQ). Every result is bitwise the scalar definition's (kernels/common/quantize.hpp).
#pragma once

#include <cstdint>

#include "kernels/common/quantize.hpp"
#include "kernels/common/quantize_entries.hpp"

namespace miniattn::avx512 {

// The vector type of this library's quantisation (avx512_quantize.cpp) and its entries
// (kernels/common/quantize_entries.hpp): Quant::hadamard_rows, kv_stats, quantize_q, quantize_k.
struct QuantVec;
using Quant = quant_simd::Entries<QuantVec>;

// Keys [j0, j0 + n) of a block of block_n keys (v: the block's key 0), V as the P.V reads it:
// bf16 (round to nearest even) in key pairs [key / 2][d][2] (j0 even), or int8 with the channel
// maxima amax (quant::quantize_v_with_absmax) in key quads [key / 4][d][4] (j0 a multiple of 4);
// the keys from block_n to the end of the last pair or quad are 0.
void v_bf16_pairs(const float* v, int64_t j0, int64_t n, int64_t block_n, int d, uint16_t* v2);
void v_s8_quads(const float* v, int64_t j0, int64_t n, int64_t block_n, int d, const float* amax, int8_t* v4);

}  // namespace miniattn::avx512

extern template struct miniattn::quant_simd::Entries<miniattn::avx512::QuantVec>;
