// The three exp2 forms of the softmax, as scalar reference code. SIMD backends implement the
// same algorithms with the same constants; tests hold every form to its measured bound.
//
// Domain: the kernels only ever ask for 2^x with x = s - m <= 0 (m is the running maximum);
// rounding can push the maximum element a few ulp above 0, so x > 0 is clamped to 0. Every
// form returns exactly 0 for x < kExp2Floor (and for x = -inf, the masked scores), which keeps
// the P values out of the float denormal range.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "miniattn/attn_params.hpp"

namespace miniattn::exp2 {

inline constexpr float kExp2Floor = -125.0f;

// accurate: 2^x = 2^n * p(r), n = rint(x), r in [-1/2, 1/2], p a degree-5 polynomial fitted for
// minimal relative error (9.1e-8 before float rounding; measured bound in tests/unit).
inline constexpr float kAccC1 = 0.6931470036506653f;
inline constexpr float kAccC2 = 0.24022242426872253f;
inline constexpr float kAccC3 = 0.05550733581185341f;
inline constexpr float kAccC4 = 0.009671512991189957f;
inline constexpr float kAccC5 = 0.001326472731307149f;

// fast: FEXPA-style. k = rint(64 x); 2^x ~= 2^(k >> 6) * T[k & 63] with T[i] = 2^(i/64): the
// exponent goes straight into the float's exponent field, the table gives the mantissa. One
// lookup, no polynomial; relative error <= 2^(1/128) - 1 = 0.54%.
extern const uint32_t kFexpaMantissa[64];  // low 23 bits of 2^(i/64)

// fixed: the seed study's integer form. x in Q8.8 (xq = rint(256 x)), 2^x in Q16.16:
// 2^(n + f/256) = (2^(f/256) in Q16) >> -n, with 2^t ~= 1 + t (c1 + c2 t) on [0, 1) evaluated in
// integers (c1, c2 fitted for minimal relative error, 0.21%). Output resolution 2^-16.
inline constexpr int32_t kFixC1 = 43644;  // 0.66596 * 2^16
inline constexpr int32_t kFixC2 = 21622;  // 0.32993 * 2^16

inline float bits_to_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// Round to nearest even for |x| < 2^22 in the default rounding mode: adding and removing
// 1.5 * 2^23 leaves no fraction bits. Same result as nearbyint (and as vroundps/frintn), but
// vectorisable on any SIMD level.
inline float round_nearest(float x) {
  constexpr float kMagic = 12582912.0f;
  return (x + kMagic) - kMagic;
}

// Fused multiply-add where the target has one (the SIMD backends always fuse); a*b + c on
// targets without (the portable backend on baseline x86-64), where std::fma would be a libm call.
inline float madd(float a, float b, float c) {
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA) || defined(__CUDA_ARCH__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// The forms below are branch-free so that loops over a row of scores vectorise.
inline float exp2_accurate(float x) {
  const float xc = std::min(std::max(x, kExp2Floor), 0.0f);
  const float n = round_nearest(xc);
  const float r = xc - n;
  float p = madd(kAccC5, r, kAccC4);
  p = madd(p, r, kAccC3);
  p = madd(p, r, kAccC2);
  p = madd(p, r, kAccC1);
  p = madd(p, r, 1.0f);
  const uint32_t e = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  const float v = p * bits_to_float(e);
  return x >= kExp2Floor ? v : 0.0f;  // also x = -inf
}

inline float exp2_fast(float x) {
  const float xc = std::min(std::max(x, kExp2Floor), 0.0f);
  const int32_t k = static_cast<int32_t>(round_nearest(xc * 64.0f));
  const int32_t n = k >> 6;  // floor division by 64 (arithmetic shift)
  const uint32_t bits = (static_cast<uint32_t>(n + 127) << 23) | kFexpaMantissa[k & 63];
  return x >= kExp2Floor ? bits_to_float(bits) : 0.0f;
}

// Q16.16 result of the fixed-point form (0 .. 65536).
inline int32_t exp2_fixed_q16(float x) {
  const float xc = std::min(std::max(x, kExp2Floor), 0.0f);
  const int32_t xq = static_cast<int32_t>(round_nearest(xc * 256.0f));  // Q8.8
  const int32_t n = xq >> 8;   // floor: integer part, in [-125, 0]
  const int32_t f = xq & 255;  // fraction in Q0.8
  const int32_t mant = 65536 + ((f * (kFixC1 + ((kFixC2 * f) >> 8))) >> 8);
  const int32_t shift = std::min(-n, 31);  // mant < 2^17: any shift >= 17 gives 0
  return x >= kExp2Floor ? (mant >> shift) : 0;
}

inline float exp2_fixed(float x) { return static_cast<float>(exp2_fixed_q16(x)) * (1.0f / 65536.0f); }

template <Exp2Kind E>
inline float exp2_of(float x) {
  if constexpr (E == Exp2Kind::Accurate) return exp2_accurate(x);
  else if constexpr (E == Exp2Kind::Fast) return exp2_fast(x);
  else return exp2_fixed(x);
}

inline float exp2_dispatch(Exp2Kind e, float x) {
  switch (e) {
    case Exp2Kind::Fast: return exp2_fast(x);
    case Exp2Kind::Fixed: return exp2_fixed(x);
    case Exp2Kind::Accurate: break;
  }
  return exp2_accurate(x);
}

}  // namespace miniattn::exp2
