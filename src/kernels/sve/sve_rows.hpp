// Row-vectorised softmax steps of the sve backend: every step runs along one row of a score
// tile, W lanes at a time (the seeds' lesson: vectorise exp2 across a row, not across rows).
#pragma once

#include <arm_sve.h>

#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/sve/sve_exp2.hpp"

namespace miniattn::sve {

// t = float(S) * k_scale over [0, vis), in place (S int32 read from the same storage); returns
// the maximum of t, -inf when vis = 0.
inline float dequant_row(float* t, const float* ks, int vis) {
  const int32_t* s = reinterpret_cast<const int32_t*>(t);
  const int64_t w = svcntw();
  svfloat32_t mx = svdup_n_f32(-std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < vis; i += w) {
    const svbool_t pg = svwhilelt_b32_s64(i, vis);
    const svfloat32_t v =
        svmul_f32_x(pg, svcvt_f32_s32_x(pg, svld1_s32(pg, s + i)), svld1_f32(pg, ks + i));
    svst1_f32(pg, t + i, v);
    mx = svmax_f32_m(pg, mx, v);
  }
  return svmaxv_f32(svptrue_b32(), mx);
}

// The maximum of t over [0, n) (-inf when n = 0).
inline float row_max(const float* t, int n) {
  const int64_t w = svcntw();
  svfloat32_t mx = svdup_n_f32(-std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < n; i += w) {
    const svbool_t pg = svwhilelt_b32_s64(i, n);
    mx = svmax_f32_m(pg, mx, svld1_f32(pg, t + i));
  }
  return svmaxv_f32(svptrue_b32(), mx);
}

// Base-2 score a * t - m of lanes pg at t + i (one FMA, as exp2::madd).
inline svfloat32_t score(svbool_t pg, const float* t, int64_t i, float a, float m) {
  return svmad_n_f32_x(pg, svld1_f32(pg, t + i), svdup_n_f32(a), -m);
}

// P = exp2(a t - m) over [0, vis) in place (bf16-rounded for the widening bf16 path), 0 over
// [vis, zero_to); returns the sum of P as the P.V sees it.
template <Exp2Kind E, bool RoundBf16>
float probs_f32(float* t, int vis, int64_t zero_to, float a, float m) {
  const int64_t w = svcntw();
  svfloat32_t sum = svdup_n_f32(0.0f);
  for (int64_t i = 0; i < vis; i += w) {
    const svbool_t pg = svwhilelt_b32_s64(i, vis);
    svfloat32_t y = exp2_of<E>(pg, score(pg, t, i, a, m));
    if constexpr (RoundBf16) y = round_bf16(pg, y);
    svst1_f32(pg, t + i, y);
    sum = svadd_f32_m(pg, sum, y);
  }
  if (zero_to > vis) std::memset(t + vis, 0, static_cast<std::size_t>(zero_to - vis) * sizeof(float));
  return svaddv_f32(svptrue_b32(), sum);
}

// P as bf16 bits into pb[0, vis), 0 over [vis, zero_to); returns the sum of the bf16 values.
template <Exp2Kind E>
float probs_bf16(const float* t, int vis, int64_t zero_to, float a, float m, uint16_t* pb) {
  const int64_t w = svcntw();
  svfloat32_t sum = svdup_n_f32(0.0f);
  for (int64_t i = 0; i < vis; i += w) {
    const svbool_t pg = svwhilelt_b32_s64(i, vis);
    const svuint32_t h = bf16_bits(pg, exp2_of<E>(pg, score(pg, t, i, a, m)));
    svst1h_u32(pg, pb + i, h);
    sum = svadd_f32_m(pg, sum, svreinterpret_f32_u32(svlsl_n_u32_x(pg, h, 16)));
  }
  if (zero_to > vis) std::memset(pb + vis, 0, static_cast<std::size_t>(zero_to - vis) * 2);
  return svaddv_f32(svptrue_b32(), sum);
}

// P as u8 = rint(255 * 2^(a t - m)) into p8[0, vis), 0 over [vis, zero_to); returns their sum.
template <Exp2Kind E>
float probs_u8(const float* t, int vis, int64_t zero_to, float a, float m, uint8_t* p8) {
  const int64_t w = svcntw();
  svuint32_t sum = svdup_n_u32(0);
  for (int64_t i = 0; i < vis; i += w) {
    const svbool_t pg = svwhilelt_b32_s64(i, vis);
    const svuint32_t u = prob_u8<E>(pg, score(pg, t, i, a, m));
    svst1b_u32(pg, p8 + i, u);
    sum = svadd_u32_m(pg, sum, u);
  }
  if (zero_to > vis) std::memset(p8 + vis, 0, static_cast<std::size_t>(zero_to - vis));
  return static_cast<float>(svaddv_u32(svptrue_b32(), sum));
}

// Sum of n bytes (udot against ones: 4 bytes a lane).
inline int32_t sum_u8(const uint8_t* p, int64_t n) {
  const int64_t vb = svcntb();
  const svuint8_t ones = svdup_n_u8(1);
  svuint32_t acc = svdup_n_u32(0);
  for (int64_t i = 0; i < n; i += vb)
    acc = svdot_u32(acc, svld1_u8(svwhilelt_b8_s64(i, n), p + i), ones);
  return static_cast<int32_t>(svaddv_u32(svptrue_b32(), acc));
}

}  // namespace miniattn::sve
