// AVX2 building blocks shared by the avx2 kernels and their studies: the three exp2 forms on 8
// lanes (the algorithms of kernels/common/exp2.hpp without AVX-512's vscalefps, masks and
// two-table permutes), the integer multiply-accumulate steps, and small helpers. Compiled only
// inside the avx2 object library (-mavx2 -mfma).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/common/exp2.hpp"

namespace miniattn::avx2 {

// ---------------------------------------------------------------------------------------------
// Integer multiply-accumulate steps, acc += a . b over int16 pairs (vpmaddwd) or u8 x s8 quads
// (vpdpbusd), all exact in int32.
//
// Without VNNI the int8 operands are sign-extended to int16 once, at pack time, and every step
// is vpmaddwd + vpaddd: 16 products per 8 lanes. The alternative that keeps int8 operands,
// vpsignb + vpmaddubsw + vpmaddwd(ones) + vpaddd (|q| as u8, k with q's sign, so that no
// int16 pair sum saturates), does 32 products in four instructions, but three of them issue on
// the same two vector-multiply ports (Zen 4 and Intel client cores alike): 1.5 cycles per 32
// products against 1 cycle for two vpmaddwd. Measured here: 0.65 vs 1.0 steps of 32 products
// per cycle (studies: peak loops).
//
// AVX-VNNI (VEX vpdpbusd / vpdpwssd on ymm; Alder Lake and later, Zen 5) fuses the add. It is
// issued from asm so that no -mavxvnni is needed here and the instruction runs only where the
// CPU reports it; GCC 12 also copies asm-free dot-product accumulators through temporaries (see
// avx512_simd.hpp). `Evex` selects the AVX512-VNNI + AVX512VL encoding of the same instruction
// on ymm registers: identical results, for testing the VNNI code path on AVX-512 machines.
// ---------------------------------------------------------------------------------------------
inline __m256i madd16(__m256i acc, __m256i a, __m256i b) {
#if defined(__GNUC__) && !defined(__clang__)
  // GCC 12 writes vpaddd's sum to a fresh register and copies it back to the accumulator (one
  // vmovdqa per step); asm with a read-write accumulator keeps it in place.
  __m256i t;
  __asm__("vpmaddwd %[a], %[b], %[t]\n\tvpaddd %[t], %[acc], %[acc]" : [acc] "+x"(acc), [t] "=&x"(t) : [a] "x"(a), [b] "x"(b));
  return acc;
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

template <bool Evex>
inline __m256i dpbusd(__m256i acc, __m256i a_u8, __m256i b_s8) {
  if constexpr (Evex) __asm__("%{evex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a_u8), "x"(b_s8));
  else __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a_u8), "x"(b_s8));
  return acc;
}

template <bool Evex>
inline __m256i dpwssd(__m256i acc, __m256i a, __m256i b) {
  if constexpr (Evex) __asm__("%{evex%} vpdpwssd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(b));
  else __asm__("%{vex%} vpdpwssd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(b));
  return acc;
}

// ---------------------------------------------------------------------------------------------
// exp2. Domain as in exp2.hpp: x <= 0 up to rounding residue, 0 for x < -125, -inf and NaN.
// ---------------------------------------------------------------------------------------------
inline constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: x + magic rounds x to an integer

// 0 where !(x >= -125): also -inf and NaN (NaN arises on padding rows and q_scale = 0 rows).
inline __m256 keep_domain(__m256 x, __m256 y) {
  return _mm256_and_ps(y, _mm256_cmp_ps(x, _mm256_set1_ps(exp2::kExp2Floor), _CMP_GE_OQ));
}

// y * 2^n for y normal and y * 2^n normal, n in the low bits of the rounding sum t = n + magic:
// t << 23 is n << 23 modulo 2^32, added to y's exponent field.
inline __m256 scale_by(__m256 y, __m256 t) {
  return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(y), _mm256_slli_epi32(_mm256_castps_si256(t), 23)));
}

// accurate: n = rint(x) by the magic sum (the scalar form's round_nearest, so the same n and r),
// p(r) degree-5 Horner with FMA, p * 2^n as an exponent add: bitwise the scalar form compiled
// with FMA, on [-125, 0]. x > 0 (rounding residue of s - m, which grows with the scores'
// magnitude) is clamped to 0 as in the scalar form, so P <= 1. `Scale` multiplies the result for free (folded into the coefficients).
// `NonPositive`: the caller guarantees x <= 0 (the kernels' s - m, see softmax_tile), no clamp.
template <int Scale = 1, bool NonPositive = false>
inline __m256 exp2_accurate(__m256 x) {
  constexpr float k = static_cast<float>(Scale);
  const __m256 xc = NonPositive ? x : _mm256_min_ps(x, _mm256_setzero_ps());  // P <= 1 (NaN: masked below)
  const __m256 t = _mm256_add_ps(xc, _mm256_set1_ps(kRoundMagic));
  const __m256 r = _mm256_sub_ps(xc, _mm256_sub_ps(t, _mm256_set1_ps(kRoundMagic)));
  __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(k * exp2::kAccC5), r, _mm256_set1_ps(k * exp2::kAccC4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(k * exp2::kAccC3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(k * exp2::kAccC2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(k * exp2::kAccC1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(k));
  return keep_domain(x, scale_by(p, t));
}

// fast: k = rint(64 x), 2^(k >> 6) * 2^((k & 63) / 64) with the mantissa factor from two 8-entry
// vpermps lookups, 2^(a/8) * 2^(b/64) for k & 63 = 8a + b, and one multiply. The product is
// within 1 ulp of the 64-entry table (21 of 64 entries differ by 1 ulp), far inside the form's
// 0.54% step; a vpgatherdd of the table itself measured 2.9x slower than this here.
struct FexpaTables {
  __m256 hi, lo;  // 2^(a/8) and 2^(b/64), a, b = 0..7: entries 8 a and b of the 64-entry table
  FexpaTables() {
    alignas(32) uint32_t h[8], l[8];
    for (int i = 0; i < 8; ++i) {
      h[i] = 0x3F800000u | exp2::kFexpaMantissa[8 * i];
      l[i] = 0x3F800000u | exp2::kFexpaMantissa[i];
    }
    hi = _mm256_castsi256_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(h)));
    lo = _mm256_castsi256_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(l)));
  }
};

