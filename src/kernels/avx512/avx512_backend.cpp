// avx512: INT8 attention on AVX-512 VNNI (and AVX512-BF16 for the bf16 P.V).
//
// Everything runs with query rows in the 16 lanes of a register ("transposed" tiles), in
// blocks of 64 rows (4 lane groups):
//  * Q.K^T: Q is packed per block as u8 = q8 + 128 in [D/4][64 rows][4] (one zmm per 4 channels
//    of 16 rows); K stays in its natural [key][D] s8 layout and 4 bytes of one key are broadcast.
//    vpdpbusd accumulates S^T[key][rows]. The accumulators start at -128 * sum_d k8[key][d], so
//    they end at exactly q8 . k8: the int32 scores equal the portable backend's bit for bit.
//    Register block: 4 lane groups x 4 keys = 16 independent accumulators (vpdpbusd zmm issues
//    1/cycle with 4-5 cycles latency here), 4 Q loads + 4 broadcasts per 16 vpdpbusd.
//  * Softmax: the row maximum is a vmaxps across key registers, exp2 runs on 16 rows of one key
//    at a time; no horizontal reductions anywhere. The dequantisation (cvt, x k_scale) and the
//    running maximum are the epilogue of the Q.K^T register block (timed as qk_gemm).
//  * P.V accumulates O^T[d][rows] in a [D][64] float tile: fp32 vfmadd231ps (P^T from the
//    softmax, V[key][d] broadcast), bf16 vdpbf16ps (P and V in key pairs), int8 vpdpbusd (P as
//    u8 in key quads, V as s8 quads per channel, V packed once per KV head). Register block:
//    4 lane groups x 4 channels. The alpha/beta rescales are per-lane vector multiplies; the
//    online rescale O^T *= alpha is applied to P.V's accumulator loads (no pass of its own).
#include "kernels/avx512/avx512_backend.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/avx512/avx512_quantize.hpp"
#include "kernels/avx512/avx512_simd.hpp"
#include "kernels/common/quantize.hpp"
#include "kernels/common/schedule.hpp"
#include "kernels/common/tile_math.hpp"
#include "miniattn/clock.hpp"
#include "miniattn/cpu_features.hpp"

