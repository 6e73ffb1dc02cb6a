// portable: the INT8 pipeline in plain C++ (no intrinsics, no ISA flags). It defines the
// numerics the fast backends reproduce:
//   S   = q8 . k8 (int32, exact)
//   t   = float(S) * k_scale[key]                    per-key dequantisation
//   s2  = a_r * t,  a_r = q_scale[row] * scale * log2(e)  (one multiplier per row: base-2 score)
//   P   = exp2(s2 - m) with the selected exp2 form, m the running (fused) or final (two_pass,
//         unfused) row maximum; P.V in fp32, bf16 (P and V rounded to bf16, fp32 sums) or int8
//         (P as u8 = rint(255 * 2^(s2 - m_b)) against the row's maximum m_b over each block of
//         kPBlock keys aligned to key 0, V as s8 per channel, int32 sums per block, then one
//         float multiply-add per element by 2^(m_b - m) / 255 * v_scale[channel]).
// The variants are the shared schedule's (kernels/common/schedule.hpp); this file is its
// microkernel set in plain C++, row-major: S, t and P as [row][key], O as [row][D].
#include "kernels/portable/portable_backend.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/common/exp2.hpp"
#include "kernels/common/quantize.hpp"
#include "kernels/common/schedule.hpp"
#include "kernels/common/tile_math.hpp"
#include "miniattn/clock.hpp"

