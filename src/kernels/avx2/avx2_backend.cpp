// avx2: INT8 attention on AVX2 + FMA, for x86-64 CPUs without AVX-512 (AVX-VNNI where present).
//
// The avx512 backend's design at 8 lanes: query rows in the lanes of a ymm register, blocks of
// 32 rows = 4 lane groups, S^T and O^T tiles, no horizontal reductions; the schedules (fused,
// two_pass, unfused) are the shared schedule of kernels/common/schedule.hpp.
//  * Q.K^T, exact int32 without VNNI: int8 Q and K sign-extended to int16 (Q per block as
//    [D/2][32 rows][2], K once per K/V block as [key][D]), two channels of one key broadcast,
//    vpmaddwd + vpaddd (why not vpmaddubsw: avx2_simd.hpp). With AVX-VNNI: avx512's scheme,
//    Q + 128 as u8 [D/4][32][4], K in its natural s8 layout, vpdpbusd from -128 * sum_d k.
//    Either way the scores equal the portable backend's bit for bit. Register block: 4 lane
//    groups x 2 keys = 8 accumulators, 4 Q registers, 1 broadcast, 1 product (14 of 16 ymm);
//    per 2 (VNNI: 4) channels 4 Q loads and 2 broadcasts feed 8 multiply-adds.
//  * Softmax: row maximum by vmaxps across keys, exp2 on 8 rows of one key at a time
//    (avx2_simd.hpp: the three forms without vscalefps or masks).
//  * P.V into O^T [D][32]: fp32 vfmadd231ps with V[key][d] broadcast; bf16 emulated (AVX2 has no
//    bf16 arithmetic): P rounded to bf16 in the softmax, V's bf16 values widened to floats once
//    per K/V block, then the fp32 loop: the portable backend's bf16 numerics. int8: u8 P in
//    int16 key pairs [key/2][32][2] and V as int16 pairs [key/2][D][2], vpmaddwd + vpaddd
//    (vpdpwssd with AVX-VNNI): vpmaddubsw would saturate (2 x 255 x 127 > 32767) and the sign
//    trick needs |operand| <= 127, which u8 P is not. Cost per 2 keys x 8 rows x 1 channel:
//    one multiply port op + one add, i.e. the same multiply-port rate as Q.K^T, twice fp32's.
//    Register block: 4 lane groups x 2 channels.
//  * Tiles: 32-row blocks (4 lane groups, the register block) in work items of 64 rows. The
//    K/V tile keeps the block's P (re-read D/2 times by P.V) in a 32 KiB L1 next to the
//    streamed V lines: 128 keys x 32 rows x 4 B = 16 KiB for fp32/bf16; int8's int16 P is
//    half that, so 256 keys (8 KiB more per tile amortises the per-tile int32 -> O^T update).
//    Q (64 D bytes) is re-read per key pair. Measured: docs in avx2_studies / the report.
#include "kernels/avx2/avx2_backend.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/avx2/avx2_quantize.hpp"
#include "kernels/avx2/avx2_simd.hpp"
#include "kernels/common/schedule.hpp"
#include "kernels/common/quantize.hpp"
#include "kernels/common/tile_math.hpp"