namespace miniattn {
namespace {

using avx512::FexpaTable;
using schedule::kNegInf;
using schedule::load_u32;
using schedule::round_up;
using schedule::RowBlock;

constexpr int kBlockRows = 64;  // rows per block: 4 lane groups
constexpr int kQkKeys = 4;      // keys per Q.K^T register block
constexpr int kPvCols = 4;      // channels per P.V register block
constexpr int kPv8Cols = 2;     // int8 P.V: channels per register block (float sums held too)

// The backend's packed form of a block of n keys: the Q.K^T corrections, and V in key pairs
// (bf16) or quads (int8), zero-padded to whole pairs/quads.
struct PackedKv {
  const int32_t* corr = nullptr;  // n: 128 * sum_d k8[key][d]
  const uint16_t* v2 = nullptr;   // [n/2][D][2]
  const int8_t* v4 = nullptr;     // [n/4][D][4]
};

struct PackedLayoutArena {
  int32_t* corr;
  uint16_t* v2;
  int8_t* v4;
};

PackedLayoutArena packed_layout(tile::Arena& a, const AttnParams& p, int64_t n) {
  PackedLayoutArena l{};
  l.corr = a.take<int32_t>(static_cast<std::size_t>(n));
  if (p.pv == PvPrecision::Bf16) l.v2 = a.take<uint16_t>(static_cast<std::size_t>(round_up(n, 2) * p.d));
  if (p.pv == PvPrecision::Int8) l.v4 = a.take<int8_t>(static_cast<std::size_t>(round_up(n, 4) * p.d));
  return l;
}

PackedKv packed_view(const AttnParams& p, const KvBlock& kv) {
  tile::Arena a(const_cast<std::byte*>(kv.packed));
  const PackedLayoutArena l = packed_layout(a, p, kv.n);
  return {l.corr, l.v2, l.v4};
}

// Per-thread scratch of one attend call (one 64-row block at a time).
struct Work {
  int64_t ldt = 0;           // keys held by t / p2 / p4 (a multiple of 4)
  uint8_t* qp = nullptr;     // [D/4][64][4] Q + 128
  float* t = nullptr;        // [ldt][64] dequantised scores, then fp32 P in place
  uint16_t* p2 = nullptr;    // [ldt/2][64][2] bf16 P
  uint8_t* p4 = nullptr;     // [ldt/4][64][4] u8 P
  int32_t* raw = nullptr;    // [ldt][64] raw int32 scores (qk_scores)
  float* ot = nullptr;       // [D][64] O^T
  float* acc = nullptr;      // [64][D] O row-major, for merging a two_pass/unfused result
  float* a = nullptr;        // [64] q_scale * scale * log2 e (0 on padding rows)
  float* m = nullptr;        // [64] running (or final) maximum
  float* l = nullptr;        // [64]
  float* tmax = nullptr;     // [64] maximum of t in the current tile (or range)
  float* bmax = nullptr;     // [P blocks][64] maximum of t in each P block of it
  float* mt = nullptr;       // [64] tile maximum in base-2 units
  float* alpha = nullptr;    // [64]
  float* beta = nullptr;     // [P blocks][64]: int8, 2^(block max - m) / 255 of each P block
};

Work carve(tile::Arena& a, int d, int64_t ldt) {
  Work w;
  w.ldt = ldt;
  const std::size_t n = static_cast<std::size_t>(ldt) * kBlockRows;
  w.qp = a.take<uint8_t>(static_cast<std::size_t>(d) * kBlockRows);
  w.t = a.take<float>(n);
  w.p2 = a.take<uint16_t>(n);
  w.p4 = a.take<uint8_t>(n);
  w.raw = a.take<int32_t>(n);
  w.ot = a.take<float>(static_cast<std::size_t>(d) * kBlockRows);
  w.acc = a.take<float>(static_cast<std::size_t>(d) * kBlockRows);
  for (float** v : {&w.a, &w.m, &w.l, &w.tmax, &w.mt, &w.alpha}) *v = a.take<float>(kBlockRows);
  w.beta = a.take<float>(static_cast<std::size_t>(tile::max_p_blocks(ldt)) * kBlockRows);
  w.bmax = a.take<float>(static_cast<std::size_t>(tile::max_p_blocks(ldt)) * kBlockRows);
  return w;
}

int64_t work_keys(const AttnParams& p, int64_t n) {
  return round_up(p.variant == Variant::Unfused ? std::max<int64_t>(n, 1) : p.tile.kv, 4);
}


// Q as u8 (q8 + 128 = q8 ^ 0x80) in [D/4][64][4]: 4-byte words transposed; padding rows are
// q8 = 0 (so their scores are 0, finite, and never written out).
void pack_q(const RowBlock& b, int d, const AttnParams& p, const Work& w) {
  const int words = d / 4;
  auto* dst = reinterpret_cast<uint32_t*>(w.qp);
  for (int g = 0; g < words; ++g)
    for (int r = 0; r < kBlockRows; ++r)
      dst[g * kBlockRows + r] =
          r < b.rows ? (load_u32(b.q8 + static_cast<int64_t>(r) * d + 4 * g) ^ 0x80808080u) : 0x80808080u;
  for (int r = 0; r < kBlockRows; ++r) w.a[r] = r < b.rows ? b.q_scale[r] * p.scale_log2 : 0.0f;
}

// Q.K^T for N keys starting at k (row stride d), all lane groups: either the raw int32 scores
// to raw, or t = S * k_scale (masked entries -inf) to t and the running maximum in tmax.
template <int M, int N, bool Raw, bool Masked>
inline void qk_keys(const uint8_t* qp, const int8_t* k, int d, const int32_t* corr,
                    const float* ks, float* t, int32_t* raw, __m512* tmax, int64_t first_lane) {
  __m512i acc[M][N];
#pragma GCC unroll 8
  for (int n = 0; n < N; ++n) {
    const __m512i c = _mm512_set1_epi32(-corr[n]);
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) acc[m][n] = c;
  }
  const int words = d / 4;
  for (int g = 0; g < words; ++g) {
    __m512i qv[M];
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m)
      qv[m] = _mm512_load_si512(qp + (static_cast<std::size_t>(g) * kBlockRows + 16 * m) * 4);
#pragma GCC unroll 8
    for (int n = 0; n < N; ++n) {
      const __m512i kb = _mm512_set1_epi32(static_cast<int>(load_u32(k + static_cast<int64_t>(n) * d + 4 * g)));
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m) acc[m][n] = avx512::dpbusd(acc[m][n], qv[m], kb);
    }
  }
#pragma GCC unroll 8
  for (int n = 0; n < N; ++n) {
    if constexpr (Raw) {
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m) _mm512_store_si512(raw + n * kBlockRows + 16 * m, acc[m][n]);
    } else {
      const __m512 s = _mm512_set1_ps(ks[n]);
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m) {
        __m512 tv = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[m][n]), s);
        if constexpr (Masked)
          tv = _mm512_mask_mov_ps(_mm512_set1_ps(kNegInf), avx512::rows_from(first_lane + n - 16 * m), tv);
        _mm512_store_ps(t + n * kBlockRows + 16 * m, tv);
        tmax[m] = _mm512_max_ps(tmax[m], tv);
      }
    }
  }
}