template <bool NonPositive = false>
inline __m256 exp2_fast(__m256 x, const FexpaTables& tab) {
  const __m256 xc = NonPositive ? x : _mm256_min_ps(x, _mm256_setzero_ps());  // P <= 1, as in exp2_accurate
  const __m256i t = _mm256_castps_si256(_mm256_fmadd_ps(xc, _mm256_set1_ps(64.0f), _mm256_set1_ps(kRoundMagic)));
  const __m256 lo = _mm256_permutevar8x32_ps(tab.lo, t);  // index bits 0-2
  const __m256 hi = _mm256_permutevar8x32_ps(tab.hi, _mm256_srli_epi32(t, 3));
  return keep_domain(x, scale_by(_mm256_mul_ps(hi, lo), _mm256_castsi256_ps(_mm256_srli_epi32(t, 6))));
}

// fixed: Q8.8 in, Q16.16 out, integers only (see exp2::exp2_fixed_q16); vpsrlvd gives 0 for
// shifts >= 32, which is what the scalar form's clamps and floor give, so only x > 0 is clamped
// (min with 0 keeps NaN, and cvt turns NaN and -inf into INT_MIN: shift >= 32, result 0).
template <bool NonPositive = false>
inline __m256i exp2_fixed_q16(__m256 x) {
  const __m256 xc = NonPositive ? x : _mm256_min_ps(_mm256_setzero_ps(), x);
  const __m256i xq = _mm256_cvtps_epi32(_mm256_mul_ps(xc, _mm256_set1_ps(256.0f)));
  const __m256i n = _mm256_srai_epi32(xq, 8);
  const __m256i f = _mm256_and_si256(xq, _mm256_set1_epi32(255));
  const __m256i inner = _mm256_add_epi32(
      _mm256_set1_epi32(exp2::kFixC1), _mm256_srai_epi32(_mm256_mullo_epi32(_mm256_set1_epi32(exp2::kFixC2), f), 8));
  const __m256i mant = _mm256_add_epi32(_mm256_set1_epi32(65536), _mm256_srai_epi32(_mm256_mullo_epi32(f, inner), 8));
  return _mm256_srlv_epi32(mant, _mm256_sub_epi32(_mm256_setzero_si256(), n));
}

template <bool NonPositive = false>
inline __m256 exp2_fixed(__m256 x) {
  return _mm256_mul_ps(_mm256_cvtepi32_ps(exp2_fixed_q16<NonPositive>(x)), _mm256_set1_ps(1.0f / 65536.0f));
}

template <Exp2Kind E, bool NonPositive = false>
inline __m256 exp2_of(__m256 x, const FexpaTables& t) {
  if constexpr (E == Exp2Kind::Accurate) return exp2_accurate<1, NonPositive>(x);
  else if constexpr (E == Exp2Kind::Fast) return exp2_fast<NonPositive>(x, t);
  else return exp2_fixed<NonPositive>(x);
}

// u8 probability rint(255 * 2^x) as int32 lanes (0..255).
template <Exp2Kind E, bool NonPositive = false>
inline __m256i prob_u8(__m256 x, const FexpaTables& t) {
  if constexpr (E == Exp2Kind::Fixed) {
    const __m256i q = exp2_fixed_q16<NonPositive>(x);
    return _mm256_srli_epi32(_mm256_add_epi32(_mm256_mullo_epi32(q, _mm256_set1_epi32(255)),
                                              _mm256_set1_epi32(32768)), 16);
  } else if constexpr (E == Exp2Kind::Accurate) {
    return _mm256_cvtps_epi32(exp2_accurate<255, NonPositive>(x));
  } else {
    return _mm256_cvtps_epi32(_mm256_mul_ps(exp2_fast<NonPositive>(x, t), _mm256_set1_ps(255.0f)));
  }
}

// Round to bf16 (nearest even) and back, as floats: the P of the bf16 P.V. Inputs are finite.
inline __m256 round_bf16(__m256 v) {
  const __m256i b = _mm256_castps_si256(v);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
  const __m256i r = _mm256_add_epi32(b, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7FFF)));
  return _mm256_castsi256_ps(_mm256_and_si256(r, _mm256_set1_epi32(static_cast<int>(0xFFFF0000u))));
}

// All-ones in lanes l (of a group whose first lane is row 8 g) with l >= first_lane.
inline __m256i lanes_from(int64_t first_lane) {
  const int f = static_cast<int>(first_lane < 0 ? 0 : first_lane > 8 ? 8 : first_lane);
  return _mm256_cmpgt_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(f - 1));
}

}  // namespace miniattn::avx2
