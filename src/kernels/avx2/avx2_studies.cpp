// The seeds' kernel studies on AVX2 (miniattn-bench --backend avx2): instruction peaks, the
// vectorised exp2 row, and stage 2 (O = exp2(S * scale - max) . V) as per-k fused exp2, two-pass
// and pure GEMM.
//
// What "peak" means on AVX2. fp32: vfmadd231ps ymm, 16 flops each. int8: AVX2 has no exact
// int8 x int8 dot product with int32 sums in one instruction; the peak is that of the sequence
// the kernels issue for it: without VNNI, vpmaddwd + vpaddd on int16-extended operands (8 lanes
// x 2 products x 2 ops = 32 ops per pair; on two multiply ports that is 64 ops per cycle), with
// AVX-VNNI, vpdpbusd ymm (8 lanes x 4 products x 2 = 64 ops each). For comparison, the int8
// sign trick (vpsignb + vpmaddubsw + vpmaddwd + vpaddd, 64 ops per sequence) measured 0.65
// sequences per cycle here, 42 ops per cycle: it has three multiply-port instructions. bf16: 0,
// there is no bf16 arithmetic on AVX2 (the bf16 P.V runs on the fp32 FMA; its bound is fp32's).
#include "kernels/avx2/avx2_studies.hpp"

#include <immintrin.h>

#include <algorithm>
#include <chrono>

#include "kernels/avx2/avx2_simd.hpp"

namespace miniattn {
namespace {

using avx2::FexpaTables;

// Peak loops: 12 independent accumulator chains (covers vfmadd's and vpdpbusd's 4-5 cycles of
// latency at 2 per cycle). Operands are hidden from the compiler so the loop is not folded, and
// the int8 steps are asm so that the products of identical operands are not merged.
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

// One int8 step of the kernels' Q.K^T on register operands.
template <Avx2Dot Dot>
inline __m256i int8_step(__m256i acc, __m256i a, __m256i b) {
  if constexpr (Dot == Avx2Dot::Madd16) {
    __m256i t;
    __asm__("vpmaddwd %[b], %[a], %[t]\n\tvpaddd %[t], %[acc], %[acc]"
            : [acc] "+x"(acc), [t] "=&x"(t)
            : [a] "x"(a), [b] "x"(b));
    return acc;
  } else {
    return avx2::dpbusd<Dot == Avx2Dot::Avx512Vnni>(acc, a, b);
  }
}

template <Avx2Dot Dot>
__attribute__((noinline)) void loop_int8(long n, __m256i* sink) {
  __m256i acc[kChains];
  __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-5);
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_epi32(i);
  for (long k = 0; k < n; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = int8_step<Dot>(acc[i], a, b);
    __asm__ volatile("" : "+x"(a), "+x"(b));
  }
  for (int i = 1; i < kChains; ++i) acc[0] = _mm256_add_epi32(acc[0], acc[i]);
  *sink = acc[0];
}

__attribute__((noinline)) void loop_fma(long n, __m256* sink) {
  __m256 acc[kChains];
  __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  for (long k = 0; k < n; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __asm__ volatile("" : "+x"(a), "+x"(b));
  }
  for (int i = 1; i < kChains; ++i) acc[0] = _mm256_add_ps(acc[0], acc[i]);
  *sink = acc[0];
}

template <Exp2Kind E>
void exp2_row_of(const float* x, float* y, int64_t n, const FexpaTables& tab) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, avx2::exp2_of<E>(_mm256_loadu_ps(x + i), tab));
  if (i < n) {
    alignas(32) float buf[8] = {};
    std::copy(x + i, x + n, buf);
    _mm256_store_ps(buf, avx2::exp2_of<E>(_mm256_load_ps(buf), tab));
    std::copy(buf, buf + (n - i), y + i);
  }
}