template <int M, bool Raw, bool Masked>
void qk_tail(int left, const uint8_t* qp, const int8_t* k, int d, const int32_t* corr,
             const float* ks, float* t, int32_t* raw, __m512* tmax, int64_t first_lane) {
  switch (left) {
    case 3: return qk_keys<M, 3, Raw, Masked>(qp, k, d, corr, ks, t, raw, tmax, first_lane);
    case 2: return qk_keys<M, 2, Raw, Masked>(qp, k, d, corr, ks, t, raw, tmax, first_lane);
    case 1: return qk_keys<M, 1, Raw, Masked>(qp, k, d, corr, ks, t, raw, tmax, first_lane);
    default: return;
  }
}

// Scores of keys [j0, j0 + nc) (global indices) of the block into w.t (or w.raw), columns
// from 0; the maximum of t per row over the tile into w.tmax and over each of its P blocks into
// w.bmax (-inf where a row sees none of those keys).
template <int M, bool Raw>
void qk_range(const AttnParams& p, const RowBlock& b, const KvBlock& kv, const PackedKv& pk,
              int64_t j0, int nc, const Work& w) {
  const int d = p.d;
  const int64_t jrel = j0 - kv.key0;
  __m512 tmax[M];
#pragma GCC unroll 4
  for (int m = 0; m < M; ++m) tmax[m] = _mm512_set1_ps(kNegInf);
  // Lane l of group g sees key j iff row0 + 16 g + l >= j - offset.
  const int64_t lane_base = -p.causal_offset() - b.row0;
  const int64_t last_free = p.causal ? b.row0 + p.causal_offset() : std::numeric_limits<int64_t>::max();
  // P blocks start at multiples of 4 keys (j0 is one), so the register blocks never straddle them.
  tile::for_each_p_block(j0, nc, [&](int c0, int c1, int pb) {
    __m512 bmax[M];
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) bmax[m] = _mm512_set1_ps(kNegInf);
    int c = c0;
    for (; c + kQkKeys <= c1; c += kQkKeys) {
      const int64_t j = j0 + c;
      const int8_t* k = kv.k8 + (jrel + c) * d;
      if (j + kQkKeys - 1 <= last_free)
        qk_keys<M, kQkKeys, Raw, false>(w.qp, k, d, pk.corr + jrel + c, kv.k_scale + jrel + c,
                                         w.t + c * kBlockRows, w.raw + c * kBlockRows, bmax, 0);
      else
        qk_keys<M, kQkKeys, Raw, true>(w.qp, k, d, pk.corr + jrel + c, kv.k_scale + jrel + c,
                                        w.t + c * kBlockRows, w.raw + c * kBlockRows, bmax, j + lane_base);
    }
    if (c < c1) {
      const int64_t j = j0 + c;
      const int8_t* k = kv.k8 + (jrel + c) * d;
      qk_tail<M, Raw, true>(c1 - c, w.qp, k, d, pk.corr + jrel + c, kv.k_scale + jrel + c,
                            w.t + c * kBlockRows, w.raw + c * kBlockRows, bmax,
                            p.causal ? j + lane_base : -kBlockRows);
    }
    if constexpr (!Raw) {
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m) {
        _mm512_store_ps(w.bmax + pb * kBlockRows + 16 * m, bmax[m]);
        tmax[m] = _mm512_max_ps(tmax[m], bmax[m]);
      }
    }
  });
  if constexpr (!Raw) {
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) _mm512_store_ps(w.tmax + 16 * m, tmax[m]);
  }
}

// Base-2 tile maximum a * tmax per row (-inf where the row saw no key of the tile).
template <int M>
void tile_max(const Work& w) {
#pragma GCC unroll 4
  for (int m = 0; m < M; ++m) {
    const __m512 tm = _mm512_load_ps(w.tmax + 16 * m);
    const __mmask16 seen = _mm512_cmp_ps_mask(tm, _mm512_set1_ps(kNegInf), _CMP_NEQ_OQ);
    _mm512_store_ps(w.mt + 16 * m,
                    _mm512_mask_mul_ps(_mm512_set1_ps(kNegInf), seen, _mm512_load_ps(w.a + 16 * m), tm));
  }
}