namespace miniattn {
namespace {

using avx2::FexpaTables;
using schedule::kNegInf;
using schedule::load_u32;
using schedule::round_up;
using schedule::RowBlock;

constexpr int kLanes = 8;
constexpr int kBlockRows = 4 * kLanes;
constexpr int kQkKeys = 2;  // keys per Q.K^T register block
constexpr int kPvCols = 2;  // channels per P.V register block

struct DotOps;

// The backend's packed form of a block of n keys. Which parts exist depends on the dot product
// (k16 or corr) and the P.V precision (vf or v16).
struct PackedKv {
  const int16_t* k16 = nullptr;   // Madd16: [n][D] K sign-extended
  const int32_t* corr = nullptr;  // VNNI: n: 128 * sum_d k8[key][d]
  const float* vf = nullptr;      // bf16: [n][D] V's bf16 values as floats
  const int16_t* v16 = nullptr;   // int8: [n/2][D][2] V in key pairs, zero-padded
};

struct PackedLayout {
  int16_t* k16 = nullptr;
  int32_t* corr = nullptr;
  float* vf = nullptr;
  int16_t* v16 = nullptr;
};

PackedLayout packed_layout(tile::Arena& a, const AttnParams& p, Avx2Dot dot, int64_t n) {
  PackedLayout l;
  const auto nd = static_cast<std::size_t>(n * p.d);
  if (dot == Avx2Dot::Madd16) l.k16 = a.take<int16_t>(nd);
  else l.corr = a.take<int32_t>(static_cast<std::size_t>(n));
  if (p.pv == PvPrecision::Bf16) l.vf = a.take<float>(nd);
  if (p.pv == PvPrecision::Int8) l.v16 = a.take<int16_t>(static_cast<std::size_t>(round_up(n, 2) * p.d));
  return l;
}

// Per-thread scratch of one attend call (one 32-row block at a time).
struct Work {
  int64_t ldt = 0;             // keys held by t / p16 / raw (a multiple of 4)
  const DotOps* ops = nullptr;  // the dot product's kernels
  uint32_t* qp = nullptr;      // [words][32]: Q in the dot product's layout (words = D/2 or D/4)
  float* t = nullptr;          // [ldt][32] dequantised scores, then fp32/bf16 P in place
  uint32_t* p16 = nullptr;     // [ldt/2][32] u8 P of key pairs as int16 pairs
  int32_t* raw = nullptr;      // [ldt][32] raw int32 scores (qk_scores)
  float* ot = nullptr;         // [D][32] O^T
  float* acc = nullptr;        // [32][D] O row-major, for merging a two_pass/unfused result
  float* a = nullptr;          // [32] q_scale * scale * log2 e (0 on padding rows)
  float* m = nullptr;          // [32] running (or final) maximum
  float* l = nullptr;          // [32]
  float* tmax = nullptr;       // [32] maximum of t in the current tile (or range)
  float* bmax = nullptr;       // [P blocks][32] maximum of t in each P block of it
  float* mt = nullptr;         // [32] tile maximum in base-2 units
  float* alpha = nullptr;      // [32]
  float* beta = nullptr;       // [P blocks][32]: int8, 2^(block max - m) / 255 of each P block
};

Work carve(tile::Arena& a, int d, int64_t ldt, const DotOps* ops) {
  Work w;
  w.ldt = ldt;
  w.ops = ops;
  const std::size_t n = static_cast<std::size_t>(ldt) * kBlockRows;
  w.qp = a.take<uint32_t>(static_cast<std::size_t>(d / 2) * kBlockRows);
  w.t = a.take<float>(n);
  w.p16 = a.take<uint32_t>(n / 2);
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

// ---------------------------------------------------------------------------------------------
// The dot products. A Q word is the 32 bits one lane holds per step: 2 int16 channels or 4 u8.
// ---------------------------------------------------------------------------------------------
struct Madd16Dot {
  static constexpr int kChannels = 2;  // per word
  static constexpr bool kCorrected = false;
  static constexpr uint32_t kPadWord = 0;  // q8 = 0 on padding rows: finite scores, never written out
  static uint32_t q_word(const int8_t* q, int g) {
    return static_cast<uint16_t>(static_cast<int16_t>(q[2 * g])) |
           (static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(q[2 * g + 1]))) << 16);
  }
  static const std::byte* k_rows(const KvBlock&, const PackedKv& pk) { return reinterpret_cast<const std::byte*>(pk.k16); }
  static __m256i qk(__m256i acc, __m256i q, __m256i k) { return avx2::madd16(acc, q, k); }
  static __m256i pv(__m256i acc, __m256i p, __m256i v) { return avx2::madd16(acc, p, v); }
};

template <bool Evex>
struct VnniDot {
  static constexpr int kChannels = 4;
  static constexpr bool kCorrected = true;  // accumulators start at -128 * sum_d k8
  static constexpr uint32_t kPadWord = 0x80808080u;  // q8 = 0 on padding rows
  static uint32_t q_word(const int8_t* q, int g) { return load_u32(q + 4 * g) ^ 0x80808080u; }
  static const std::byte* k_rows(const KvBlock& kv, const PackedKv&) { return reinterpret_cast<const std::byte*>(kv.k8); }
  static __m256i qk(__m256i acc, __m256i q, __m256i k) { return avx2::dpbusd<Evex>(acc, q, k); }
  static __m256i pv(__m256i acc, __m256i p, __m256i v) { return avx2::dpwssd<Evex>(acc, p, v); }
};

using QkFn = void (*)(const AttnParams&, const RowBlock&, const KvBlock&, const PackedKv&, int64_t, int, const Work&);
using PvFn = void (*)(const KvBlock&, const PackedKv&, int64_t, int, int, const Work&);
using PackQFn = void (*)(const RowBlock&, int, const AttnParams&, const Work&);

// The kernels a dot product changes, chosen once per backend (one indirect call per tile).
struct DotOps {
  PackQFn pack_q;
  QkFn qk[4];   // qk_range<M, false>, M = 1..4
  QkFn qk_raw;  // qk_range<4, true>
  PvFn pv8[4];  // int8 P.V, M = 1..4
};

// Q of the block in the dot product's layout, [words][32] 32-bit words (4-byte rows of each lane
// group are one load), and the row multipliers a.
template <class Dot>
void pack_q(const RowBlock& b, int d, const AttnParams& p, const Work& w) {
  const int words = d / Dot::kChannels;
  for (int g = 0; g < words; ++g)
    for (int r = 0; r < kBlockRows; ++r)
      w.qp[g * kBlockRows + r] = r < b.rows ? Dot::q_word(b.q8 + static_cast<int64_t>(r) * d, g) : Dot::kPadWord;
  for (int r = 0; r < kBlockRows; ++r) w.a[r] = r < b.rows ? b.q_scale[r] * p.scale_log2 : 0.0f;
}

// Q.K^T for N keys (rows of row_bytes bytes from k), all lane groups: either the raw int32 scores
// to raw, or t = S * k_scale (masked entries -inf) to t and the running maximum in tmax.
template <class Dot, int M, int N, bool Raw, bool Masked>
inline void qk_keys(const uint32_t* qp, const std::byte* k, int64_t row_bytes, int words, const int32_t* corr,
                    const float* ks, float* t, int32_t* raw, __m256* tmax, int64_t first_lane) {
  __m256i acc[M][N];
#pragma GCC unroll 4
  for (int n = 0; n < N; ++n) {
    const __m256i c = Dot::kCorrected ? _mm256_set1_epi32(-corr[n]) : _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) acc[m][n] = c;
  }
#pragma GCC unroll 2
  for (int g = 0; g < words; ++g) {
    __m256i qv[M];
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) {
      qv[m] = _mm256_load_si256(reinterpret_cast<const __m256i*>(qp + static_cast<std::size_t>(g) * kBlockRows + kLanes * m));
      // Held in a register for all N keys: GCC would otherwise reload it for each key, and two
      // 256-bit loads per cycle would bound the loop (10 loads per 8 multiply-adds).
      __asm__("" : "+x"(qv[m]));
    }
#pragma GCC unroll 4
    for (int n = 0; n < N; ++n) {
      const __m256i kb = _mm256_set1_epi32(static_cast<int>(load_u32(k + n * row_bytes + 4 * g)));
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m) acc[m][n] = Dot::qk(acc[m][n], qv[m], kb);
    }
  }
