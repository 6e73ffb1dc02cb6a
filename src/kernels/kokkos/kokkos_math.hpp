// The scalar numerics every INT8 backend shares (kernels/common/exp2.hpp, quant::float_to_bf16),
// as KOKKOS_INLINE_FUNCTIONs that device code may call: the same algorithms and the same constants,
// in the same order of operations. The common forms are plain host functions (std::min, std::fma,
// a table in host memory), which CUDA, HIP and SYCL device code cannot call. test_backend_kokkos
// holds every form here to the common one bit for bit on the host.
#pragma once

#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/common/exp2.hpp"
#include "miniattn/attn_params.hpp"

namespace miniattn::kk {

KOKKOS_INLINE_FUNCTION float bits_to_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

KOKKOS_INLINE_FUNCTION uint32_t float_to_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

KOKKOS_INLINE_FUNCTION float neg_inf() { return bits_to_float(0xff800000u); }

// std::max / std::min exactly (NaN handling included): the exp2 forms clamp with them.
KOKKOS_INLINE_FUNCTION float max_of(float a, float b) { return a < b ? b : a; }
KOKKOS_INLINE_FUNCTION float min_of(float a, float b) { return b < a ? b : a; }

KOKKOS_INLINE_FUNCTION float round_nearest(float x) {
  constexpr float kMagic = 12582912.0f;
  return (x + kMagic) - kMagic;
}

// exp2::madd: fused where the target fuses (every GPU does), a*b + c elsewhere.
KOKKOS_INLINE_FUNCTION float madd(float a, float b, float c) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__) || defined(__SYCL_DEVICE_ONLY__)
  return fmaf(a, b, c);
#elif defined(__FMA__) || defined(__ARM_FEATURE_FMA)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

KOKKOS_INLINE_FUNCTION float exp2_accurate(float x) {
  const float xc = min_of(max_of(x, exp2::kExp2Floor), 0.0f);
  const float n = round_nearest(xc);
  const float r = xc - n;
  float p = madd(exp2::kAccC5, r, exp2::kAccC4);
  p = madd(p, r, exp2::kAccC3);
  p = madd(p, r, exp2::kAccC2);
  p = madd(p, r, exp2::kAccC1);
  p = madd(p, r, 1.0f);
  const uint32_t e = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  const float v = p * bits_to_float(e);
  return x >= exp2::kExp2Floor ? v : 0.0f;
}

// table: exp2::kFexpaMantissa, in memory the calling code can read.
KOKKOS_INLINE_FUNCTION float exp2_fast(float x, const uint32_t* table) {
  const float xc = min_of(max_of(x, exp2::kExp2Floor), 0.0f);
  const int32_t k = static_cast<int32_t>(round_nearest(xc * 64.0f));
  const int32_t n = k >> 6;
  const uint32_t bits = (static_cast<uint32_t>(n + 127) << 23) | table[k & 63];
  return x >= exp2::kExp2Floor ? bits_to_float(bits) : 0.0f;
}

KOKKOS_INLINE_FUNCTION int32_t exp2_fixed_q16(float x) {
  const float xc = min_of(max_of(x, exp2::kExp2Floor), 0.0f);
  const int32_t xq = static_cast<int32_t>(round_nearest(xc * 256.0f));
  const int32_t n = xq >> 8;
  const int32_t f = xq & 255;
  const int32_t mant = 65536 + ((f * (exp2::kFixC1 + ((exp2::kFixC2 * f) >> 8))) >> 8);
  const int32_t shift = -n < 31 ? -n : 31;
  return x >= exp2::kExp2Floor ? (mant >> shift) : 0;
}

template <Exp2Kind E>
KOKKOS_INLINE_FUNCTION float exp2_of(float x, const uint32_t* table) {
  if constexpr (E == Exp2Kind::Accurate) {
    return exp2_accurate(x);
  } else if constexpr (E == Exp2Kind::Fast) {
    return exp2_fast(x, table);
  } else {
    return static_cast<float>(exp2_fixed_q16(x)) * (1.0f / 65536.0f);
  }
}

// The u8 probability of the int8 P.V (portable's prob_u8).
template <Exp2Kind E>
KOKKOS_INLINE_FUNCTION uint8_t prob_u8(float x, const uint32_t* table) {
  if constexpr (E == Exp2Kind::Fixed) {
    return static_cast<uint8_t>((exp2_fixed_q16(x) * 255 + 32768) >> 16);
  } else {
    return static_cast<uint8_t>(round_nearest(255.0f * exp2_of<E>(x, table)));
  }
}

KOKKOS_INLINE_FUNCTION float bf16_to_float(uint16_t h) { return bits_to_float(static_cast<uint32_t>(h) << 16); }

// quant::float_to_bf16 (round to nearest even, finite inputs) and back.
KOKKOS_INLINE_FUNCTION float bf16_round(float f) {
  uint32_t b = float_to_bits(f);
  b += 0x7fffu + ((b >> 16) & 1u);
  return bits_to_float(b & 0xffff0000u);
}

}  // namespace miniattn::kk