// P of keys [0, nc) of w.t (global keys [j0, j0 + nc)) against the maximum in w.m (fp32, bf16)
// or, for int8, each P block's own maximum m_b with beta_b = 2^(m_b - m) / 255, and l = l *
// alpha + sum(P). Online: first m = max(m, mt), alpha = 2^(m_old - m); with KnownMax m is final
// and alpha = 1. The O^T rescale by alpha is pv_tile's (on its accumulator loads).
// The exponent is x = a * t - m rounded in two steps, not one FMA: m is a * tmax rounded, and
// rounding is monotonic, so x <= 0 everywhere and exactly 0 at the maximum (an FMA against the
// rounded m leaves a residue of up to half an ulp of m either side, which needed a clamp to 0
// per score and, at scores near 2^30, could push the maximum's P under the fixed form's 2^-16).
// Per 16 scores (accurate, the default): the load, vmulps, vsubps, the exp2 (rint, r, five
// FMAs, the floor mask, vscalefps), then fp32: store + add; bf16: half a vcvtne2ps2bf16, vpermw,
// store and vdpbf16ps sum; int8: vcvtps2dq and a quarter of the quad pack, store and vpdpbusd
// sum (docs/PERFORMANCE.md counts them from the disassembly).
template <int M, PvPrecision PV, Exp2Kind E, bool KnownMax>
void softmax_tile(const Work& w, int64_t j0, int nc, const FexpaTable& tab) {
  const int pairs = nc / 2, quads = nc / 4;  // whole ones; a tail follows
  for (int g = 0; g < M; ++g) {
    const __m512 a = _mm512_load_ps(w.a + 16 * g);
    const __m512 mt = _mm512_load_ps(w.mt + 16 * g);
    const __m512 mold = _mm512_load_ps(w.m + 16 * g);
    __m512 mnew = mold, alpha = _mm512_set1_ps(1.0f);
    if constexpr (!KnownMax) {
      mnew = _mm512_max_ps(mold, mt);
      alpha = avx512::exp2_accurate(_mm512_sub_ps(mold, mnew));  // 0 from -inf, and from NaN
      _mm512_store_ps(w.m + 16 * g, mnew);
    }
    _mm512_store_ps(w.alpha + 16 * g, alpha);
    // Local pointers: stores through w's arrays could alias w itself for the compiler.
    const float* t = w.t + 16 * g;
    // The _round forms are builtins the compiler does not contract into an FMA.
    auto x_of = [&](int c, __m512 m) {
      return _mm512_sub_round_ps(_mm512_mul_round_ps(a, _mm512_load_ps(t + c * kBlockRows), _MM_FROUND_CUR_DIRECTION), m,
                                 _MM_FROUND_CUR_DIRECTION);
    };
    __m512 sum;
    if constexpr (PV == PvPrecision::Int8) {
      (void)quads;
      uint8_t* p4 = w.p4 + 16 * g * 4;
      const __m512i ones = _mm512_set1_epi8(1);
      sum = _mm512_setzero_ps();
      // Blocks start at multiples of 4 keys: j0 is (tiles and key blocks are multiples of 4).
      tile::for_each_p_block(j0, nc, [&](int c0, int c1, int b) {
        const __m512 mx = _mm512_load_ps(w.bmax + b * kBlockRows + 16 * g);
        const __mmask16 seen = _mm512_cmp_ps_mask(mx, _mm512_set1_ps(kNegInf), _CMP_NEQ_OQ);
        const __m512 mb = _mm512_mask_mul_ps(_mm512_set1_ps(kNegInf), seen, a, mx);
        auto u8_of = [&](int c) { return avx512::prob_u8<E, true>(x_of(c, mb), tab); };
        __m512i isum = _mm512_setzero_si512();
        auto put = [&](int c4, __m512i word) {
          _mm512_store_si512(p4 + static_cast<std::size_t>(c4) * kBlockRows * 4, word);
          isum = avx512::dpbusd(isum, word, ones);  // the row's four u8 values, summed exactly
        };
        const int q0 = c0 / 4, q1 = c1 / 4;
        for (int c4 = q0; c4 < q1; ++c4) {
          const int c = 4 * c4;
          put(c4, avx512::pack_quad(u8_of(c), u8_of(c + 1), u8_of(c + 2), u8_of(c + 3)));
        }
        if (4 * q1 < c1) {
          __m512i u[4];
          for (int j = 0; j < 4; ++j) u[j] = 4 * q1 + j < c1 ? u8_of(4 * q1 + j) : _mm512_setzero_si512();
          put(q1, avx512::pack_quad(u[0], u[1], u[2], u[3]));
        }
        // 0 where the row sees no key of the block (2^-inf, and the NaN of -inf - -inf).
        const __m512 beta = _mm512_div_ps(avx512::exp2_accurate(_mm512_sub_ps(mb, mnew)), _mm512_set1_ps(255.0f));
        _mm512_store_ps(w.beta + b * kBlockRows + 16 * g, beta);
        sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), beta, sum);
      });
    } else if constexpr (PV == PvPrecision::Bf16) {
      uint16_t* p2 = w.p2 + 16 * g * 2;
      // vcvtne2ps2bf16 puts key c in words 0-15 and key c + 1 in words 16-31; vpermw makes
      // them [row][2] pairs. Their sum as the P.V sees them (the rounded values): one
      // vdpbf16ps against bf16 ones, exact products summed in fp32.
      const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23,
                                           7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
      const __m512bh ones = (__m512bh)_mm512_set1_epi16(0x3F80);
      __m512 sum2 = _mm512_setzero_ps();  // two chains: vdpbf16ps latency
      sum = _mm512_setzero_ps();
      auto put = [&](int cp, __m512 p0, __m512 p1, __m512& s) {
        const __m512i pair = _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(p1, p0));
        _mm512_store_si512(p2 + static_cast<std::size_t>(cp) * kBlockRows * 2, pair);
        s = avx512::dpbf16(s, (__m512bh)pair, ones);
      };
      auto p_of = [&](int c) { return avx512::exp2_of<E, true>(x_of(c, mnew), tab); };
      int cp = 0;
      for (; cp + 2 <= pairs; cp += 2) {
        put(cp, p_of(2 * cp), p_of(2 * cp + 1), sum);
        put(cp + 1, p_of(2 * cp + 2), p_of(2 * cp + 3), sum2);
      }
      if (cp < pairs) put(cp, p_of(2 * cp), p_of(2 * cp + 1), sum);
      if (nc % 2) put(pairs, p_of(nc - 1), _mm512_setzero_ps(), sum2);
      sum = _mm512_add_ps(sum, sum2);
    } else {
      (void)pairs;
      float* tw = w.t + 16 * g;
      __m512 sum2 = _mm512_setzero_ps();
      sum = _mm512_setzero_ps();
      int c = 0;
      for (; c + 2 <= nc; c += 2) {
        const __m512 p0 = avx512::exp2_of<E, true>(x_of(c, mnew), tab);
        const __m512 p1 = avx512::exp2_of<E, true>(x_of(c + 1, mnew), tab);
        _mm512_store_ps(tw + c * kBlockRows, p0);  // P replaces t in place
        _mm512_store_ps(tw + (c + 1) * kBlockRows, p1);
        sum = _mm512_add_ps(sum, p0);
        sum2 = _mm512_add_ps(sum2, p1);
      }
      if (c < nc) {
        const __m512 p0 = avx512::exp2_of<E, true>(x_of(c, mnew), tab);
        _mm512_store_ps(tw + c * kBlockRows, p0);
        sum = _mm512_add_ps(sum, p0);
      }
      sum = _mm512_add_ps(sum, sum2);
    }
    const __m512 l = _mm512_load_ps(w.l + 16 * g);
    _mm512_store_ps(w.l + 16 * g, _mm512_fmadd_ps(l, alpha, sum));
  }
}