#pragma GCC unroll 4
  for (int n = 0; n < N; ++n) {
    if constexpr (Raw) {
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m)
        _mm256_store_si256(reinterpret_cast<__m256i*>(raw + n * kBlockRows + kLanes * m), acc[m][n]);
    } else {
      const __m256 s = _mm256_set1_ps(ks[n]);
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m) {
        __m256 tv = _mm256_mul_ps(_mm256_cvtepi32_ps(acc[m][n]), s);
        if constexpr (Masked)
          tv = _mm256_blendv_ps(_mm256_set1_ps(kNegInf), tv,
                                _mm256_castsi256_ps(avx2::lanes_from(first_lane + n - kLanes * m)));
        _mm256_store_ps(t + n * kBlockRows + kLanes * m, tv);
        tmax[m] = _mm256_max_ps(tmax[m], tv);
      }
    }
  }
}

// Scores of keys [j0, j0 + nc) (global indices) of the block into w.t (or w.raw), columns
// from 0; the maximum of t per row over the tile into w.tmax and over each of its P blocks into
// w.bmax (-inf where a row sees none of those keys).
template <class Dot, int M, bool Raw>
void qk_range(const AttnParams& p, const RowBlock& b, const KvBlock& kv, const PackedKv& pk, int64_t j0,
              int nc, const Work& w) {
  const int words = p.d / Dot::kChannels;
  const int64_t row_bytes = static_cast<int64_t>(words) * 4;
  const int64_t jrel = j0 - kv.key0;
  const std::byte* k0 = Dot::k_rows(kv, pk) + jrel * row_bytes;
  const int32_t* corr = Dot::kCorrected ? pk.corr + jrel : nullptr;
  const float* ks = kv.k_scale + jrel;
  __m256 tmax[M];
#pragma GCC unroll 4
  for (int m = 0; m < M; ++m) tmax[m] = _mm256_set1_ps(kNegInf);
  // Lane l of group g sees key j iff row0 + 8 g + l >= j - offset.
  const int64_t lane_base = -p.causal_offset() - b.row0;
  const int64_t last_free = p.causal ? b.row0 + p.causal_offset() : std::numeric_limits<int64_t>::max();
  static_assert(kQkKeys == 2, "one tail key at most");
  // P blocks start at even keys (j0 is even), so the register blocks never straddle them.
  tile::for_each_p_block(j0, nc, [&](int c0, int c1, int pb) {
    __m256 bmax[M];
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) bmax[m] = _mm256_set1_ps(kNegInf);
    int c = c0;
    for (; c + kQkKeys <= c1; c += kQkKeys) {
      const int64_t j = j0 + c;
      const std::byte* k = k0 + c * row_bytes;
      const int32_t* cr = Dot::kCorrected ? corr + c : nullptr;
      if (j + kQkKeys - 1 <= last_free)
        qk_keys<Dot, M, kQkKeys, Raw, false>(w.qp, k, row_bytes, words, cr, ks + c, w.t + c * kBlockRows,
                                             w.raw + c * kBlockRows, bmax, 0);
      else
        qk_keys<Dot, M, kQkKeys, Raw, true>(w.qp, k, row_bytes, words, cr, ks + c, w.t + c * kBlockRows,
                                            w.raw + c * kBlockRows, bmax, j + lane_base);
    }
    if (c < c1)
      qk_keys<Dot, M, 1, Raw, true>(w.qp, k0 + c * row_bytes, row_bytes, words, Dot::kCorrected ? corr + c : nullptr,
                                    ks + c, w.t + c * kBlockRows, w.raw + c * kBlockRows, bmax,
                                    p.causal ? j0 + c + lane_base : -kBlockRows);
    if constexpr (!Raw) {
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m) {
        _mm256_store_ps(w.bmax + pb * kBlockRows + kLanes * m, bmax[m]);
        tmax[m] = _mm256_max_ps(tmax[m], bmax[m]);
      }
    }
  });
  if constexpr (!Raw) {
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) _mm256_store_ps(w.tmax + kLanes * m, tmax[m]);
  }
}