// O[R rows x 16 channels] += P[R x nc] . V[nc x 16], row-major, P broadcast: R x 2 accumulators
// (R = 6: 12 chains, 15 registers).
template <int R>
void gemm_block(int nc, int d, const float* pm, const float* v, float* o) {
  __m256 acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int c = 0; c < nc; ++c) {
    const __m256 v0 = _mm256_loadu_ps(v + static_cast<int64_t>(c) * d);
    const __m256 v1 = _mm256_loadu_ps(v + static_cast<int64_t>(c) * d + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 pb = _mm256_broadcast_ss(pm + static_cast<int64_t>(r) * nc + c);
      acc[r][0] = _mm256_fmadd_ps(pb, v0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(pb, v1, acc[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < 2; ++j) {
      float* out = o + static_cast<int64_t>(r) * d + 8 * j;
      _mm256_storeu_ps(out, _mm256_add_ps(_mm256_loadu_ps(out), acc[r][j]));
    }
}

// O[m x d] += P[m x nc] . V[nc x d] (d a multiple of 16).
void gemm_rows(int m, int nc, int d, const float* pm, const float* v, float* o) {
  for (int x0 = 0; x0 < d; x0 += 16)
    for (int r0 = 0; r0 < m; r0 += 6) {
      const float* p = pm + static_cast<int64_t>(r0) * nc;
      float* out = o + static_cast<int64_t>(r0) * d + x0;
      switch (std::min(6, m - r0)) {
        case 1: gemm_block<1>(nc, d, p, v + x0, out); break;
        case 2: gemm_block<2>(nc, d, p, v + x0, out); break;
        case 3: gemm_block<3>(nc, d, p, v + x0, out); break;
        case 4: gemm_block<4>(nc, d, p, v + x0, out); break;
        case 5: gemm_block<5>(nc, d, p, v + x0, out); break;
        default: gemm_block<6>(nc, d, p, v + x0, out); break;
      }
    }
}

template <Avx2Dot Dot>
PeakRates peak_rates(double seconds) {
  PeakRates r;
  __m256i si;
  __m256 sf;
  const double int8_ops = Dot == Avx2Dot::Madd16 ? 32.0 : 64.0;
  r.int8_gops = rate(seconds, kChains * int8_ops, [&](long n) { loop_int8<Dot>(n, &si); });
  r.fp32_gflops = rate(seconds, kChains * 16.0, [&](long n) { loop_fma(n, &sf); });
  return r;
}

template <Avx2Dot Dot>
class Avx2Studies final : public KernelStudies {
 public:
  void exp2_row(Exp2Kind e, const float* x, float* y, int64_t n) const override {
    static const FexpaTables tab;
    switch (e) {
      case Exp2Kind::Accurate: return exp2_row_of<Exp2Kind::Accurate>(x, y, n, tab);
      case Exp2Kind::Fast: return exp2_row_of<Exp2Kind::Fast>(x, y, n, tab);
      case Exp2Kind::Fixed: return exp2_row_of<Exp2Kind::Fixed>(x, y, n, tab);
    }
  }

  void stage2(Stage2Kind kind, int m, int nc, int d, const int32_t* s, float scale, const float* row_max,
              const float* v, float* o, float* scratch) const override {
    std::fill(o, o + static_cast<int64_t>(m) * d, 0.0f);
    if (kind == Stage2Kind::FusedPerK) {
      // The seed's per-k fused form: at each key, one exp2 per row (the m rows share one
      // vector, up to 8 lanes used), then the rows' FMAs over V[key].
      const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      const __m256i row_off = _mm256_mullo_epi32(lane, _mm256_set1_epi32(nc));
      alignas(32) float pk[8];
      for (int r0 = 0; r0 < m; r0 += 8) {
        const int rows = std::min(8, m - r0);
        const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32(rows), lane);
        const __m256 negmax = _mm256_sub_ps(_mm256_setzero_ps(), _mm256_maskload_ps(row_max + r0, k));
        for (int c = 0; c < nc; ++c) {
          const __m256i sv = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), s + static_cast<int64_t>(r0) * nc + c,
                                                         row_off, k, 4);
          const __m256 x = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sv), _mm256_set1_ps(scale), negmax);
          _mm256_store_ps(pk, avx2::exp2_accurate(x));
          for (int r = 0; r < rows; ++r) {
            const __m256 pb = _mm256_set1_ps(pk[r]);
            float* orow = o + static_cast<int64_t>(r0 + r) * d;
            const float* vrow = v + static_cast<int64_t>(c) * d;
            for (int x0 = 0; x0 < d; x0 += 8)
              _mm256_storeu_ps(orow + x0, _mm256_fmadd_ps(pb, _mm256_loadu_ps(vrow + x0), _mm256_loadu_ps(orow + x0)));
          }
        }
      }
      return;
    }
    if (kind == Stage2Kind::TwoPass) {
      // Pass 1: exp2 over the whole chunk, 8 keys per instruction.
      for (int r = 0; r < m; ++r) {
        const __m256 negmax = _mm256_set1_ps(-row_max[r]);
        const int32_t* srow = s + static_cast<int64_t>(r) * nc;
        float* prow = scratch + static_cast<int64_t>(r) * nc;
        int c = 0;
        for (; c + 8 <= nc; c += 8)
          _mm256_storeu_ps(prow + c, avx2::exp2_accurate(_mm256_fmadd_ps(
                                         _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(srow + c))),
                                         _mm256_set1_ps(scale), negmax)));
        for (; c < nc; ++c) prow[c] = exp2::exp2_accurate(exp2::madd(static_cast<float>(srow[c]), scale, -row_max[r]));
      }
    }
    // Pass 2 (and PureGemm on the P the caller left in scratch).
    gemm_rows(m, nc, d, scratch, v, o);
  }
};

}  // namespace

const KernelStudies* avx2_studies(Avx2Dot dot) {
  static const Avx2Studies<Avx2Dot::Madd16> madd16;
  static const Avx2Studies<Avx2Dot::AvxVnni> vnni;
  static const Avx2Studies<Avx2Dot::Avx512Vnni> evex;
  switch (dot) {
    case Avx2Dot::AvxVnni: return &vnni;
    case Avx2Dot::Avx512Vnni: return &evex;
    case Avx2Dot::Madd16: break;
  }
  return &madd16;
}

PeakRates avx2_peak_rates(Avx2Dot dot, double seconds) {
  switch (dot) {
    case Avx2Dot::AvxVnni: return peak_rates<Avx2Dot::AvxVnni>(seconds);
    case Avx2Dot::Avx512Vnni: return peak_rates<Avx2Dot::Avx512Vnni>(seconds);
    case Avx2Dot::Madd16: break;
  }
  return peak_rates<Avx2Dot::Madd16>(seconds);
}

}  // namespace miniattn
