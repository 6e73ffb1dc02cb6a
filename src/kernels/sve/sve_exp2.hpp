// The three exp2 forms of kernels/common/exp2.hpp on SVE vectors, for any vector length.
// Built only into the sve object library (needs +sve). Each takes the governing predicate of
// the lanes in use and returns 0 for x < kExp2Floor (and -inf), like the scalar forms.
//
// FEXPA (Arm ARM, FEXPA; single precision): the result's exponent field is input bits [13:6]
// and its fraction is the 64-entry table 2^(i/64) indexed by input bits [5:0]. So for an
// integer k in [-8000, 0], FEXPA(k + 127 * 64) = 2^(k >> 6) * T[k & 63] = 2^(k / 64): the fast
// form itself. The integer k + 8128 is read straight out of the float k + 8128 + 1.5 * 2^23,
// whose low mantissa bits hold it (the "shift" trick), so no float-to-int conversion is needed.
#pragma once

#include <arm_sve.h>

#include <cstdint>

#include "kernels/common/exp2.hpp"

namespace miniattn::sve {

inline constexpr float kRoundShift = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
// k + 127 * 64 in the low bits, k = rint(64 x): FEXPA's exponent bias folded into the shift.
inline constexpr float kFexpaShift = kRoundShift + 127.0f * 64.0f;

// Taylor coefficients of 2^r = 1 + r (c1 + r (c2 + r c3)) on |r| <= 1/128: truncation error
// (r ln 2)^4 / 24 <= 3.6e-11, far below float rounding.
inline constexpr float kTayC1 = 0.693147180559945f;   // ln 2
inline constexpr float kTayC2 = 0.240226506959101f;   // ln^2 2 / 2
inline constexpr float kTayC3 = 0.0555041086648216f;  // ln^3 2 / 6

// fast: 2^(rint(64 x) / 64), bitwise equal to exp2::exp2_fast.
inline svfloat32_t exp2_fast(svbool_t pg, svfloat32_t x) {
  const svfloat32_t xc = svmin_n_f32_x(pg, x, 0.0f);  // x < floor is masked below
  const svfloat32_t z = svmla_n_f32_x(pg, svdup_n_f32(kFexpaShift), xc, 64.0f);
  const svfloat32_t y = svexpa_f32(svreinterpret_u32_f32(z));
  return svsel_f32(svcmpge_n_f32(pg, x, exp2::kExp2Floor), y, svdup_n_f32(0.0f));
}

// accurate: 2^x = FEXPA(k) * (1 + q(r)), k = rint(64 x), r = x - k/64 in [-1/128, 1/128] (exact
// by Sterbenz), q the cubic Taylor term; the final FMA t + t*q rounds once. Error: table
// rounding (2^-24) + final rounding (2^-24) + 3.6e-11 < 1.2e-7 relative, inside the scalar
// accurate form's 2-ulp bound (the same tests hold both).
inline svfloat32_t exp2_accurate(svbool_t pg, svfloat32_t x) {
  const svfloat32_t xc = svmin_n_f32_x(pg, x, 0.0f);
  const svfloat32_t z = svmla_n_f32_x(pg, svdup_n_f32(kFexpaShift), xc, 64.0f);
  const svfloat32_t k = svsub_n_f32_x(pg, z, kFexpaShift);
  const svfloat32_t r = svmls_n_f32_x(pg, xc, k, 1.0f / 64.0f);
  svfloat32_t q = svmad_n_f32_x(pg, svdup_n_f32(kTayC3), r, kTayC2);
  q = svmad_n_f32_x(pg, q, r, kTayC1);
  q = svmul_f32_x(pg, q, r);
  const svfloat32_t t = svexpa_f32(svreinterpret_u32_f32(z));
  const svfloat32_t y = svmla_f32_x(pg, t, t, q);
  return svsel_f32(svcmpge_n_f32(pg, x, exp2::kExp2Floor), y, svdup_n_f32(0.0f));
}

// fixed: the Q8.8 -> Q16.16 integer form, bitwise equal to exp2::exp2_fixed_q16.
inline svint32_t exp2_fixed_q16(svbool_t pg, svfloat32_t x) {
  using exp2::kFixC1;
  using exp2::kFixC2;
  const svfloat32_t xc = svmin_n_f32_x(pg, x, 0.0f);
  const svfloat32_t z = svmla_n_f32_x(pg, svdup_n_f32(kRoundShift), xc, 256.0f);
  const svint32_t xq = svsub_n_s32_x(pg, svreinterpret_s32_f32(z), 0x4B400000);  // rint(256 x)
  const svint32_t n = svasr_n_s32_x(pg, xq, 8);
  const svint32_t f = svand_n_s32_x(pg, xq, 255);
  const svint32_t c = svadd_n_s32_x(pg, svasr_n_s32_x(pg, svmul_n_s32_x(pg, f, kFixC2), 8), kFixC1);
  const svint32_t mant = svadd_n_s32_x(pg, svasr_n_s32_x(pg, svmul_s32_x(pg, f, c), 8), 65536);
  const svuint32_t shift = svreinterpret_u32_s32(svmin_n_s32_x(pg, svneg_s32_x(pg, n), 31));
  const svint32_t y = svreinterpret_s32_u32(svlsr_u32_x(pg, svreinterpret_u32_s32(mant), shift));
  return svsel_s32(svcmpge_n_f32(pg, x, exp2::kExp2Floor), y, svdup_n_s32(0));
}

inline svfloat32_t exp2_fixed(svbool_t pg, svfloat32_t x) {
  return svmul_n_f32_x(pg, svcvt_f32_s32_x(pg, exp2_fixed_q16(pg, x)), 1.0f / 65536.0f);
}

template <Exp2Kind E>
inline svfloat32_t exp2_of(svbool_t pg, svfloat32_t x) {
  if constexpr (E == Exp2Kind::Accurate) return exp2_accurate(pg, x);
  else if constexpr (E == Exp2Kind::Fast) return exp2_fast(pg, x);
  else return exp2_fixed(pg, x);
}

// u8 probability rint(255 * 2^x) (fixed: (q16 * 255 + 2^15) >> 16), as exp2.hpp's callers
// in the portable backend compute it.
template <Exp2Kind E>
inline svuint32_t prob_u8(svbool_t pg, svfloat32_t x) {
  if constexpr (E == Exp2Kind::Fixed) {
    const svint32_t q = exp2_fixed_q16(pg, x);
    return svreinterpret_u32_s32(svasr_n_s32_x(pg, svmla_n_s32_x(pg, svdup_n_s32(32768), q, 255), 16));
  } else {
    const svfloat32_t y = svmul_n_f32_x(pg, exp2_of<E>(pg, x), 255.0f);
    return svcvt_u32_f32_x(pg, svrintn_f32_x(pg, y));
  }
}

// Round to bf16 precision (nearest even), kept as a float: what quant::float_to_bf16 gives.
inline svuint32_t bf16_bits(svbool_t pg, svfloat32_t v) {
  const svuint32_t b = svreinterpret_u32_f32(v);
  const svuint32_t odd = svand_n_u32_x(pg, svlsr_n_u32_x(pg, b, 16), 1u);
  return svlsr_n_u32_x(pg, svadd_u32_x(pg, b, svadd_n_u32_x(pg, odd, 0x7FFFu)), 16);
}
inline svfloat32_t round_bf16(svbool_t pg, svfloat32_t v) {
  return svreinterpret_f32_u32(svlsl_n_u32_x(pg, bf16_bits(pg, v), 16));
}

}  // namespace miniattn::sve