// O^T[x0, x0 + kPvCols) += the int8 P.V of key pairs [cp0, cp1): u8 P as int16 pairs times V's
// int16 pairs, int32 sums, times beta[row] * v_scale[channel]. Not inlined: inlined into the
// block loop, GCC 12 keeps the O^T sums of all blocks in (spilled) registers, and the 8 int32
// accumulators with them.
template <class Dot, int M>
__attribute__((noinline)) void pv_int8_pairs(const uint32_t* p16, const int16_t* v16, int d, int cp0, int cp1,
                          const float* beta, const float* v_scale, float* ot) {
  __m256i acc[M][kPvCols];
#pragma GCC unroll 4
  for (int m = 0; m < M; ++m)
#pragma GCC unroll 4
    for (int j = 0; j < kPvCols; ++j) acc[m][j] = _mm256_setzero_si256();
  for (int cp = cp0; cp < cp1; ++cp) {
    __m256i pv[M];
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) {
      pv[m] = _mm256_load_si256(reinterpret_cast<const __m256i*>(p16 + static_cast<std::size_t>(cp) * kBlockRows + kLanes * m));
      __asm__("" : "+x"(pv[m]));  // one load for kPvCols steps (see qk_keys)
    }
#pragma GCC unroll 4
    for (int j = 0; j < kPvCols; ++j) {
      const __m256i vb = _mm256_set1_epi32(static_cast<int>(load_u32(v16 + (static_cast<int64_t>(cp) * d + j) * 2)));
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m) acc[m][j] = Dot::pv(acc[m][j], pv[m], vb);
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < kPvCols; ++j) {
    const __m256 vs = _mm256_set1_ps(v_scale[j]);
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) {
      float* o = ot + static_cast<std::size_t>(j) * kBlockRows + kLanes * m;
      const __m256 f = _mm256_mul_ps(_mm256_load_ps(beta + kLanes * m), vs);
      _mm256_store_ps(o, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[m][j]), f, _mm256_load_ps(o)));
    }
  }
}

// O^T += P . V for the int8 path, P block by P block (each with its beta).
template <class Dot, int M>
void pv_int8(const KvBlock& kv, const PackedKv& pk, int64_t jrel, int nc, int d, const Work& w) {
  for (int x0 = 0; x0 < d; x0 += kPvCols) {
    const int16_t* v16 = pk.v16 + ((jrel / 2) * d + x0) * 2;
    float* ot = w.ot + static_cast<std::size_t>(x0) * kBlockRows;
    // Blocks start at even keys: j0 is even (tiles and key blocks are).
    tile::for_each_p_block(kv.key0 + jrel, nc, [&](int c0, int c1, int b) {
      pv_int8_pairs<Dot, M>(w.p16, v16, d, c0 / 2, (c1 + 1) / 2, w.beta + b * kBlockRows,
                            kv.v_scale + x0, ot);
    });
  }
}

