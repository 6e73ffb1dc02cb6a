// The seeds' kernel studies on AVX-512 (miniattn-bench): instruction peaks, the vectorised exp2
// row, and stage 2 (O = exp2(S * scale - max) . V) as per-k fused exp2, two-pass and pure GEMM.
#include "kernels/avx512/avx512_studies.hpp"

#include <immintrin.h>

#include <algorithm>
#include <chrono>

#include "kernels/avx512/avx512_simd.hpp"

namespace miniattn {
namespace {

using avx512::FexpaTable;

// Peak loops: 12 independent accumulator chains (vpdpbusd/vfmadd/vdpbf16ps issue 1/cycle per
// zmm on the machines measured here with 4-5 cycles latency; 12 covers up to 2/cycle x 6).
// Operands are hidden from the compiler so the loop is not folded.
constexpr int kChains = 12;
constexpr long kBatch = 1 << 16;

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <class Step>
double rate(double seconds, double ops_per_step, Step step) {
  step(kBatch);  // warm up (clock ramp, page in)
  long steps = 0;
  const double t0 = now();
  double t = t0;
  do {
    step(kBatch);
    steps += kBatch;
    t = now();
  } while (t - t0 < seconds);
  return steps * ops_per_step / (t - t0) * 1e-9;
}

__attribute__((noinline)) void loop_dpbusd(long n, __m512i* sink) {
  __m512i acc[kChains];
  __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_epi32(i);
  for (long k = 0; k < n; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = avx512::dpbusd(acc[i], a, b);
    __asm__ volatile("" : "+v"(a), "+v"(b));
  }
  for (int i = 1; i < kChains; ++i) acc[0] = _mm512_add_epi32(acc[0], acc[i]);
  *sink = acc[0];
}

__attribute__((noinline)) void loop_fma(long n, __m512* sink) {
  __m512 acc[kChains];
  __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (long k = 0; k < n; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __asm__ volatile("" : "+v"(a), "+v"(b));
  }
  for (int i = 1; i < kChains; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  *sink = acc[0];
}

__attribute__((noinline)) void loop_dpbf16(long n, __m512* sink) {
  __m512 acc[kChains];
  __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3a83);
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (long k = 0; k < n; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = avx512::dpbf16(acc[i], a, b);
    __asm__ volatile("" : "+v"(a), "+v"(b));
  }
  for (int i = 1; i < kChains; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  *sink = acc[0];
}

template <Exp2Kind E>
void exp2_row_of(const float* x, float* y, int64_t n, const FexpaTable& tab) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, avx512::exp2_of<E>(_mm512_loadu_ps(x + i), tab));
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, k, avx512::exp2_of<E>(_mm512_maskz_loadu_ps(k, x + i), tab));
  }
}

// O[m x d] += P[m x nc] . V[nc x d], row-major, O rows in registers 16 channels at a time:
// blocks of 4 rows x 4 vectors (16 accumulators), P broadcast, V loaded once per 4 rows.
void gemm_rows(int m, int nc, int d, const float* pm, const float* v, float* o) {
  for (int x0 = 0; x0 < d; x0 += 64) {
    const int vecs = std::min(4, (d - x0) / 16);
    for (int r0 = 0; r0 < m; r0 += 4) {
      const int rows = std::min(4, m - r0);
      __m512 acc[4][4];
      for (int r = 0; r < 4; ++r)
        for (int j = 0; j < 4; ++j) acc[r][j] = _mm512_setzero_ps();
      for (int c = 0; c < nc; ++c) {
        __m512 vv[4];
        for (int j = 0; j < 4; ++j) vv[j] = j < vecs ? _mm512_loadu_ps(v + static_cast<int64_t>(c) * d + x0 + 16 * j) : _mm512_setzero_ps();
        for (int r = 0; r < 4; ++r) {
          if (r >= rows) break;
          const __m512 pb = _mm512_set1_ps(pm[static_cast<int64_t>(r0 + r) * nc + c]);
          for (int j = 0; j < 4; ++j) acc[r][j] = _mm512_fmadd_ps(pb, vv[j], acc[r][j]);
        }
      }
      for (int r = 0; r < rows; ++r)
        for (int j = 0; j < vecs; ++j) {
          float* out = o + static_cast<int64_t>(r0 + r) * d + x0 + 16 * j;
          _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), acc[r][j]));
        }
    }
  }
}