namespace miniattn {
namespace {

using schedule::kNegInf;
using schedule::RowBlock;

constexpr int kBlockRows = 64;  // rows per block of the schedule

// Per-thread scratch of one attend call: one block of up to 64 rows.
struct Work {
  int64_t lds = 0;           // row stride of s, t, p, p8 (keys)
  int64_t ldt = 0;           // keys a pass holds (= lds)
  int32_t* s = nullptr;      // rows x lds
  float* t = nullptr;        // rows x lds: dequantised scores
  float* p = nullptr;        // rows x lds: probabilities (fp32, bf16 paths)
  uint8_t* p8 = nullptr;     // rows x lds: probabilities (int8 path)
  int32_t* acc_i = nullptr;  // rows x d: int32 P.V of one P block
  int* vis = nullptr;        // rows: visible keys in the current tile or range
  float* tmax = nullptr;     // rows: max of t over visible keys
  float* a = nullptr;        // rows: q_scale * scale * log2 e
  int nb = 0;                // row stride of beta: P blocks a run of lds keys can touch
  float* beta = nullptr;     // rows x nb: int8 path, 2^(block max - m) / 255 per P block
  int64_t* block = nullptr;  // [2]: the block's first row (within the head) and row count
  // The block's online-softmax state (the schedule's Work members).
  float* m = nullptr;        // rows
  float* l = nullptr;        // rows
  float* mt = nullptr;       // rows: tile maximum, base 2
  float* alpha = nullptr;    // rows
  float* o = nullptr;        // rows x d: O (acc, unnormalised)
  float* acc = nullptr;      // rows x d: a partial result's O, for the merge
  int32_t* raw = nullptr;    // unused (qk_scores writes S directly)
};

Work carve(tile::Arena& arena, int64_t lds, int d) {
  constexpr std::size_t rows = kBlockRows;
  Work w;
  w.lds = w.ldt = lds;
  w.nb = tile::max_p_blocks(lds);
  const std::size_t n = rows * static_cast<std::size_t>(lds);
  w.s = arena.take<int32_t>(n);
  w.t = arena.take<float>(n);
  w.p = arena.take<float>(n);
  w.p8 = arena.take<uint8_t>(n);
  w.acc_i = arena.take<int32_t>(rows * d);
  w.vis = arena.take<int>(rows);
  w.tmax = arena.take<float>(rows);
  w.a = arena.take<float>(rows);
  w.beta = arena.take<float>(rows * w.nb);
  w.block = arena.take<int64_t>(2);
  for (float** v : {&w.m, &w.l, &w.mt, &w.alpha}) *v = arena.take<float>(rows);
  w.o = arena.take<float>(rows * d);
  w.acc = arena.take<float>(rows * d);
  return w;
}

int64_t scratch_stride(const AttnParams& p, int64_t n) {
  return p.variant == Variant::Unfused ? std::max<int64_t>(n, 1) : p.tile.kv;
}

int32_t dot_i8(const int8_t* a, const int8_t* b, int d) {
  int32_t s = 0;
  for (int i = 0; i < d; ++i) s += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
  return s;
}

// S[r][c] = q8[r] . k8[c], r < rows, c < nc.
void qk_rows(const int8_t* q8, int rows, const int8_t* k8, int nc, int d, int32_t* s, int64_t lds) {
  for (int r = 0; r < rows; ++r) {
    const int8_t* qr = q8 + static_cast<int64_t>(r) * d;
    int32_t* sr = s + r * lds;
    for (int c = 0; c < nc; ++c) sr[c] = dot_i8(qr, k8 + static_cast<int64_t>(c) * d, d);
  }
}

template <Exp2Kind E>
inline uint8_t prob_u8(float x) {
  if constexpr (E == Exp2Kind::Fixed) {
    return static_cast<uint8_t>((exp2::exp2_fixed_q16(x) * 255 + 32768) >> 16);
  } else {
    return static_cast<uint8_t>(exp2::round_nearest(255.0f * exp2::exp2_of<E>(x)));
  }
}

// Probabilities of row r against maximum m, over its visible keys; returns their sum as the
// P.V will see them (bf16-rounded for bf16).
template <PvPrecision PV, Exp2Kind E>
float row_probs(const Work& w, int r, int nc, float m) {
  const float* tr = w.t + r * w.lds;
  const float a = w.a[r];
  const int vis = w.vis[r];
  float sum = 0.0f;
  float* pr = w.p + r * w.lds;
  for (int c = 0; c < vis; ++c) {
    float v = exp2::exp2_of<E>(exp2::madd(a, tr[c], -m));
    if constexpr (PV == PvPrecision::Bf16) v = quant::bf16_to_float(quant::float_to_bf16(v));
    pr[c] = v;
    sum += v;
  }
  for (int c = vis; c < nc; ++c) pr[c] = 0.0f;
  return sum;
}

// int8: u8 P of row r over its visible keys of [j0, j0 + nc), each P block against its own
// maximum m_b; beta[b] = 2^(m_b - m) / 255 (0 for a block the row does not see). Returns the
// row's P sum as the P.V weighs it, sum_b beta_b * (sum of the block's u8).
template <Exp2Kind E>
float row_probs_int8(const Work& w, int r, int64_t j0, int nc, float m) {
  const float* tr = w.t + r * w.lds;
  const float a = w.a[r];
  const int vis = w.vis[r];
  uint8_t* pr = w.p8 + r * w.lds;
  float* beta = w.beta + static_cast<int64_t>(r) * w.nb;
  float sum = 0.0f;
  tile::for_each_p_block(j0, nc, [&](int c0, int c1, int b) {
    const int e = std::min(c1, vis);
    float mx = kNegInf;
    for (int c = c0; c < e; ++c) mx = std::max(mx, tr[c]);
    beta[b] = 0.0f;
    int32_t isum = 0;
    if (mx != kNegInf) {
      const float mb = a * mx;
      for (int c = c0; c < e; ++c) {
        pr[c] = prob_u8<E>(exp2::madd(a, tr[c], -mb));
        isum += pr[c];
      }
      beta[b] = exp2::exp2_accurate(mb - m) / 255.0f;
    }
    for (int c = std::max(c0, e); c < c1; ++c) pr[c] = 0;
    sum += beta[b] * static_cast<float>(isum);
  });
  return sum;
}

// out[x] += sum over c in [c0, c1) of term(c, x), x < d, each x summed in c order. Blocks of
// kChunk channels stay in registers over the keys: one load and store of out per block, not per
// key (a loop over x inside the key loop reloads and stores the row for every key, and is bound
// by that store traffic).
template <class T, class Term>
inline void accumulate_keys(T* out, int d, int c0, int c1, const Term& term) {
  constexpr int kChunk = 32;
  int x0 = 0;
  for (; x0 + kChunk <= d; x0 += kChunk) {
    T acc[kChunk];
    for (int x = 0; x < kChunk; ++x) acc[x] = out[x0 + x];
    for (int c = c0; c < c1; ++c)
      for (int x = 0; x < kChunk; ++x) acc[x] += term(c, x0 + x);
    for (int x = 0; x < kChunk; ++x) out[x0 + x] = acc[x];
  }
  for (int c = c0; c < c1; ++c)
    for (int x = x0; x < d; ++x) out[x] += term(c, x);
}

// The microkernel set of the shared schedule (kernels/common/schedule.hpp).
struct Kernels : schedule::RowMajorKernels<Work, kBlockRows> {
  // S of keys [j0, j0 + nc), then each row's visible keys, t = float(S) * k_scale over them and
  // its maximum.
  template <int M, bool Raw>
  static void qk_range(const AttnParams& p, const RowBlock& b, const KvBlock& kv, const Packed&, int64_t j0,
                       int nc, const Work& w) {
    static_assert(!Raw, "portable qk_scores writes S directly");
    const int64_t jrel = j0 - kv.key0;
    qk_rows(b.q8, b.rows, kv.k8 + jrel * p.d, nc, p.d, w.s, w.lds);
    const float* ks = kv.k_scale + jrel;
    for (int r = 0; r < b.rows; ++r) {
      const int vis = tile::visible_in_tile(p, b.row0 + r, j0, nc);
      w.vis[r] = vis;
      const int32_t* sr = w.s + r * w.lds;
      float* tr = w.t + r * w.lds;
      float mx = kNegInf;
      for (int c = 0; c < vis; ++c) {
        tr[c] = static_cast<float>(sr[c]) * ks[c];
        mx = std::max(mx, tr[c]);
      }
      w.tmax[r] = mx;
    }
  }

