// AVX-512 building blocks shared by the avx512 kernels and their studies: the three exp2
// forms on 16 lanes (the algorithms of kernels/common/exp2.hpp) and small helpers.
// Compiled only inside the avx512 object library (ISA flags of that library).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/common/exp2.hpp"

namespace miniattn::avx512 {

// GCC 12 copies every vpdpbusd / vdpbf16ps accumulator of a register-blocked loop through a
// temporary register each iteration (and spills some to the stack), halving the throughput.
// The instruction in asm with a read-write operand keeps each accumulator in its register.
inline __m512i dpbusd(__m512i acc, __m512i a_u8, __m512i b_s8) {
#if defined(__GNUC__) && !defined(__clang__)
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a_u8), "v"(b_s8));
  return acc;
#else
  return _mm512_dpbusd_epi32(acc, a_u8, b_s8);
#endif
}

inline __m512 dpbf16(__m512 acc, __m512bh a, __m512bh b) {
#if defined(__GNUC__) && !defined(__clang__)
  __asm__("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
#else
  return _mm512_dpbf16_ps(acc, a, b);
#endif
}

// accurate: n = rint(x), p(r) degree-5 Horner on r = x - n with FMA, p * 2^n by vscalefps; 0
// where x < -125 (also -inf and NaN, from masked scores): the zero mask replaces the lower
// clamp of the scalar form. x > 0 (rounding residue of s - m, which grows with the scores'
// magnitude: +256 at scores of 2^33) is clamped to 0 as in the scalar form, so P <= 1.
// `Scale` multiplies the result for free (folded into the coefficients): 255 for u8 P.
// `NonPositive`: the caller guarantees x <= 0 (the kernels round the maximum up, so s - m has
// no positive residue), and the clamp, one instruction of twelve per 16 scores, is left out.
// `Unmasked`: no zero mask below the floor; those lanes hold NaN (x = -inf or NaN) or values
// under Scale * 2^-125, which only the u8 form may accept (see prob_u8).
template <int Scale = 1, bool NonPositive = false, bool Unmasked = false>
inline __m512 exp2_accurate(__m512 x) {
  constexpr float k = static_cast<float>(Scale);
  const __m512 xc = NonPositive ? x : _mm512_min_ps(x, _mm512_setzero_ps());
  const __m512 n = _mm512_roundscale_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(xc, n);
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(k * exp2::kAccC5), r, _mm512_set1_ps(k * exp2::kAccC4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(k * exp2::kAccC3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(k * exp2::kAccC2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(k * exp2::kAccC1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(k));
  if constexpr (Unmasked) return _mm512_scalef_ps(p, n);
  const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(exp2::kExp2Floor), _CMP_GE_OQ);
  return _mm512_maskz_scalef_ps(keep, p, n);
}

// The 64-entry FEXPA mantissa table as four vectors of 16, for two vpermi2d lookups.
struct FexpaTable {
  __m512i t0, t1, t2, t3;
  FexpaTable()
      : t0(_mm512_loadu_si512(exp2::kFexpaMantissa)),
        t1(_mm512_loadu_si512(exp2::kFexpaMantissa + 16)),
        t2(_mm512_loadu_si512(exp2::kFexpaMantissa + 32)),
        t3(_mm512_loadu_si512(exp2::kFexpaMantissa + 48)) {}
};

// fast: k = rint(64 xc), 2^(k >> 6) with mantissa T[k & 63] (FEXPA semantics). With
// NonPositive no clamp at all: below the floor (-inf, NaN: cvt gives INT_MIN) the lanes are
// garbage until the final zero mask.
template <bool NonPositive = false>
inline __m512 exp2_fast(__m512 x, const FexpaTable& t) {
  const __m512 xc =
      NonPositive ? x : _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(exp2::kExp2Floor)), _mm512_setzero_ps());
  const __m512i k = _mm512_cvtps_epi32(_mm512_mul_ps(xc, _mm512_set1_ps(64.0f)));  // RNE
  const __m512i lo = _mm512_permutex2var_epi32(t.t0, k, t.t1);  // index bits 0-4
  const __m512i hi = _mm512_permutex2var_epi32(t.t2, k, t.t3);
  const __mmask16 upper = _mm512_test_epi32_mask(k, _mm512_set1_epi32(32));
  const __m512i mant = _mm512_mask_blend_epi32(upper, lo, hi);
  const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_srai_epi32(k, 6), _mm512_set1_epi32(127)), 23);
  const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(exp2::kExp2Floor), _CMP_GE_OQ);
  return _mm512_maskz_mov_ps(keep, _mm512_castsi512_ps(_mm512_or_si512(e, mant)));
}