// O^T += P . V in fp32 (also the emulated bf16: P and V hold bf16 values), V[key][d] rows from
// v, P^T from w.t. Not inlined: one call per tile, and its loop stays readable in a disassembly.
template <int M>
__attribute__((noinline)) void pv_float(const float* v, int nc, int d, const Work& w) {
  const float* pt = w.t;
  float* ot = w.ot;  // locals: the stores to O^T would otherwise reload w's pointers
  for (int x0 = 0; x0 < d; x0 += kPvCols) {
    __m256 acc[M][kPvCols];
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m)
#pragma GCC unroll 4
      for (int j = 0; j < kPvCols; ++j)
        acc[m][j] = _mm256_load_ps(ot + static_cast<std::size_t>(x0 + j) * kBlockRows + kLanes * m);
    for (int c = 0; c < nc; ++c) {
      __m256 pv[M];
#pragma GCC unroll 4
      for (int m = 0; m < M; ++m) {
        pv[m] = _mm256_load_ps(pt + c * kBlockRows + kLanes * m);
        __asm__("" : "+x"(pv[m]));  // one load for kPvCols FMAs (see qk_keys)
      }
#pragma GCC unroll 4
      for (int j = 0; j < kPvCols; ++j) {
        const __m256 vb = _mm256_broadcast_ss(v + static_cast<int64_t>(c) * d + x0 + j);
#pragma GCC unroll 4
        for (int m = 0; m < M; ++m) acc[m][j] = _mm256_fmadd_ps(pv[m], vb, acc[m][j]);
      }
    }
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m)
#pragma GCC unroll 4
      for (int j = 0; j < kPvCols; ++j)
        _mm256_store_ps(ot + static_cast<std::size_t>(x0 + j) * kBlockRows + kLanes * m, acc[m][j]);
  }
}

template <class Dot>
constexpr DotOps make_ops() {
  return {pack_q<Dot>,
          {qk_range<Dot, 1, false>, qk_range<Dot, 2, false>, qk_range<Dot, 3, false>, qk_range<Dot, 4, false>},
          qk_range<Dot, 4, true>,
          {pv_int8<Dot, 1>, pv_int8<Dot, 2>, pv_int8<Dot, 3>, pv_int8<Dot, 4>}};
}

const DotOps kMadd16Ops = make_ops<Madd16Dot>();
const DotOps kVnniOps = make_ops<VnniDot<false>>();
const DotOps kEvexVnniOps = make_ops<VnniDot<true>>();

const DotOps* ops_of(Avx2Dot dot) {
  switch (dot) {
    case Avx2Dot::AvxVnni: return &kVnniOps;
    case Avx2Dot::Avx512Vnni: return &kEvexVnniOps;
    case Avx2Dot::Madd16: break;
  }
  return &kMadd16Ops;
}

// ---------------------------------------------------------------------------------------------
// The microkernel set of the shared schedule (kernels/common/schedule.hpp).
// ---------------------------------------------------------------------------------------------
struct Kernels : schedule::TransposedState<Kernels> {
  static constexpr int kBlockRows = miniattn::kBlockRows;
  static constexpr int kLanes = miniattn::kLanes;
  static constexpr bool kLaneGroups = true;
  using Work = miniattn::Work;
  using Packed = PackedKv;
  using Consts = FexpaTables;

  static void pack_q(const RowBlock& b, int d, const AttnParams& p, const Work& w) { w.ops->pack_q(b, d, p, w); }

  template <int M, bool Raw>
  static void qk_range(const AttnParams& p, const RowBlock& b, const KvBlock& kv, const PackedKv& pk, int64_t j0,
                       int nc, const Work& w) {
    (Raw ? w.ops->qk_raw : w.ops->qk[M - 1])(p, b, kv, pk, j0, nc, w);
  }

