// The seeds' kernel studies on SVE: register-resident peak loops (sdot, fmla, bfdot), the
// vectorised exp2 forms, and stage 2 (seed 001) as per-k fused, two-pass and pure GEMM.
#include "kernels/sve/sve_studies.hpp"

#include <arm_sve.h>

#include <cstring>

#include "kernels/sve/sve_bf16.hpp"
#include "kernels/sve/sve_exp2.hpp"
#include "kernels/sve/sve_kernels.hpp"
#include "kernels/sve/sve_peak.hpp"
#include "miniattn/cpu_features.hpp"

namespace miniattn::sve {
namespace {

double sdot_peak(double seconds) {
  alignas(64) static const int8_t src[256] = {1, 2, 3, 4, -1, -2, -3, -4};
  volatile int32_t sink = 0;
  const svint8_t x = svld1_s8(svptrue_b8(), src);
  const svint8_t y = svld1_s8(svptrue_b8(), src + 4);
  const double ops = kPeakInstructions * 8.0 * static_cast<double>(lanes());  // 4 MACs a lane
  return ops_per_second(seconds, ops, [&] {
    const svint32_t s = peak_chains(
        svdup_n_s32(0), x, y,
        [](svint32_t a, svint8_t u, svint8_t v) { return svdot_s32(a, u, v); },
        [](svint32_t a, svint32_t b) { return svadd_s32_x(svptrue_b32(), a, b); });
    sink = sink + static_cast<int32_t>(svaddv_s32(svptrue_b32(), s));
  });
}

double fmla_peak(double seconds) {
  volatile float sink = 0.0f;
  const svfloat32_t x = svdup_n_f32(1.0f + 1.0f / 1024), y = svdup_n_f32(0.999f);
  const double ops = kPeakInstructions * 2.0 * static_cast<double>(lanes());
  return ops_per_second(seconds, ops, [&] {
    const svfloat32_t s = peak_chains(
        svdup_n_f32(0.0f), x, y,
        [](svfloat32_t a, svfloat32_t u, svfloat32_t v) { return svmla_f32_x(svptrue_b32(), a, u, v); },
        [](svfloat32_t a, svfloat32_t b) { return svadd_f32_x(svptrue_b32(), a, b); });
    sink = sink + svaddv_f32(svptrue_b32(), s);
  });
}

template <Exp2Kind E>
void exp2_loop(const float* x, float* y, int64_t n) {
  const int64_t w = lanes();
  for (int64_t i = 0; i < n; i += w) {
    const svbool_t pg = svwhilelt_b32_s64(i, n);
    svst1_f32(pg, y + i, exp2_of<E>(pg, svld1_f32(pg, x + i)));
  }
}

// exp2(s * scale - row_max) of row r, keys [0, nc), into p.
void exp2_scores(const int32_t* s, float scale, float row_max, float* p, int nc) {
  const int64_t w = lanes();
  for (int64_t c = 0; c < nc; c += w) {
    const svbool_t pg = svwhilelt_b32_s64(c, nc);
    const svfloat32_t x = svcvt_f32_s32_x(pg, svld1_s32(pg, s + c));
    svst1_f32(pg, p + c, exp2_accurate(pg, svmad_n_f32_x(pg, x, svdup_n_f32(scale), -row_max)));
  }
}

class SveStudies final : public KernelStudies {
 public:
  void exp2_row(Exp2Kind e, const float* x, float* y, int64_t n) const override {
    switch (e) {
      case Exp2Kind::Accurate: return exp2_loop<Exp2Kind::Accurate>(x, y, n);
      case Exp2Kind::Fast: return exp2_loop<Exp2Kind::Fast>(x, y, n);
      case Exp2Kind::Fixed: return exp2_loop<Exp2Kind::Fixed>(x, y, n);
    }
  }

  void stage2(Stage2Kind kind, int m, int nc, int d, const int32_t* s, float scale,
              const float* row_max, const float* v, float* o, float* scratch) const override {
    const AccMode zero{nullptr, true};
    if (kind == Stage2Kind::FusedPerK) {
      fused_per_k(m, nc, d, s, scale, row_max, v, o);
      return;
    }
    if (kind == Stage2Kind::TwoPass)  // pass 1: exp2 along each row, 16 lanes at a time
      for (int r = 0; r < m; ++r)
        exp2_scores(s + static_cast<int64_t>(r) * nc, scale, row_max[r],
                    scratch + static_cast<int64_t>(r) * nc, nc);
    pv_rows_f32(scratch, nc, v, d, m, nullptr, nc, o, zero);  // pass 2: the fmla GEMM
  }

 private:
  // The seeds' per-k fused form: for each key, the exp2 of one column of S (one value per row,
  // W rows a vector: FEXPA at m / W occupancy), each broadcast into an fmla over the row of O.
  static void fused_per_k(int m, int nc, int d, const int32_t* s, float scale,
                          const float* row_max, const float* v, float* o) {
    const int64_t w = lanes();
    alignas(64) float col[64];  // one vector of P: at most 2048-bit SVE
    std::memset(o, 0, static_cast<std::size_t>(m) * d * sizeof(float));
    const svint32_t rows_idx = svindex_s32(0, nc);  // s[r * nc + c]: a gather down the column
    for (int c = 0; c < nc; ++c)
      for (int r0 = 0; r0 < m; r0 += static_cast<int>(w)) {
        const svbool_t pg = svwhilelt_b32_s32(r0, m);
        const svint32_t sc = svld1_gather_s32index_s32(pg, s + static_cast<int64_t>(r0) * nc + c, rows_idx);
        const svfloat32_t x = svmad_f32_x(pg, svcvt_f32_s32_x(pg, sc), svdup_n_f32(scale),
                                          svneg_f32_x(pg, svld1_f32(pg, row_max + r0)));
        svst1_f32(pg, col, exp2_accurate(pg, x));
        for (int r = r0; r < m && r < r0 + w; ++r) {
          float* orow = o + static_cast<int64_t>(r) * d;
          const float* vrow = v + static_cast<int64_t>(c) * d;
          for (int64_t x0 = 0; x0 < d; x0 += w) {
            const svbool_t px = svwhilelt_b32_s64(x0, d);
            svst1_f32(px, orow + x0, svmla_n_f32_x(px, svld1_f32(px, orow + x0),
                                                   svld1_f32(px, vrow + x0), col[r - r0]));
          }
        }
      }
  }
};

}  // namespace

const KernelStudies* sve_studies() {
  static const SveStudies s;
  return &s;
}

PeakRates sve_peak_rates(double seconds) {
  PeakRates r;
  r.int8_gops = sdot_peak(seconds) * 1e-9;
  r.fp32_gflops = fmla_peak(seconds) * 1e-9;
  if (cpu_features().sve_bf16 && bf16_kernels_built()) r.bf16_gflops = bfdot_peak(seconds) * 1e-9;
  return r;
}

}  // namespace miniattn::sve
