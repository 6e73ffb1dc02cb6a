// BFDOT P.V for CPUs with SVE BF16 (compiled with +bf16; see sve_bf16.hpp).
#include "kernels/sve/sve_bf16.hpp"

#include <arm_sve.h>

#include <cstdlib>

#include "kernels/sve/sve_peak.hpp"

namespace miniattn::sve {

// ACLE names SVE BF16 __ARM_FEATURE_SVE_BF16; GCC 12 says BF16 vector arithmetic plus SVE.
#if defined(__ARM_FEATURE_SVE_BF16) || \
    (defined(__ARM_FEATURE_SVE) && defined(__ARM_FEATURE_BF16_VECTOR_ARITHMETIC))

bool bf16_kernels_built() { return true; }

namespace {

inline svbfloat16_t pair_of(const uint16_t* p) {  // (P[c], P[c+1]) in every 32-bit lane
  return svreinterpret_bf16_u32(svdup_n_u32(load_u32(p)));
}

template <int NV>
inline void bfdot_row(svfloat32_t& a0, svfloat32_t& a1, svfloat32_t& a2, svfloat32_t& a3,
                      const uint16_t* p, svbfloat16_t v0, svbfloat16_t v1, svbfloat16_t v2,
                      svbfloat16_t v3) {
  const svbfloat16_t pb = pair_of(p);
  a0 = svbfdot_f32(a0, v0, pb);
  if constexpr (NV > 1) a1 = svbfdot_f32(a1, v1, pb);
  if constexpr (NV > 2) a2 = svbfdot_f32(a2, v2, pb);
  if constexpr (NV > 3) a3 = svbfdot_f32(a3, v3, pb);
}

template <int R, int NV>
void pv_block_bf16(const uint16_t* p, int64_t ldp, const uint16_t* vp, int d, int x0, int pairs,
                   float* acc, const AccMode& mode) {
  const int64_t w = lanes();
  // Halfword lanes of column vector j: 2 per column, valid while the column is < d.
  const svbool_t h0 = svwhilelt_b16_s64(0, 2 * (d - x0)), h1 = svwhilelt_b16_s64(0, 2 * (d - x0 - w));
  const svbool_t h2 = svwhilelt_b16_s64(0, 2 * (d - x0 - 2 * w));
  const svbool_t h3 = svwhilelt_b16_s64(0, 2 * (d - x0 - 3 * w));
  const svfloat32_t z = svdup_n_f32(0.0f);
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
  for (int i = 0; i < pairs; ++i) {
    const bfloat16_t* vr = reinterpret_cast<const bfloat16_t*>(vp + (static_cast<int64_t>(i) * d + x0) * 2);
    const svbfloat16_t v0 = svld1_bf16(h0, vr);
    const svbfloat16_t v1 = NV > 1 ? svld1_bf16(h1, vr + 2 * w) : v0;
    const svbfloat16_t v2 = NV > 2 ? svld1_bf16(h2, vr + 4 * w) : v0;
    const svbfloat16_t v3 = NV > 3 ? svld1_bf16(h3, vr + 6 * w) : v0;
    const uint16_t* pp = p + 2 * i;
    bfdot_row<NV>(c00, c01, c02, c03, pp, v0, v1, v2, v3);
    if constexpr (R > 1) bfdot_row<NV>(c10, c11, c12, c13, pp + ldp, v0, v1, v2, v3);
    if constexpr (R > 2) bfdot_row<NV>(c20, c21, c22, c23, pp + 2 * ldp, v0, v1, v2, v3);
    if constexpr (R > 3) bfdot_row<NV>(c30, c31, c32, c33, pp + 3 * ldp, v0, v1, v2, v3);
    if constexpr (R > 4) bfdot_row<NV>(c40, c41, c42, c43, pp + 4 * ldp, v0, v1, v2, v3);
    if constexpr (R > 5) bfdot_row<NV>(c50, c51, c52, c53, pp + 5 * ldp, v0, v1, v2, v3);
  }
  acc_store<NV>(a, x0, d, c00, c01, c02, c03);
  if constexpr (R > 1) acc_store<NV>(a + d, x0, d, c10, c11, c12, c13);
  if constexpr (R > 2) acc_store<NV>(a + 2 * d, x0, d, c20, c21, c22, c23);
  if constexpr (R > 3) acc_store<NV>(a + 3 * d, x0, d, c30, c31, c32, c33);
  if constexpr (R > 4) acc_store<NV>(a + 4 * d, x0, d, c40, c41, c42, c43);
  if constexpr (R > 5) acc_store<NV>(a + 5 * d, x0, d, c50, c51, c52, c53);
}

}  // namespace

void pv_rows_bf16(const uint16_t* p, int64_t ldp, const uint16_t* vp, int d, int rows, int pairs,
                  float* acc, const AccMode& mode) {
  const int64_t w = lanes();
  const int nvec = static_cast<int>((d + w - 1) / w);
  row_blocks(rows, [&](int r0, auto rb) {
    AccMode m = mode;
    if (m.alpha) m.alpha += r0;
    vector_blocks(nvec, [&](int j0, auto nb) {
      pv_block_bf16<decltype(rb)::value, decltype(nb)::value>(
          p + r0 * ldp, ldp, vp, d, static_cast<int>(j0 * w), pairs,
          acc + static_cast<int64_t>(r0) * d, m);
    });
  });
}

double bfdot_peak(double seconds) {
  alignas(64) static const uint16_t src[256] = {0x3f80, 0x3f00};  // 1.0, 0.5, zeros
  volatile float sink = 0.0f;
  const svbfloat16_t x = svld1_bf16(svptrue_b16(), reinterpret_cast<const bfloat16_t*>(src));
  const svbfloat16_t y = svld1_bf16(svptrue_b16(), reinterpret_cast<const bfloat16_t*>(src + 2));
  const double ops = 16.0 * kPeakIters * 4.0 * static_cast<double>(lanes());  // 2 MACs a lane
  return ops_per_second(seconds, ops, [&] {
    const svfloat32_t z = svdup_n_f32(0.0f);
    svfloat32_t a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
    svfloat32_t a8 = z, a9 = z, a10 = z, a11 = z, a12 = z, a13 = z, a14 = z, a15 = z;
    for (int i = 0; i < kPeakIters; ++i) {
      a0 = svbfdot_f32(a0, x, y), a1 = svbfdot_f32(a1, x, y), a2 = svbfdot_f32(a2, x, y);
      a3 = svbfdot_f32(a3, x, y), a4 = svbfdot_f32(a4, x, y), a5 = svbfdot_f32(a5, x, y);
      a6 = svbfdot_f32(a6, x, y), a7 = svbfdot_f32(a7, x, y), a8 = svbfdot_f32(a8, x, y);
      a9 = svbfdot_f32(a9, x, y), a10 = svbfdot_f32(a10, x, y), a11 = svbfdot_f32(a11, x, y);
      a12 = svbfdot_f32(a12, x, y), a13 = svbfdot_f32(a13, x, y), a14 = svbfdot_f32(a14, x, y);
      a15 = svbfdot_f32(a15, x, y);
    }
    const svbool_t all = svptrue_b32();
    svfloat32_t s = svadd_f32_x(all, svadd_f32_x(all, a0, a1), svadd_f32_x(all, a2, a3));
    s = svadd_f32_x(all, s, svadd_f32_x(all, svadd_f32_x(all, a4, a5), svadd_f32_x(all, a6, a7)));
    s = svadd_f32_x(all, s, svadd_f32_x(all, svadd_f32_x(all, a8, a9), svadd_f32_x(all, a10, a11)));
    s = svadd_f32_x(all, s, svadd_f32_x(all, svadd_f32_x(all, a12, a13), svadd_f32_x(all, a14, a15)));
    sink = sink + svaddv_f32(all, s);
  });
}

#else  // the compiler has no SVE BF16: the backend never calls these (bf16_kernels_built)

bool bf16_kernels_built() { return false; }
void pv_rows_bf16(const uint16_t*, int64_t, const uint16_t*, int, int, int, float*, const AccMode&) {
  std::abort();
}
double bfdot_peak(double) { return 0.0; }

#endif

}  // namespace miniattn::sve
