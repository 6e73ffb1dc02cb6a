// Register-blocked SVE microkernels of the sve backend (the seeds' 6x4 / 4x4 / 2x4 blocks,
// plus 1-row tails), vector-length agnostic: W = svcntw() 32-bit lanes per vector (16 on
// A64FX). SVE vectors cannot live in arrays, so each block names its accumulators and skips
// the unused ones with if constexpr.
//
// Packed layouts (built by pack_kv, all relative to key 0 of the block):
//   K, for sdot:  strips of W keys; strip s, 4-byte group g of the head dimension: one vector
//                 of W keys x 4 bytes at kp + s * W * d + g * 4W.
//   V, for udot:  quads of 4 keys; quad q, column x: 4 bytes V[4q..4q+3][x] + 128 (u8) at
//                 vq + (q * d + x) * 4. udot(P u8, V + 128) - 128 * sum(P) = P . V, exactly.
#pragma once

#include <arm_sve.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace miniattn::sve {

template <int N>
using Int = std::integral_constant<int, N>;

inline int64_t lanes() { return static_cast<int64_t>(svcntw()); }

// Calls f(r0, Int<R>) over rows [0, rows) in blocks of Max (6 or 4), then 4, 2, 1.
template <int Max = 6, class F>
inline void row_blocks(int rows, F&& f) {
  int r = 0;
  for (; r + Max <= rows; r += Max) f(r, Int<Max>{});
  if (Max > 4 && rows - r >= 4) f(r, Int<4>{}), r += 4;
  if (rows - r >= 2) f(r, Int<2>{}), r += 2;
  if (rows - r >= 1) f(r, Int<1>{});
}

// Calls f(j0, Int<N>) over vectors [0, count) in blocks of 4 and one tail of 1-3.
template <class F>
inline void vector_blocks(int count, F&& f) {
  int j = 0;
  for (; j + 4 <= count; j += 4) f(j, Int<4>{});
  switch (count - j) {
    case 3: f(j, Int<3>{}); break;
    case 2: f(j, Int<2>{}); break;
    case 1: f(j, Int<1>{}); break;
    default: break;
  }
}

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Q.K^T: S[r][j * W + i] = q8[r] . k8[key j * W + i] with sdot, R rows x NS strips, the d loop
// inside; columns >= limit are not stored.
// ---------------------------------------------------------------------------------------------
template <int NS>
inline void sdot_row(svint32_t& a0, svint32_t& a1, svint32_t& a2, svint32_t& a3, const int8_t* q,
                     svint8_t k0, svint8_t k1, svint8_t k2, svint8_t k3) {
  const svint8_t qb = svreinterpret_s8_u32(svdup_n_u32(load_u32(q)));  // ld1rw
  a0 = svdot_s32(a0, qb, k0);
  if constexpr (NS > 1) a1 = svdot_s32(a1, qb, k1);
  if constexpr (NS > 2) a2 = svdot_s32(a2, qb, k2);
  if constexpr (NS > 3) a3 = svdot_s32(a3, qb, k3);
}

template <int NS>
inline void store_row_s32(int32_t* s, int64_t limit, svint32_t a0, svint32_t a1, svint32_t a2,
                          svint32_t a3) {
  const int64_t w = lanes();
  svst1_s32(svwhilelt_b32_s64(0, limit), s, a0);
  if constexpr (NS > 1) svst1_s32(svwhilelt_b32_s64(w, limit), s + w, a1);
  if constexpr (NS > 2) svst1_s32(svwhilelt_b32_s64(2 * w, limit), s + 2 * w, a2);
  if constexpr (NS > 3) svst1_s32(svwhilelt_b32_s64(3 * w, limit), s + 3 * w, a3);
}