  // Base-2 tile maximum a * tmax per row (-inf where the row saw no key of the tile).
  template <int M>
  static void tile_max(const Work& w) {
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) {
      const __m256 tm = _mm256_load_ps(w.tmax + kLanes * m);
      const __m256 seen = _mm256_cmp_ps(tm, _mm256_set1_ps(kNegInf), _CMP_NEQ_OQ);
      _mm256_store_ps(w.mt + kLanes * m, _mm256_blendv_ps(_mm256_set1_ps(kNegInf),
                                                          _mm256_mul_ps(_mm256_load_ps(w.a + kLanes * m), tm), seen));
    }
  }

  // P of keys [0, nc) of w.t (global keys [j0, j0 + nc)) against the maximum in w.m (fp32,
  // bf16) or, for int8, each P block's own maximum m_b with beta_b = 2^(m_b - m) / 255, and
  // l = l * alpha + sum(P). Online: first m = max(m, mt), alpha = 2^(m_old - m); with KnownMax
  // m is final and alpha = 1.
  template <int M, PvPrecision PV, Exp2Kind E, bool KnownMax>
  static void softmax_tile(const Work& w, int64_t j0, int nc, const FexpaTables& tab) {
    for (int g = 0; g < M; ++g) {
      const __m256 a = _mm256_load_ps(w.a + kLanes * g);
      const __m256 mt = _mm256_load_ps(w.mt + kLanes * g);
      const __m256 mold = _mm256_load_ps(w.m + kLanes * g);
      __m256 mnew = mold, alpha = _mm256_set1_ps(1.0f);
      if constexpr (!KnownMax) {
        mnew = _mm256_max_ps(mold, mt);
        alpha = avx2::exp2_accurate(_mm256_sub_ps(mold, mnew));  // 0 from -inf, and from NaN
        _mm256_store_ps(w.m + kLanes * g, mnew);
      }
      _mm256_store_ps(w.alpha + kLanes * g, alpha);
      // x = a * t - m rounded in two steps (the product kept apart from the subtraction, not
      // contracted into an FMA): m is the largest rounded product, so x <= 0 everywhere and
      // exactly 0 at the maximum, and the exp2 forms need no clamp to 0 (avx512 does the same).
      const float* t = w.t + kLanes * g;
      auto x_of = [&](int c, __m256 m) {
        __m256 s = _mm256_mul_ps(a, _mm256_load_ps(t + c * kBlockRows));
        __asm__("" : "+x"(s));
        return _mm256_sub_ps(s, m);
      };
      __m256 sum = _mm256_setzero_ps();
      if constexpr (PV == PvPrecision::Int8) {
        (void)mt;
        tile::for_each_p_block(j0, nc, [&](int c0, int c1, int b) {
          const __m256 mx = _mm256_load_ps(w.bmax + b * kBlockRows + kLanes * g);
          const __m256 seen = _mm256_cmp_ps(mx, _mm256_set1_ps(kNegInf), _CMP_NEQ_OQ);
          const __m256 mb = _mm256_blendv_ps(_mm256_set1_ps(kNegInf), _mm256_mul_ps(a, mx), seen);
          __m256i isum = _mm256_setzero_si256();
          for (int c = c0; c < c1; c += 2) {
            const __m256i u0 = avx2::prob_u8<E, true>(x_of(c, mb), tab);
            const __m256i u1 = c + 1 < c1 ? avx2::prob_u8<E, true>(x_of(c + 1, mb), tab) : _mm256_setzero_si256();
            // Values 0..255: the pair is u0 | u1 << 16, and the row sums stay exact in int32.
            _mm256_store_si256(reinterpret_cast<__m256i*>(w.p16 + static_cast<std::size_t>(c / 2) * kBlockRows + kLanes * g),
                               _mm256_or_si256(u0, _mm256_slli_epi32(u1, 16)));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(u0, u1));
          }
          // 0 where the row sees no key of the block (2^-inf, and the NaN of -inf - -inf).
          const __m256 beta = _mm256_div_ps(avx2::exp2_accurate(_mm256_sub_ps(mb, mnew)), _mm256_set1_ps(255.0f));
          _mm256_store_ps(w.beta + b * kBlockRows + kLanes * g, beta);
          sum = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), beta, sum);
        });
      } else {
        for (int c = 0; c < nc; ++c) {
          float* tc = w.t + c * kBlockRows + kLanes * g;
          __m256 pv = avx2::exp2_of<E, true>(x_of(c, mnew), tab);
          if constexpr (PV == PvPrecision::Bf16) pv = avx2::round_bf16(pv);  // as the P.V sees it
          _mm256_store_ps(tc, pv);  // P replaces t in place
          sum = _mm256_add_ps(sum, pv);
        }
      }
      const __m256 l = _mm256_load_ps(w.l + kLanes * g);
      _mm256_store_ps(w.l + kLanes * g, _mm256_fmadd_ps(l, alpha, sum));
    }
  }

  // O^T *= alpha in the lane groups where some row's maximum moved.
  template <int M>
  static void rescale(const Work& w, int d) {
#pragma GCC unroll 4
    for (int m = 0; m < M; ++m) {
      const __m256 alpha = _mm256_load_ps(w.alpha + kLanes * m);
      if (!_mm256_movemask_ps(_mm256_cmp_ps(alpha, _mm256_set1_ps(1.0f), _CMP_NEQ_UQ))) continue;
      float* o = w.ot + kLanes * m;
      for (int x = 0; x < d; ++x, o += kBlockRows) _mm256_store_ps(o, _mm256_mul_ps(_mm256_load_ps(o), alpha));
    }
  }

  // O^T += P . V for keys [jrel, jrel + nc) of the block (P from column 0 of the work buffers).
  template <int M, PvPrecision PV>
  static void pv_tile(const AttnParams& p, const KvBlock& kv, const PackedKv& pk, int64_t jrel, int nc,
                      const Work& w) {
    const int d = p.d;
    if constexpr (PV == PvPrecision::Int8) w.ops->pv8[M - 1](kv, pk, jrel, nc, d, w);
    else pv_float<M>((PV == PvPrecision::Bf16 ? pk.vf : kv.v) + jrel * d, nc, d, w);
  }


  // w with its P buffers starting at key key0 + j (j a multiple of the even K/V tile).
  static Work chunk(const Work& w, int64_t key0, int j) {
    Work c = w;
    c.t = w.t + static_cast<std::size_t>(j) * kBlockRows;
    c.p16 = w.p16 + static_cast<std::size_t>(j / 2) * kBlockRows;
    c.beta = w.beta + ((key0 + j) / kPBlock - key0 / kPBlock) * kBlockRows;
    return c;
  }

  // raw[c * 32 + r] (S^T) -> s[r * lds + c] for rows < rows, keys < nc: 8 x 8 int32 blocks
  // transposed in registers (unpack 32, unpack 64, 128-bit lane swap: 24 shuffles).
  static void transpose_out(const int32_t* raw, int rows, int nc, int32_t* s, int64_t lds) {
    int c0 = 0;
    for (; c0 + 8 <= nc; c0 += 8)
      for (int r0 = 0; r0 < rows; r0 += 8) {
        __m256i x[8], a[8], b[8];
        for (int i = 0; i < 8; ++i) x[i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(raw + (c0 + i) * kBlockRows + r0));
        for (int i = 0; i < 4; ++i) {
          a[2 * i] = _mm256_unpacklo_epi32(x[2 * i], x[2 * i + 1]);
          a[2 * i + 1] = _mm256_unpackhi_epi32(x[2 * i], x[2 * i + 1]);
        }
        for (int g = 0; g < 2; ++g) {  // b[4g + k], 128-bit lane L: row 4L + k of keys 4g..4g+3
          b[4 * g + 0] = _mm256_unpacklo_epi64(a[4 * g], a[4 * g + 2]);
          b[4 * g + 1] = _mm256_unpackhi_epi64(a[4 * g], a[4 * g + 2]);
          b[4 * g + 2] = _mm256_unpacklo_epi64(a[4 * g + 1], a[4 * g + 3]);
          b[4 * g + 3] = _mm256_unpackhi_epi64(a[4 * g + 1], a[4 * g + 3]);
        }
        for (int k = 0; k < 4; ++k) {
          x[k] = _mm256_permute2x128_si256(b[k], b[4 + k], 0x20);
          x[4 + k] = _mm256_permute2x128_si256(b[k], b[4 + k], 0x31);
        }
        for (int r = 0; r < std::min(8, rows - r0); ++r)
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(s + static_cast<int64_t>(r0 + r) * lds + c0), x[r]);
      }
    for (int r = 0; r < rows; ++r)
      for (int c = c0; c < nc; ++c) s[static_cast<int64_t>(r) * lds + c] = raw[c * kBlockRows + r];
  }
};