// O^T *= alpha is fused into pv_tile's accumulator loads (one pass over O^T less per tile).
template <int M>
void rescale(const Work& w, int d) {
  (void)w;
  (void)d;
}

// Whether some row's alpha is not 1 (O^T needs the rescale this tile).
template <int M>
bool maximum_moved(const Work& w) {
  __mmask16 moved = 0;
#pragma GCC unroll 4
  for (int m = 0; m < M; ++m) moved |= _mm512_cmp_ps_mask(_mm512_load_ps(w.alpha + 16 * m), _mm512_set1_ps(1.0f), _CMP_NEQ_UQ);
  return moved != 0;
}

// O^T values of lane group m times its alpha where the maximum moved. alpha is loaded at each
// use, not held in registers over the P.V (they are all taken by its accumulators).
inline __m512 rescaled(const float* ot, const Work& w, int m, bool moved) {
  const __m512 o = _mm512_load_ps(ot);
  return moved ? _mm512_mul_ps(o, _mm512_load_ps(w.alpha + 16 * m)) : o;
}

// O^T += P . V for keys [jrel, jrel + nc) of the block (P from column 0 of the work buffers).
template <int M, PvPrecision PV>
void pv_tile(const AttnParams& p, const KvBlock& kv, const PackedKv& pk, int64_t jrel, int nc,
             const Work& w) {
  const int d = p.d;
  const bool moved = maximum_moved<M>(w);  // the online rescale O^T *= alpha, fused here
  for (int x0 = 0; x0 < d; x0 += kPvCols) {
    if constexpr (PV == PvPrecision::Int8) {
      // int32 sums of each P block, weighted by that block's beta into float sums held in
      // registers over the tile, then O^T += sums * v_scale once. Two channels a step: 8 int32
      // and 8 float accumulators, 4 P rows and a V broadcast fit the 32 registers.
      for (int x1 = x0; x1 < x0 + kPvCols; x1 += kPv8Cols) {
        __m512 o[M][kPv8Cols];
#pragma GCC unroll 4
        for (int m = 0; m < M; ++m)
#pragma GCC unroll 2
          for (int j = 0; j < kPv8Cols; ++j) o[m][j] = _mm512_setzero_ps();
        const int8_t* v4 = pk.v4 + ((jrel / 4) * d + x1) * 4;
        tile::for_each_p_block(kv.key0 + jrel, nc, [&](int c0, int c1, int b) {
          __m512i acc[M][kPv8Cols];
#pragma GCC unroll 4
          for (int m = 0; m < M; ++m)
#pragma GCC unroll 2
            for (int j = 0; j < kPv8Cols; ++j) acc[m][j] = _mm512_setzero_si512();
          for (int c4 = c0 / 4; c4 < (c1 + 3) / 4; ++c4) {
            __m512i pv[M];
#pragma GCC unroll 4
            for (int m = 0; m < M; ++m) pv[m] = _mm512_load_si512(w.p4 + (static_cast<std::size_t>(c4) * kBlockRows + 16 * m) * 4);
#pragma GCC unroll 2
            for (int j = 0; j < kPv8Cols; ++j) {
              const __m512i vb = _mm512_set1_epi32(static_cast<int>(load_u32(v4 + (static_cast<int64_t>(c4) * d + j) * 4)));
#pragma GCC unroll 4
              for (int m = 0; m < M; ++m) acc[m][j] = avx512::dpbusd(acc[m][j], pv[m], vb);
            }
          }
#pragma GCC unroll 4
          for (int m = 0; m < M; ++m) {
            const __m512 beta = _mm512_load_ps(w.beta + b * kBlockRows + 16 * m);
#pragma GCC unroll 2
            for (int j = 0; j < kPv8Cols; ++j) o[m][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m][j]), beta, o[m][j]);
          }
        });
#pragma GCC unroll 2
        for (int j = 0; j < kPv8Cols; ++j) {
          const __m512 vs = _mm512_set1_ps(kv.v_scale[x1 + j]);
#pragma GCC unroll 4
          for (int m = 0; m < M; ++m) {
            float* ot = w.ot + static_cast<std::size_t>(x1 + j) * kBlockRows + 16 * m;
            _mm512_store_ps(ot, _mm512_fmadd_ps(o[m][j], vs, rescaled(ot, w, m, moved)));
          }
        }
      }
    } else {
      __m512 acc[M][kPvCols];
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m)
#pragma GCC unroll 4
        for (int j = 0; j < kPvCols; ++j) {
          acc[m][j] = rescaled(w.ot + static_cast<std::size_t>(x0 + j) * kBlockRows + 16 * m, w, m, moved);
        }
      if constexpr (PV == PvPrecision::Bf16) {
        const int pairs = (nc + 1) / 2;
        const uint16_t* v2 = pk.v2 + ((jrel / 2) * d + x0) * 2;
        for (int cp = 0; cp < pairs; ++cp) {
          __m512bh pv[M];
#pragma GCC unroll 4
          for (int m = 0; m < M; ++m)
            pv[m] = (__m512bh)_mm512_load_si512(w.p2 + (static_cast<std::size_t>(cp) * kBlockRows + 16 * m) * 2);
#pragma GCC unroll 4
          for (int j = 0; j < kPvCols; ++j) {
            const __m512bh vb = (__m512bh)_mm512_set1_epi32(static_cast<int>(load_u32(v2 + (static_cast<int64_t>(cp) * d + j) * 2)));
#pragma GCC unroll 4
            for (int m = 0; m < M; ++m) acc[m][j] = avx512::dpbf16(acc[m][j], pv[m], vb);
          }
        }
      } else {
        const float* v = kv.v + jrel * d + x0;
        for (int c = 0; c < nc; ++c) {
          __m512 pv[M];
#pragma GCC unroll 4
          for (int m = 0; m < M; ++m) pv[m] = _mm512_load_ps(w.t + c * kBlockRows + 16 * m);
#pragma GCC unroll 4
          for (int j = 0; j < kPvCols; ++j) {
            const __m512 vb = _mm512_set1_ps(v[static_cast<int64_t>(c) * d + j]);
#pragma GCC unroll 4
            for (int m = 0; m < M; ++m) acc[m][j] = _mm512_fmadd_ps(pv[m], vb, acc[m][j]);
          }
        }
      }
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m)
#pragma GCC unroll 4
        for (int j = 0; j < kPvCols; ++j)
          _mm512_store_ps(w.ot + static_cast<std::size_t>(x0 + j) * kBlockRows + 16 * m, acc[m][j]);
    }
  }
}