template <int R, int NS>
void qk_block(const int8_t* q8, int d, const int8_t* kp, int32_t* s, int64_t lds, int64_t limit) {
  const svbool_t all = svptrue_b8();
  const int64_t vb = static_cast<int64_t>(svcntb());
  const int64_t strip = lanes() * d;  // bytes between strips
  const svint32_t z = svdup_n_s32(0);
  svint32_t c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  svint32_t c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
  svint32_t c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
  for (int g = 0; g < d / 4; ++g) {
    const int8_t* k = kp + g * vb;
    const svint8_t k0 = svld1_s8(all, k);
    const svint8_t k1 = NS > 1 ? svld1_s8(all, k + strip) : k0;
    const svint8_t k2 = NS > 2 ? svld1_s8(all, k + 2 * strip) : k0;
    const svint8_t k3 = NS > 3 ? svld1_s8(all, k + 3 * strip) : k0;
    const int8_t* q = q8 + 4 * g;
    sdot_row<NS>(c00, c01, c02, c03, q, k0, k1, k2, k3);
    if constexpr (R > 1) sdot_row<NS>(c10, c11, c12, c13, q + d, k0, k1, k2, k3);
    if constexpr (R > 2) sdot_row<NS>(c20, c21, c22, c23, q + 2 * d, k0, k1, k2, k3);
    if constexpr (R > 3) sdot_row<NS>(c30, c31, c32, c33, q + 3 * d, k0, k1, k2, k3);
    if constexpr (R > 4) sdot_row<NS>(c40, c41, c42, c43, q + 4 * d, k0, k1, k2, k3);
    if constexpr (R > 5) sdot_row<NS>(c50, c51, c52, c53, q + 5 * d, k0, k1, k2, k3);
  }
  store_row_s32<NS>(s, limit, c00, c01, c02, c03);
  if constexpr (R > 1) store_row_s32<NS>(s + lds, limit, c10, c11, c12, c13);
  if constexpr (R > 2) store_row_s32<NS>(s + 2 * lds, limit, c20, c21, c22, c23);
  if constexpr (R > 3) store_row_s32<NS>(s + 3 * lds, limit, c30, c31, c32, c33);
  if constexpr (R > 4) store_row_s32<NS>(s + 4 * lds, limit, c40, c41, c42, c43);
  if constexpr (R > 5) store_row_s32<NS>(s + 5 * lds, limit, c50, c51, c52, c53);
}