  // P of the tile (int8: each P block against its own maximum), l, alpha: softmax_row.
  template <int M, PvPrecision PV, Exp2Kind E, bool KnownMax>
  static void softmax_tile(const Work& w, int64_t j0, int nc, const Consts&) {
    for (int r = 0; r < rows(w); ++r)
      softmax_row<PV, KnownMax>(
          w, r,
          [&](float m) {
            if constexpr (PV == PvPrecision::Int8) return row_probs_int8<E>(w, r, j0, nc, m);
            else return row_probs<PV, E>(w, r, nc, m);
          },
          [] {});
  }

  // O[r] += P[r] . V over keys [jrel, jrel + nc) of kv (P from column 0 of w). int8: int32 sums
  // per P block, each times its beta (w's betas start at the block of key kv.key0 + jrel).
  template <int M, PvPrecision PV>
  static void pv_tile(const AttnParams& p, const KvBlock& kv, const Packed&, int64_t jrel, int nc,
                      const Work& w) {
    const int d = p.d;
    const int64_t j0 = kv.key0 + jrel;
    for (int r = 0; r < rows(w); ++r) {
      const int vis = tile::visible_in_tile(p, w.block[0] + r, j0, nc);
      if (vis == 0) continue;
      float* ar = w.o + static_cast<int64_t>(r) * d;
      if constexpr (PV == PvPrecision::Fp32) {
        const float* pr = w.p + r * w.lds;
        const float* v = kv.v + jrel * d;
        accumulate_keys(ar, d, 0, vis, [&](int c, int x) { return pr[c] * v[c * d + x]; });
      } else if constexpr (PV == PvPrecision::Bf16) {
        const float* pr = w.p + r * w.lds;
        const uint16_t* v = kv.v_bf16 + jrel * d;
        accumulate_keys(ar, d, 0, vis,
                        [&](int c, int x) { return pr[c] * quant::bf16_to_float(v[c * d + x]); });
      } else {
        const uint8_t* pr = w.p8 + r * w.lds;
        int32_t* ai = w.acc_i + static_cast<int64_t>(r) * d;
        const int8_t* v = kv.v8 + jrel * d;
        tile::for_each_p_block(j0, vis, [&](int c0, int c1, int b) {
          std::fill(ai, ai + d, 0);
          accumulate_keys(ai, d, c0, c1, [&](int c, int x) {
            return static_cast<int32_t>(pr[c]) * static_cast<int32_t>(v[c * d + x]);
          });
          const float beta = w.beta[static_cast<int64_t>(r) * w.nb + b];
          for (int x = 0; x < d; ++x) ar[x] += static_cast<float>(ai[x]) * (beta * kv.v_scale[x]);
        });
      }
    }
  }

  static int unfused_chunk(const AttnParams& p) { return p.tile.kv; }

  // w with its P buffers (and int8 P factors) starting at key key0 + j of a P run from key0.
  static Work chunk(const Work& w, int64_t key0, int j) {
    Work c = w;
    c.p = w.p + j;
    c.p8 = w.p8 + j;
    c.beta = w.beta + ((key0 + j) / kPBlock - key0 / kPBlock);
    return c;
  }
};

class PortableBackend final : public Backend {
 public:
  std::string_view name() const override { return "portable"; }

  TileShape default_tiles(int d, PvPrecision) const override {
    // Q tile of 64 rows; K/V tile sized so S, t and P of the tile stay in L1 next to the
    // K tile: 64 x 64 x 12 B = 48 KiB at most.
    return {64, d > 128 ? 32 : 64};
  }

  std::size_t scratch_bytes(const AttnParams& p, int64_t n) const override {
    tile::Arena arena(nullptr);
    carve(arena, scratch_stride(p, n), p.d);
    return arena.used();
  }

  bool qk_scores(const AttnParams& p, const QTile& q, const KvBlock& kv, int64_t j0, int64_t n,
                 int32_t* s, int64_t lds, std::byte*) const override {
    qk_rows(q.q8, q.rows, kv.k8 + j0 * p.d, static_cast<int>(n), p.d, s, lds);
    return true;
  }

  void attend(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st,
              std::byte* scratch, TileCycles& cyc) const override {
    tile::Arena arena(scratch);
    schedule::attend_tile<Kernels>(p, q, kv, Kernels::Packed{}, st, carve(arena, scratch_stride(p, kv.n), p.d),
                                   Kernels::Consts{}, cyc);
  }
};

}  // namespace

std::unique_ptr<Backend> make_portable_backend() { return std::make_unique<PortableBackend>(); }

}  // namespace miniattn
