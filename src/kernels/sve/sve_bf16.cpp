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

// The bfdot step: one key pair per step, P a bf16 pair per row (broadcast as one 32-bit word),
// V packed in pairs: pair i, column x: V[2i][x], V[2i+1][x] at vp + (i * d + x) * 2.
struct BfdotStep {
  using PType = uint16_t;
  using VType = uint16_t;
  static constexpr int kKeys = 2;
  static svbool_t pred(int64_t col, int d) {  // 2 halfword lanes per column, columns < d
    return svwhilelt_b16_s64(0, 2 * (d - col));
  }
  static svbfloat16_t load(svbool_t pg, const uint16_t* vp, int pair, int d, int64_t col) {
    return svld1_bf16(pg, reinterpret_cast<const bfloat16_t*>(vp + (static_cast<int64_t>(pair) * d + col) * 2));
  }
  template <int NV>
  static void row(svfloat32_t& a0, svfloat32_t& a1, svfloat32_t& a2, svfloat32_t& a3,
                  const uint16_t* p, svbfloat16_t v0, svbfloat16_t v1, svbfloat16_t v2,
                  svbfloat16_t v3) {
    const svbfloat16_t pb = svreinterpret_bf16_u32(svdup_n_u32(load_u32(p)));
    a0 = svbfdot_f32(a0, v0, pb);
    if constexpr (NV > 1) a1 = svbfdot_f32(a1, v1, pb);
    if constexpr (NV > 2) a2 = svbfdot_f32(a2, v2, pb);
    if constexpr (NV > 3) a3 = svbfdot_f32(a3, v3, pb);
  }
};

}  // namespace

void pv_rows_bf16(const uint16_t* p, int64_t ldp, const uint16_t* vp, int d, int rows, int pairs,
                  float* acc, const AccMode& mode) {
  pv_rows<6, BfdotStep>(p, ldp, vp, d, rows, nullptr, pairs, acc, mode);
}

double bfdot_peak(double seconds) {
  alignas(64) static const uint16_t src[256] = {0x3f80, 0x3f00};  // 1.0, 0.5, zeros
  volatile float sink = 0.0f;
  const svbfloat16_t x = svld1_bf16(svptrue_b16(), reinterpret_cast<const bfloat16_t*>(src));
  const svbfloat16_t y = svld1_bf16(svptrue_b16(), reinterpret_cast<const bfloat16_t*>(src + 2));
  const double ops = kPeakInstructions * 4.0 * static_cast<double>(lanes());  // 2 MACs a lane
  return ops_per_second(seconds, ops, [&] {
    const svfloat32_t s = peak_chains(
        svdup_n_f32(0.0f), x, y,
        [](svfloat32_t a, svbfloat16_t u, svbfloat16_t v) { return svbfdot_f32(a, u, v); },
        [](svfloat32_t a, svfloat32_t b) { return svadd_f32_x(svptrue_b32(), a, b); });
    sink = sink + svaddv_f32(svptrue_b32(), s);
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