class Avx2Backend final : public Backend {
 public:
  explicit Avx2Backend(Avx2Dot dot) : dot_(dot), ops_(ops_of(dot)) {}

  std::string_view name() const override { return "avx2"; }

  TileShape default_tiles(int d, PvPrecision pv) const override {
    (void)d;
    return {64, pv == PvPrecision::Int8 ? 256 : 128};
  }

  std::string check(const AttnParams& p) const override {
    if (p.tile.kv % 2 != 0)
      return "tile_kv = " + std::to_string(p.tile.kv) + ": avx2 needs an even number (int8 P.V runs on key pairs)";
    return {};
  }

  std::size_t packed_kv_bytes(const AttnParams& p, int64_t n) const override {
    tile::Arena a(nullptr);
    packed_layout(a, p, dot_, n);
    return a.used();
  }

  void pack_kv(const AttnParams& p, const KvBlock& kv, std::byte* dst) const override {
    tile::Arena a(dst);
    const PackedLayout l = packed_layout(a, p, dot_, kv.n);
    const int d = p.d;
    const int64_t nd = kv.n * d;
    if (l.k16) std::copy(kv.k8, kv.k8 + nd, l.k16);
    if (l.corr)
      for (int64_t c = 0; c < kv.n; ++c) {
        int32_t s = 0;
        for (int x = 0; x < d; ++x) s += kv.k8[c * d + x];
        l.corr[c] = 128 * s;
      }
    if (l.vf)
      for (int64_t i = 0; i < nd; ++i) l.vf[i] = quant::bf16_to_float(kv.v_bf16[i]);
    if (l.v16)
      for (int64_t c = 0; c < round_up(kv.n, 2); ++c)
        for (int x = 0; x < d; ++x)
          l.v16[((c / 2) * d + x) * 2 + c % 2] = c < kv.n ? kv.v8[c * d + x] : int8_t{0};
  }