// fixed: Q8.8 in, Q16.16 out, integers only (see exp2::exp2_fixed_q16). NonPositive: as in
// exp2_fast.
template <bool NonPositive = false>
inline __m512i exp2_fixed_q16(__m512 x) {
  const __m512 xc =
      NonPositive ? x : _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(exp2::kExp2Floor)), _mm512_setzero_ps());
  const __m512i xq = _mm512_cvtps_epi32(_mm512_mul_ps(xc, _mm512_set1_ps(256.0f)));
  const __m512i n = _mm512_srai_epi32(xq, 8);
  const __m512i f = _mm512_and_si512(xq, _mm512_set1_epi32(255));
  const __m512i inner = _mm512_add_epi32(
      _mm512_set1_epi32(exp2::kFixC1), _mm512_srai_epi32(_mm512_mullo_epi32(_mm512_set1_epi32(exp2::kFixC2), f), 8));
  const __m512i mant = _mm512_add_epi32(_mm512_set1_epi32(65536), _mm512_srai_epi32(_mm512_mullo_epi32(f, inner), 8));
  const __m512i q = _mm512_srlv_epi32(mant, _mm512_sub_epi32(_mm512_setzero_si512(), n));  // >= 32: 0
  const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(exp2::kExp2Floor), _CMP_GE_OQ);
  return _mm512_maskz_mov_epi32(keep, q);
}

template <bool NonPositive = false>
inline __m512 exp2_fixed(__m512 x) {
  return _mm512_mul_ps(_mm512_cvtepi32_ps(exp2_fixed_q16<NonPositive>(x)), _mm512_set1_ps(1.0f / 65536.0f));
}

template <Exp2Kind E, bool NonPositive = false>
inline __m512 exp2_of(__m512 x, const FexpaTable& t) {
  if constexpr (E == Exp2Kind::Accurate) return exp2_accurate<1, NonPositive>(x);
  else if constexpr (E == Exp2Kind::Fast) return exp2_fast<NonPositive>(x, t);
  else return exp2_fixed<NonPositive>(x);
}

// u8 probability rint(255 * 2^x) as int32 lanes (0..255). The accurate form skips the zero
// mask (one instruction of thirteen per 16 scores): below the floor, masked scores (x = -inf)
// included, 255 * 2^x comes out 0, and x = NaN (rows that see no key of the P block, whose
// beta is 0 anyway, and padding rows) converts to INT_MIN, which pack_quad's unsigned
// saturation makes 0; so such lanes are 0 or INT_MIN here and 0 once packed.
template <Exp2Kind E, bool NonPositive = false>
inline __m512i prob_u8(__m512 x, const FexpaTable& t) {
  if constexpr (E == Exp2Kind::Fixed) {
    const __m512i q = exp2_fixed_q16<NonPositive>(x);
    return _mm512_srli_epi32(_mm512_add_epi32(_mm512_mullo_epi32(q, _mm512_set1_epi32(255)),
                                              _mm512_set1_epi32(32768)), 16);
  } else if constexpr (E == Exp2Kind::Accurate) {
    return _mm512_cvtps_epi32(exp2_accurate<255, NonPositive, true>(x));
  } else {
    return _mm512_cvtps_epi32(_mm512_mul_ps(exp2_fast<NonPositive>(x, t), _mm512_set1_ps(255.0f)));
  }
}

// Four keys' u8 probabilities (int32 lanes, 16 rows each) as one [row][4] byte vector: two
// saturating packs (exact: values are 0..255) and a byte shuffle transposing the 4 x 4 bytes of
// each 128-bit lane.
inline __m512i pack_quad(__m512i u0, __m512i u1, __m512i u2, __m512i u3) {
  const __m512i w = _mm512_packus_epi16(_mm512_packus_epi32(u0, u1), _mm512_packus_epi32(u2, u3));
  // Per 128-bit lane w holds bytes [k0 r0..r3, k1 r0..r3, k2 r0..r3, k3 r0..r3].
  const __m512i order = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  return _mm512_shuffle_epi8(w, order);
}

// Lanes l of a 16-row group with row0 + 16 g + l >= first_row are set.
inline __mmask16 rows_from(int64_t first_lane) {
  if (first_lane <= 0) return 0xFFFF;
  if (first_lane >= 16) return 0;
  return static_cast<__mmask16>(0xFFFFu << first_lane);
}

}  // namespace miniattn::avx512