// S of `rows` query rows against `strips` strips of packed K starting at kp; columns >= limit
// (counted from the first strip) are not stored.
inline void qk_rows(const int8_t* q8, int rows, int d, const int8_t* kp, int strips, int32_t* s,
                    int64_t lds, int64_t limit) {
  const int64_t w = lanes();
  row_blocks(rows, [&](int r0, auto rb) {
    vector_blocks(strips, [&](int j0, auto nb) {
      qk_block<decltype(rb)::value, decltype(nb)::value>(q8 + static_cast<int64_t>(r0) * d, d,
                                                        kp + j0 * w * d, s + r0 * lds + j0 * w,
                                                        lds, limit - j0 * w);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// P.V in fp32 with fmla: acc[r][x] = acc[r][x] * alpha[r] + sum_c P[r][c] V[c][x], R rows x NV
// column vectors from x0; V rows of float, or of bf16 widened on the fly (no BF16 unit needed).
// alpha null: no rescale; zero: acc starts at 0 (not read).
// ---------------------------------------------------------------------------------------------
inline svfloat32_t load_v(svbool_t pg, const float* v) { return svld1_f32(pg, v); }
inline svfloat32_t load_v(svbool_t pg, const uint16_t* v) {
  return svreinterpret_f32_u32(svlsl_n_u32_x(pg, svld1uh_u32(pg, v), 16));
}

struct AccMode {
  const float* alpha = nullptr;  // per row rescale of the old acc, or none
  bool zero = false;             // acc is output only
};

// Initial accumulator of row r at a: 0, or acc (times alpha[r]). By value, not through a
// lambda capturing the accumulators: that makes GCC keep them in memory.
inline svfloat32_t acc_init(svbool_t pg, const float* a, const AccMode& m, int r) {
  if (m.zero) return svdup_n_f32(0.0f);
  const svfloat32_t v = svld1_f32(pg, a);
  return m.alpha ? svmul_n_f32_x(pg, v, m.alpha[r]) : v;
}

template <int NV>
inline void acc_load(float* a, int64_t x0, int d, const AccMode& m, int r, svfloat32_t& a0,
                     svfloat32_t& a1, svfloat32_t& a2, svfloat32_t& a3) {
  const int64_t w = lanes();
  a0 = acc_init(svwhilelt_b32_s64(x0, d), a, m, r);
  if constexpr (NV > 1) a1 = acc_init(svwhilelt_b32_s64(x0 + w, d), a + w, m, r);
  if constexpr (NV > 2) a2 = acc_init(svwhilelt_b32_s64(x0 + 2 * w, d), a + 2 * w, m, r);
  if constexpr (NV > 3) a3 = acc_init(svwhilelt_b32_s64(x0 + 3 * w, d), a + 3 * w, m, r);
}

template <int NV>
inline void acc_store(float* a, int64_t x0, int d, svfloat32_t a0, svfloat32_t a1, svfloat32_t a2,
                      svfloat32_t a3) {
  const int64_t w = lanes();
  svst1_f32(svwhilelt_b32_s64(x0, d), a, a0);
  if constexpr (NV > 1) svst1_f32(svwhilelt_b32_s64(x0 + w, d), a + w, a1);
  if constexpr (NV > 2) svst1_f32(svwhilelt_b32_s64(x0 + 2 * w, d), a + 2 * w, a2);
  if constexpr (NV > 3) svst1_f32(svwhilelt_b32_s64(x0 + 3 * w, d), a + 3 * w, a3);
}

// The fmla step: one key per step, P a float per row (broadcast), V a row of float or of bf16
// widened on the fly.
template <class VT>
struct FmlaStep {
  using PType = float;
  using VType = VT;
  static constexpr int kKeys = 1;
  static svbool_t pred(int64_t col, int d) { return svwhilelt_b32_s64(col, d); }
  static svfloat32_t load(svbool_t pg, const VT* v, int key, int d, int64_t col) {
    return load_v(pg, v + static_cast<int64_t>(key) * d + col);
  }
  template <int NV>
  static void row(svfloat32_t& a0, svfloat32_t& a1, svfloat32_t& a2, svfloat32_t& a3,
                  const float* p, svfloat32_t v0, svfloat32_t v1, svfloat32_t v2, svfloat32_t v3) {
    const svbool_t all = svptrue_b32();
    const float pc = *p;  // GCC: ld1rw for the first row, ldr + dup for the others
    a0 = svmla_n_f32_x(all, a0, v0, pc);
    if constexpr (NV > 1) a1 = svmla_n_f32_x(all, a1, v1, pc);
    if constexpr (NV > 2) a2 = svmla_n_f32_x(all, a2, v2, pc);
    if constexpr (NV > 3) a3 = svmla_n_f32_x(all, a3, v3, pc);
  }
};

// acc[r][x0 + ...] (= acc * alpha) += sum over `steps` steps of Step's row update: R rows x NV
// column vectors, the accumulators in registers for the whole loop.
template <int R, int NV, class Step>
void pv_block(const typename Step::PType* p, int64_t ldp, const typename Step::VType* v, int d,
              int x0, int steps, float* acc, const AccMode& mode) {
  const int64_t w = lanes();
  const svbool_t p0 = Step::pred(x0, d), p1 = Step::pred(x0 + w, d);
  const svbool_t p2 = Step::pred(x0 + 2 * w, d), p3 = Step::pred(x0 + 3 * w, d);
  const svfloat32_t z = svdup_n_f32(0.0f);  // unused blocks: optimised away
  svfloat32_t c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  svfloat32_t c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
  svfloat32_t c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
  float* a = acc + x0;
  acc_load<NV>(a, x0, d, mode, 0, c00, c01, c02, c03);
  if constexpr (R > 1) acc_load<NV>(a + d, x0, d, mode, 1, c10, c11, c12, c13);
  if constexpr (R > 2) acc_load<NV>(a + 2 * d, x0, d, mode, 2, c20, c21, c22, c23);
  if constexpr (R > 3) acc_load<NV>(a + 3 * d, x0, d, mode, 3, c30, c31, c32, c33);
  if constexpr (R > 4) acc_load<NV>(a + 4 * d, x0, d, mode, 4, c40, c41, c42, c43);
  if constexpr (R > 5) acc_load<NV>(a + 5 * d, x0, d, mode, 5, c50, c51, c52, c53);
  for (int i = 0; i < steps; ++i) {
    const auto v0 = Step::load(p0, v, i, d, x0);
    const auto v1 = NV > 1 ? Step::load(p1, v, i, d, x0 + w) : v0;
    const auto v2 = NV > 2 ? Step::load(p2, v, i, d, x0 + 2 * w) : v0;
    const auto v3 = NV > 3 ? Step::load(p3, v, i, d, x0 + 3 * w) : v0;
    const typename Step::PType* pi = p + Step::kKeys * i;
    Step::template row<NV>(c00, c01, c02, c03, pi, v0, v1, v2, v3);
    if constexpr (R > 1) Step::template row<NV>(c10, c11, c12, c13, pi + ldp, v0, v1, v2, v3);
    if constexpr (R > 2) Step::template row<NV>(c20, c21, c22, c23, pi + 2 * ldp, v0, v1, v2, v3);
    if constexpr (R > 3) Step::template row<NV>(c30, c31, c32, c33, pi + 3 * ldp, v0, v1, v2, v3);
    if constexpr (R > 4) Step::template row<NV>(c40, c41, c42, c43, pi + 4 * ldp, v0, v1, v2, v3);
    if constexpr (R > 5) Step::template row<NV>(c50, c51, c52, c53, pi + 5 * ldp, v0, v1, v2, v3);
  }
  acc_store<NV>(a, x0, d, c00, c01, c02, c03);
  if constexpr (R > 1) acc_store<NV>(a + d, x0, d, c10, c11, c12, c13);
  if constexpr (R > 2) acc_store<NV>(a + 2 * d, x0, d, c20, c21, c22, c23);
  if constexpr (R > 3) acc_store<NV>(a + 3 * d, x0, d, c30, c31, c32, c33);
  if constexpr (R > 4) acc_store<NV>(a + 4 * d, x0, d, c40, c41, c42, c43);
  if constexpr (R > 5) acc_store<NV>(a + 5 * d, x0, d, c50, c51, c52, c53);
}

// acc[r] (= acc * alpha) += P . V for every row, in blocks of MaxR rows: steps per row (nc,
// causal tiles: a block runs to its longest row, P is 0 past a row's own count), or n_all
// for every row when nc is null.
template <int MaxR, class Step>
void pv_rows(const typename Step::PType* p, int64_t ldp, const typename Step::VType* v, int d,
             int rows, const int* nc, int n_all, float* acc, const AccMode& mode) {
  const int64_t w = lanes();
  const int nvec = static_cast<int>((d + w - 1) / w);
  row_blocks<MaxR>(rows, [&](int r0, auto rb) {
    constexpr int R = decltype(rb)::value;
    int n = n_all;
    if (nc)
      for (int r = r0; r < r0 + R; ++r) n = nc[r] > n ? nc[r] : n;
    AccMode m = mode;
    if (m.alpha) m.alpha += r0;
    vector_blocks(nvec, [&](int j0, auto nb) {
      pv_block<R, decltype(nb)::value, Step>(p + r0 * ldp, ldp, v, d, static_cast<int>(j0 * w), n,
                                             acc + static_cast<int64_t>(r0) * d, m);
    });
  });
}

// fp32 P.V with fmla in 4 rows x 4 vectors (the seeds' fp32 4x4): 16 accumulators, 4 V, 4
// broadcasts. With 6 rows the 34 live vectors exceed the 32 registers and GCC spills
// accumulators in the key loop.
template <class VT>
void pv_rows_f32(const float* p, int64_t ldp, const VT* v, int d, int rows, const int* nc,
                 int n_all, float* acc, const AccMode& mode) {
  pv_rows<4, FmlaStep<VT>>(p, ldp, v, d, rows, nc, n_all, acc, mode);
}

// ---------------------------------------------------------------------------------------------
// P.V in int8 with udot (A64FX has no mixed-sign usdot): u32 sums of P u8 x (V + 128) over
// `quads` key quads, then acc[r][x] = acc * alpha + float(sum - 128 * psum[r]) * beta[r] *
// v_scale[x]: the int32 sums equal the portable backend's bit for bit.
// ---------------------------------------------------------------------------------------------
template <int NV>
inline void udot_row(svuint32_t& a0, svuint32_t& a1, svuint32_t& a2, svuint32_t& a3,
                     const uint8_t* p, svuint8_t v0, svuint8_t v1, svuint8_t v2, svuint8_t v3) {
  const svuint8_t pb = svreinterpret_u8_u32(svdup_n_u32(load_u32(p)));
  a0 = svdot_u32(a0, v0, pb);
  if constexpr (NV > 1) a1 = svdot_u32(a1, v1, pb);
  if constexpr (NV > 2) a2 = svdot_u32(a2, v2, pb);
  if constexpr (NV > 3) a3 = svdot_u32(a3, v3, pb);
}

struct Int8Epilogue {
  const int32_t* psum;    // per row: sum of the P bytes multiplied
  const float* beta;      // per row
  const float* v_scale;   // per column
};

// acc (= acc * alpha[r]) += float(s - 128 psum[r]) * beta[r] * v_scale over one column vector.
inline void u8_store_one(float* a, const float* vs, svbool_t pg, const AccMode& m,
                         const Int8Epilogue& e, int r, svuint32_t s) {
  const svint32_t pv = svsub_n_s32_x(pg, svreinterpret_s32_u32(s), 128 * e.psum[r]);
  const svfloat32_t bs = svmul_n_f32_x(pg, svld1_f32(pg, vs), e.beta[r]);
  svfloat32_t o = svld1_f32(pg, a);
  if (m.alpha) o = svmul_n_f32_x(pg, o, m.alpha[r]);
  svst1_f32(pg, a, svmla_f32_x(pg, o, svcvt_f32_s32_x(pg, pv), bs));
}

template <int NV>
inline void u8_store(float* a, int64_t x0, int d, const AccMode& m, const Int8Epilogue& e, int r,
                     svuint32_t s0, svuint32_t s1, svuint32_t s2, svuint32_t s3) {
  const int64_t w = lanes();
  const float* vs = e.v_scale + x0;
  u8_store_one(a, vs, svwhilelt_b32_s64(x0, d), m, e, r, s0);
  if constexpr (NV > 1) u8_store_one(a + w, vs + w, svwhilelt_b32_s64(x0 + w, d), m, e, r, s1);
  if constexpr (NV > 2) u8_store_one(a + 2 * w, vs + 2 * w, svwhilelt_b32_s64(x0 + 2 * w, d), m, e, r, s2);
  if constexpr (NV > 3) u8_store_one(a + 3 * w, vs + 3 * w, svwhilelt_b32_s64(x0 + 3 * w, d), m, e, r, s3);
}

template <int R, int NV>
void pv_block_u8(const uint8_t* p8, int64_t ldp, const uint8_t* vq, int d, int x0, int quads,
                 float* acc, const AccMode& mode, const Int8Epilogue& ep) {
  const int64_t w = lanes();
  // Byte lanes of column vector j: 4 per column, valid while the column is < d.
  const svbool_t b0 = svwhilelt_b8_s64(0, 4 * (d - x0)), b1 = svwhilelt_b8_s64(0, 4 * (d - x0 - w));
  const svbool_t b2 = svwhilelt_b8_s64(0, 4 * (d - x0 - 2 * w));
  const svbool_t b3 = svwhilelt_b8_s64(0, 4 * (d - x0 - 3 * w));
  const svuint32_t z = svdup_n_u32(0);
  svuint32_t c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  svuint32_t c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
  svuint32_t c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
  for (int qd = 0; qd < quads; ++qd) {
    const uint8_t* vr = vq + (static_cast<int64_t>(qd) * d + x0) * 4;
    const svuint8_t v0 = svld1_u8(b0, vr);
    const svuint8_t v1 = NV > 1 ? svld1_u8(b1, vr + 4 * w) : v0;
    const svuint8_t v2 = NV > 2 ? svld1_u8(b2, vr + 8 * w) : v0;
    const svuint8_t v3 = NV > 3 ? svld1_u8(b3, vr + 12 * w) : v0;
    const uint8_t* pq = p8 + 4 * qd;
    udot_row<NV>(c00, c01, c02, c03, pq, v0, v1, v2, v3);
    if constexpr (R > 1) udot_row<NV>(c10, c11, c12, c13, pq + ldp, v0, v1, v2, v3);
    if constexpr (R > 2) udot_row<NV>(c20, c21, c22, c23, pq + 2 * ldp, v0, v1, v2, v3);
    if constexpr (R > 3) udot_row<NV>(c30, c31, c32, c33, pq + 3 * ldp, v0, v1, v2, v3);
    if constexpr (R > 4) udot_row<NV>(c40, c41, c42, c43, pq + 4 * ldp, v0, v1, v2, v3);
    if constexpr (R > 5) udot_row<NV>(c50, c51, c52, c53, pq + 5 * ldp, v0, v1, v2, v3);
  }
  float* a = acc + x0;
  u8_store<NV>(a, x0, d, mode, ep, 0, c00, c01, c02, c03);
  if constexpr (R > 1) u8_store<NV>(a + d, x0, d, mode, ep, 1, c10, c11, c12, c13);
  if constexpr (R > 2) u8_store<NV>(a + 2 * d, x0, d, mode, ep, 2, c20, c21, c22, c23);
  if constexpr (R > 3) u8_store<NV>(a + 3 * d, x0, d, mode, ep, 3, c30, c31, c32, c33);
  if constexpr (R > 4) u8_store<NV>(a + 4 * d, x0, d, mode, ep, 4, c40, c41, c42, c43);
  if constexpr (R > 5) u8_store<NV>(a + 5 * d, x0, d, mode, ep, 5, c50, c51, c52, c53);
}

// int8 P.V of every row over `quads` quads of P (u8, row stride ldp, zero where masked).
inline void pv_rows_u8(const uint8_t* p8, int64_t ldp, const uint8_t* vq, int d, int rows,
                       int quads, float* acc, const AccMode& mode, const Int8Epilogue& ep) {
  const int64_t w = lanes();
  const int nvec = static_cast<int>((d + w - 1) / w);
  row_blocks(rows, [&](int r0, auto rb) {
    constexpr int R = decltype(rb)::value;
    AccMode m = mode;
    if (m.alpha) m.alpha += r0;
    const Int8Epilogue e{ep.psum + r0, ep.beta + r0, ep.v_scale};
    vector_blocks(nvec, [&](int j0, auto nb) {
      pv_block_u8<R, decltype(nb)::value>(p8 + r0 * ldp, ldp, vq, d, static_cast<int>(j0 * w),
                                          quads, acc + static_cast<int64_t>(r0) * d, m, e);
    });
  });
}

}  // namespace miniattn::sve