// In-register transpose of a 16 x 16 int32 block: x[i][j] -> x[j][i] (unpack 32, unpack 64,
// then two rounds of 128-bit lane shuffles: 64 shuffles).
inline void transpose16(__m512i x[16]) {
  __m512i a[16], b[16];
  for (int i = 0; i < 8; ++i) {
    a[2 * i] = _mm512_unpacklo_epi32(x[2 * i], x[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_epi32(x[2 * i], x[2 * i + 1]);
  }
  for (int g = 0; g < 4; ++g) {  // b[4g + k], lane L: column 4L + k of rows 4g..4g+3
    b[4 * g + 0] = _mm512_unpacklo_epi64(a[4 * g], a[4 * g + 2]);
    b[4 * g + 1] = _mm512_unpackhi_epi64(a[4 * g], a[4 * g + 2]);
    b[4 * g + 2] = _mm512_unpacklo_epi64(a[4 * g + 1], a[4 * g + 3]);
    b[4 * g + 3] = _mm512_unpackhi_epi64(a[4 * g + 1], a[4 * g + 3]);
  }
  for (int k = 0; k < 4; ++k) {
    const __m512i e0 = _mm512_shuffle_i32x4(b[k], b[4 + k], 0x88), o0 = _mm512_shuffle_i32x4(b[k], b[4 + k], 0xDD);
    const __m512i e1 = _mm512_shuffle_i32x4(b[8 + k], b[12 + k], 0x88), o1 = _mm512_shuffle_i32x4(b[8 + k], b[12 + k], 0xDD);
    x[k] = _mm512_shuffle_i32x4(e0, e1, 0x88);       // lane 0: column k
    x[8 + k] = _mm512_shuffle_i32x4(e0, e1, 0xDD);   // lane 2: column 8 + k
    x[4 + k] = _mm512_shuffle_i32x4(o0, o1, 0x88);   // lane 1: column 4 + k
    x[12 + k] = _mm512_shuffle_i32x4(o0, o1, 0xDD);  // lane 3: column 12 + k
  }
}

// raw[c * 64 + r] (S^T) -> s[r * lds + c] for rows < rows, keys < nc.
void transpose_out(const int32_t* raw, int rows, int nc, int32_t* s, int64_t lds) {
  int c0 = 0;
  for (; c0 + 16 <= nc; c0 += 16)
    for (int r0 = 0; r0 < rows; r0 += 16) {
      __m512i v[16];
      for (int i = 0; i < 16; ++i) v[i] = _mm512_load_si512(raw + (c0 + i) * kBlockRows + r0);
      transpose16(v);
      for (int r = 0; r < std::min(16, rows - r0); ++r)
        _mm512_storeu_si512(s + static_cast<int64_t>(r0 + r) * lds + c0, v[r]);
    }
  for (int r = 0; r < rows; ++r)
    for (int c = c0; c < nc; ++c) s[static_cast<int64_t>(r) * lds + c] = raw[c * kBlockRows + r];
}

// The microkernel set of the shared schedule (kernels/common/schedule.hpp).
struct Kernels : schedule::TransposedState<Kernels> {
  static constexpr int kBlockRows = miniattn::kBlockRows;
  static constexpr int kLanes = 16;
  static constexpr bool kLaneGroups = true;
  using Work = miniattn::Work;
  using Packed = PackedKv;
  using Consts = FexpaTable;

  static void pack_q(const RowBlock& b, int d, const AttnParams& p, const Work& w) { miniattn::pack_q(b, d, p, w); }
  template <int M, bool Raw>
  static void qk_range(const AttnParams& p, const RowBlock& b, const KvBlock& kv, const PackedKv& pk, int64_t j0,
                       int nc, const Work& w) {
    miniattn::qk_range<M, Raw>(p, b, kv, pk, j0, nc, w);
  }
  template <int M>
  static void tile_max(const Work& w) { miniattn::tile_max<M>(w); }
  template <int M, PvPrecision PV, Exp2Kind E, bool KnownMax>
  static void softmax_tile(const Work& w, int64_t j0, int nc, const FexpaTable& tab) {
    miniattn::softmax_tile<M, PV, E, KnownMax>(w, j0, nc, tab);
  }
  template <int M>
  static void rescale(const Work& w, int d) { miniattn::rescale<M>(w, d); }
  template <int M, PvPrecision PV>
  static void pv_tile(const AttnParams& p, const KvBlock& kv, const PackedKv& pk, int64_t jrel, int nc,
                      const Work& w) {
    miniattn::pv_tile<M, PV>(p, kv, pk, jrel, nc, w);
  }
  // w with its P buffers (and int8 P factors) starting at key key0 + j (j a multiple of 4).
  static Work chunk(const Work& w, int64_t key0, int j) {
    Work c = w;
    c.t = w.t + static_cast<std::size_t>(j) * kBlockRows;
    c.p2 = w.p2 + static_cast<std::size_t>(j) * kBlockRows;
    c.p4 = w.p4 + static_cast<std::size_t>(j) * kBlockRows;
    c.beta = w.beta + ((key0 + j) / kPBlock - key0 / kPBlock) * kBlockRows;
    return c;
  }
  static void transpose_out(const int32_t* raw, int rows, int nc, int32_t* s, int64_t lds) {
    miniattn::transpose_out(raw, rows, nc, s, lds);
  }
};

class Avx512Backend final : public Backend {
 public:
  std::string_view name() const override { return "avx512"; }

  TileShape default_tiles(int d, PvPrecision pv) const override {
    // 64 query rows (4 lane groups) per block. Keys per tile: t/P of 64 x Bc floats (32 KiB at
    // 128) and O^T (D x 64 floats) stay in L1/L2; per tile there is a fixed cost (the running
    // maximum, alpha and the O^T rescale; for int8 also the int32 -> O^T update), which longer
    // tiles amortise: measured best at 128 keys for fp32/bf16 and 256 for int8 (docs/PERFORMANCE.md).
    (void)d;
    return {64, pv == PvPrecision::Int8 ? 256 : 128};
  }

  std::string check(const AttnParams& p) const override {
    if (p.tile.kv % 4 != 0)
      return "tile_kv = " + std::to_string(p.tile.kv) + ": avx512 needs a multiple of 4 (P.V runs on key quads)";
    if (p.pv == PvPrecision::Bf16 && !cpu_features().avx512_bf16)
      return "pv_precision = \"bf16\" needs AVX512-BF16, which this CPU lacks; use fp32 or int8";
    return {};
  }

  std::size_t packed_kv_bytes(const AttnParams& p, int64_t n) const override {
    tile::Arena a(nullptr);
    packed_layout(a, p, n);
    return a.used();
  }

  void pack_kv(const AttnParams& p, const KvBlock& kv, std::byte* dst) const override {
    tile::Arena a(dst);
    const PackedLayoutArena l = packed_layout(a, p, kv.n);
    const int d = p.d;
    for (int64_t c = 0; c < kv.n; ++c) {
      int32_t s = 0;
      for (int x = 0; x < d; ++x) s += kv.k8[c * d + x];
      l.corr[c] = 128 * s;
    }
    if (l.v2) {
      for (int64_t c = 0; c < round_up(kv.n, 2); ++c)
        for (int x = 0; x < d; ++x)
          l.v2[((c / 2) * d + x) * 2 + c % 2] = c < kv.n ? kv.v_bf16[c * d + x] : uint16_t{0};
    }
    if (l.v4) {
      for (int64_t c = 0; c < round_up(kv.n, 4); ++c)
        for (int x = 0; x < d; ++x)
          l.v4[((c / 4) * d + x) * 4 + c % 4] = c < kv.n ? kv.v8[c * d + x] : int8_t{0};
    }
  }

  // Quantisation in one vectorised pass per tensor (avx512_quantize.hpp), K and V written
  // straight into the packed layout: the corrections from the int8 rows' sums, V as key pairs or
  // quads. Bitwise what the scalar quantisation and pack_kv give.
  void kv_stats(const AttnParams& p, const float* k, const float* v, int64_t n, double* k_sum,
                float* v_absmax) const override {
    avx512::Quant::kv_stats(k, v, n, p.d, k_sum, v_absmax);
  }

  bool quantize_writes_packed() const override { return true; }

  void quantize_kv(const AttnParams& p, const KvSource& src, int64_t j0, int64_t n, const KvTarget& dst) const override {
    tile::Arena a(dst.packed);
    const PackedLayoutArena l = packed_layout(a, p, src.n);
    const int d = p.d;
    const std::size_t off = static_cast<std::size_t>(j0) * d;
    avx512::Quant::quantize_k(quant::qk_quant(p), src.k + off, n, d, src.k_mean, dst.k8 + off, dst.k_scale + j0, l.corr + j0);
    for (int64_t j = j0; j < j0 + n; ++j) l.corr[j] *= 128;
    if (l.v2) avx512::v_bf16_pairs(src.v, j0, n, src.n, d, l.v2);
    if (l.v4) avx512::v_s8_quads(src.v, j0, n, src.n, d, src.v_absmax, l.v4);
    quant::v_unpacked(p, src.v + off, n, src.v_absmax, dst.v_bf16 ? dst.v_bf16 + off : nullptr,
                      dst.v8 ? dst.v8 + off : nullptr);
  }

  void quantize_q(const AttnParams& p, const float* q, int rows, const float* k_mean, int8_t* q8, float* q_scale,
                  float* lse_shift) const override {
    avx512::Quant::quantize_q(quant::qk_quant(p), q, rows, p.d, k_mean, p.scale, q8, q_scale, lse_shift);
  }

  std::size_t scratch_bytes(const AttnParams& p, int64_t n) const override {
    tile::Arena a(nullptr);
    carve(a, p.d, work_keys(p, n));
    return a.used();
  }

  bool qk_scores(const AttnParams& p, const QTile& q, const KvBlock& kv, int64_t j_first,
                 int64_t n, int32_t* s, int64_t lds, std::byte* scratch) const override {
    tile::Arena a(scratch);
    schedule::scores_tile<Kernels>(p, q, kv, packed_view(p, kv), j_first, n, s, lds,
                                   carve(a, p.d, work_keys(p, kv.n)));
    return true;
  }

  void attend(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st,
              std::byte* scratch, TileCycles& cyc) const override {
    static const FexpaTable tab;
    tile::Arena a(scratch);
    schedule::attend_tile<Kernels>(p, q, kv, packed_view(p, kv), st, carve(a, p.d, work_keys(p, kv.n)), tab, cyc);
  }

};

}  // namespace

std::unique_ptr<Backend> make_avx512_backend() { return std::make_unique<Avx512Backend>(); }

}  // namespace miniattn