  // Quantisation in one vectorised pass per tensor (avx2_quantize.hpp), K and V written straight
  // into the packed forms. Bitwise what the scalar quantisation and pack_kv give.
  void kv_stats(const AttnParams& p, const float* k, const float* v, int64_t n, double* k_sum,
                float* v_absmax) const override {
    avx2::Quant::kv_stats(k, v, n, p.d, k_sum, v_absmax);
  }

  bool quantize_writes_packed() const override { return true; }

  void quantize_kv(const AttnParams& p, const KvSource& src, int64_t j0, int64_t n, const KvTarget& dst) const override {
    tile::Arena a(dst.packed);
    const PackedLayout l = packed_layout(a, p, dot_, src.n);
    const int d = p.d;
    const std::size_t off = static_cast<std::size_t>(j0) * d;
    avx2::Quant::quantize_k(quant::qk_quant(p), src.k + off, n, d, src.k_mean, dst.k8 + off, dst.k_scale + j0,
                     l.corr ? l.corr + j0 : nullptr);
    if (l.corr)
      for (int64_t j = j0; j < j0 + n; ++j) l.corr[j] *= 128;
    if (l.k16) avx2::widen_s8(dst.k8 + off, n * d, l.k16 + off);
    if (l.vf) avx2::v_bf16_floats(src.v + off, n * d, l.vf + off);
    if (l.v16) avx2::v_s16_pairs(src.v, j0, n, src.n, d, src.v_absmax, l.v16);
    quant::v_unpacked(p, src.v + off, n, src.v_absmax, dst.v_bf16 ? dst.v_bf16 + off : nullptr,
                      dst.v8 ? dst.v8 + off : nullptr);
  }

  void quantize_q(const AttnParams& p, const float* q, int rows, const float* k_mean, int8_t* q8, float* q_scale,
                  float* lse_shift) const override {
    avx2::Quant::quantize_q(quant::qk_quant(p), q, rows, p.d, k_mean, p.scale, q8, q_scale, lse_shift);
  }

  std::size_t scratch_bytes(const AttnParams& p, int64_t n) const override {
    tile::Arena a(nullptr);
    carve(a, p.d, work_keys(p, n), ops_);
    return a.used();
  }

  bool qk_scores(const AttnParams& p, const QTile& q, const KvBlock& kv, int64_t j_first, int64_t n, int32_t* s,
                 int64_t lds, std::byte* scratch) const override {
    tile::Arena a(scratch);
    schedule::scores_tile<Kernels>(p, q, kv, view(p, kv), j_first, n, s, lds, carve(a, p.d, work_keys(p, kv.n), ops_));
    return true;
  }

  void attend(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st, std::byte* scratch,
              TileCycles& cyc) const override {
    static const FexpaTables tab;
    tile::Arena a(scratch);
    schedule::attend_tile<Kernels>(p, q, kv, view(p, kv), st, carve(a, p.d, work_keys(p, kv.n), ops_), tab, cyc);
  }


 private:
  PackedKv view(const AttnParams& p, const KvBlock& kv) const {
    tile::Arena a(const_cast<std::byte*>(kv.packed));
    const PackedLayout l = packed_layout(a, p, dot_, kv.n);
    return {l.k16, l.corr, l.vf, l.v16};
  }

  Avx2Dot dot_;
  const DotOps* ops_;
};

}  // namespace

std::unique_ptr<Backend> make_avx2_backend(Avx2Dot dot) { return std::make_unique<Avx2Backend>(dot); }

}  // namespace miniattn