class Avx512Studies final : public KernelStudies {
 public:
  void exp2_row(Exp2Kind e, const float* x, float* y, int64_t n) const override {
    static const FexpaTable tab;
    switch (e) {
      case Exp2Kind::Accurate: return exp2_row_of<Exp2Kind::Accurate>(x, y, n, tab);
      case Exp2Kind::Fast: return exp2_row_of<Exp2Kind::Fast>(x, y, n, tab);
      case Exp2Kind::Fixed: return exp2_row_of<Exp2Kind::Fixed>(x, y, n, tab);
    }
  }

  void stage2(Stage2Kind kind, int m, int nc, int d, const int32_t* s, float scale,
              const float* row_max, const float* v, float* o, float* scratch) const override {
    std::fill(o, o + static_cast<int64_t>(m) * d, 0.0f);
    if (kind == Stage2Kind::FusedPerK) {
      // The seed's per-k fused form: at each key, one exp2 per row (the m rows share one
      // vector, m of 16 lanes used), then the rows' FMAs over V[key].
      const __mmask16 lanes = static_cast<__mmask16>(m >= 16 ? 0xFFFF : (1u << m) - 1);
      __m512i row_off = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32(nc));
      alignas(64) float pk[16];
      for (int r0 = 0; r0 < m; r0 += 16) {
        const int rows = std::min(16, m - r0);
        const __mmask16 k = static_cast<__mmask16>(rows >= 16 ? 0xFFFF : (1u << rows) - 1) & lanes;
        const __m512 negmax = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_maskz_loadu_ps(k, row_max + r0));
        for (int c = 0; c < nc; ++c) {
          const __m512i sv = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, row_off,
                                                         s + static_cast<int64_t>(r0) * nc + c, 4);
          const __m512 x = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sv), _mm512_set1_ps(scale), negmax);
          _mm512_store_ps(pk, avx512::exp2_accurate(x));
          for (int r = 0; r < rows; ++r) {
            const __m512 pb = _mm512_set1_ps(pk[r]);
            float* orow = o + static_cast<int64_t>(r0 + r) * d;
            const float* vrow = v + static_cast<int64_t>(c) * d;
            for (int x0 = 0; x0 < d; x0 += 16)
              _mm512_storeu_ps(orow + x0, _mm512_fmadd_ps(pb, _mm512_loadu_ps(vrow + x0), _mm512_loadu_ps(orow + x0)));
          }
        }
      }
      return;
    }
    if (kind == Stage2Kind::TwoPass) {
      // Pass 1: exp2 over the whole chunk, 16 keys per instruction.
      for (int r = 0; r < m; ++r) {
        const __m512 negmax = _mm512_set1_ps(-row_max[r]);
        const int32_t* srow = s + static_cast<int64_t>(r) * nc;
        float* prow = scratch + static_cast<int64_t>(r) * nc;
        int c = 0;
        for (; c + 16 <= nc; c += 16)
          _mm512_storeu_ps(prow + c, avx512::exp2_accurate(_mm512_fmadd_ps(
                                         _mm512_cvtepi32_ps(_mm512_loadu_si512(srow + c)), _mm512_set1_ps(scale), negmax)));
        for (; c < nc; ++c) prow[c] = exp2::exp2_accurate(srow[c] * scale - row_max[r]);
      }
    }
    // Pass 2 (and PureGemm on the P the caller left in scratch).
    gemm_rows(m, nc, d, scratch, v, o);
  }
};

}  // namespace

const KernelStudies* avx512_studies() {
  static const Avx512Studies s;
  return &s;
}

PeakRates avx512_peak_rates(double seconds) {
  PeakRates r;
  __m512i si;
  __m512 sf;
  r.int8_gops = rate(seconds, kChains * 64.0 * 2, [&](long n) { loop_dpbusd(n, &si); });
  r.fp32_gflops = rate(seconds, kChains * 16.0 * 2, [&](long n) { loop_fma(n, &sf); });
  r.bf16_gflops = rate(seconds, kChains * 32.0 * 2, [&](long n) { loop_dpbf16(n, &sf); });
  return r;
}

}  // namespace miniattn
