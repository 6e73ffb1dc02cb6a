// The FlashAttention schedule of every CPU backend, written once: a query tile is cut into blocks
// of K::kBlockRows rows; each block runs the fused, two_pass or unfused variant over the keys of
// one K/V block (K/V tile loop, online-softmax state and rescaling, causal tile skipping through
// the keys a block's last row sees, ragged tails) with the backend's microkernels, and hands its
// state back to the caller's RowState, or merges its partial result into it (two_pass, unfused;
// the block merge ring mode also uses). GQA reuse is the executor's: one packed K/V block serves
// every query head of its group.
//
// K is the backend's microkernel set, a struct with
//   kBlockRows, kLanes         rows per block, and per lane group (vector of rows); blocks of
//                              four lane groups dispatch M = 1..4 at compile time when
//                              kLaneGroups, else M = 1 (row-major kernels read b.rows)
//   Work, Packed, Consts       per-thread scratch view, packed K/V view, constants (exp2 tables)
//   pack_q(RowBlock, d, p, Work)                 Q of the block in the kernels' layout, w.a
//   qk_range<M, Raw>(p, b, kv, pk, j0, nc, w)    Q.K^T of keys [j0, j0 + nc): t (dequantised
//                                                scores, -inf where masked) and its maxima over
//                                                the tile (tmax) and P blocks (or raw int32)
//   tile_max<M>(w)                               mt = a * tmax (-inf where no key was seen)
//   softmax_tile<M, PV, E, KnownMax>(w, j0, nc, consts)  P of keys [j0, j0 + nc), l, alpha
//                                                (and the int8 P blocks' beta); online unless
//                                                KnownMax (m final, alpha = 1)
//   rescale<M>(w, d)                             O *= alpha where a row's maximum moved (or
//                                                nothing, where pv_tile applies w.alpha: avx512)
//   pv_tile<M, PV>(p, kv, pk, jrel, nc, w)       O += P . V for keys [jrel, jrel + nc) of kv
//   chunk(w, key0, j) -> Work                    w with its P buffers (and int8 P factors)
//                                                starting at key key0 + j of a P run from key0
//   unfused_chunk(p) -> int                      keys per P.V chunk of the unfused variant
//   load_state(b, d, st, from_st, w)             the block's m, l, O: zero, or st's (fused in
//                                                ring mode: a state carried between K/V blocks)
//   store_state(b, d, w, st)                     m, l (unless st holds w's arrays) and O to st
//   transpose_out(raw, rows, nc, s, lds)         raw scores in the kernels' layout -> S
// and Work with the per-row members m, l, mt (kBlockRows each), acc (kBlockRows x D, a partial
// result's O row-major) and ldt (keys its score buffers hold). M is the number of lane groups
// in use.
//
// Everything here sits in an unnamed namespace: the backends compile it with their own ISA
// flags, and no out-of-line copy may be shared between them (or with the portable code).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/common/exp2.hpp"
#include "kernels/common/tile_math.hpp"
#include "miniattn/clock.hpp"
#include "miniattn/kernel.hpp"

namespace miniattn::schedule {
namespace {

inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Adds the time since *t to a phase counter and restarts the clock.
inline void lap(uint64_t& counter, uint64_t& t) {
  const uint64_t now = cycle_now();
  counter += now - t;
  t = now;
}

// One block of up to kBlockRows rows of a query tile.
struct RowBlock {
  int64_t row0 = 0;  // first row (within the head)
  int rows = 0;
  int groups = 0;    // lane groups in use: ceil(rows / kLanes)
  const int8_t* q8 = nullptr;
  const float* q_scale = nullptr;
};

// Blocks of up to kBlockRows rows of a query tile; f(block, first row within the tile).
template <class K, class F>
void for_each_block(const QTile& q, int d, F&& f) {
  for (int r0 = 0; r0 < q.rows; r0 += K::kBlockRows) {
    RowBlock b;
    b.row0 = q.row0 + r0;
    b.rows = std::min(K::kBlockRows, q.rows - r0);
    b.groups = (b.rows + K::kLanes - 1) / K::kLanes;
    b.q8 = q.q8 + static_cast<int64_t>(r0) * d;
    b.q_scale = q.q_scale + r0;
    f(b, r0);
  }
}

// The block's state in the transposed layout of the rows-in-lanes kernels (O^T as [D][R] floats,
// w.ot): zero (m = -inf), or what st holds. K sets of that layout use these two.
template <class K>
void load_state_transposed(const RowBlock& b, int d, const RowState& st, bool from_st, const typename K::Work& w) {
  constexpr int R = K::kBlockRows;
  std::fill(w.ot, w.ot + static_cast<std::size_t>(d) * R, 0.0f);
  for (int r = 0; r < R; ++r) {
    w.m[r] = kNegInf;
    w.l[r] = 0.0f;
  }
  if (!from_st) return;
  for (int r = 0; r < b.rows; ++r) {
    w.m[r] = st.m[r];
    w.l[r] = st.l[r];
    for (int x = 0; x < d; ++x) w.ot[static_cast<std::size_t>(x) * R + r] = st.acc[static_cast<int64_t>(r) * d + x];
  }
}

template <class K>
void store_state_transposed(const RowBlock& b, int d, const typename K::Work& w, const RowState& st) {
  constexpr int R = K::kBlockRows;
  for (int r = 0; r < b.rows; ++r) {
    if (st.m != w.m) {
      st.m[r] = w.m[r];
      st.l[r] = w.l[r];
    }
    for (int x = 0; x < d; ++x) st.acc[static_cast<int64_t>(r) * d + x] = w.ot[static_cast<std::size_t>(x) * R + r];
  }
}

// The state functions of K sets in the transposed layout (avx512, avx2): derive from this.
template <class K>
struct TransposedState {
  template <class W>
  static void load_state(const RowBlock& b, int d, const RowState& st, bool from_st, const W& w) {
    load_state_transposed<K>(b, d, st, from_st, w);
  }
  template <class W>
  static void store_state(const RowBlock& b, int d, const W& w, const RowState& st) {
    store_state_transposed<K>(b, d, w, st);
  }
  static int unfused_chunk(const AttnParams& p) { return p.tile.kv; }
};

// What the row-major K sets (portable, sve) share: S, t, P as [row][key], O as [row][D], per-row
// arrays a, vis, tmax, mt, m, l, alpha, and w.block = {first row, rows} of the current block.
// A K set derives from this with its Work and adds qk_range, softmax_tile (with softmax_row
// below), pv_tile, chunk and unfused_chunk; rescale is O *= alpha unless the K set fuses it
// into its P.V.
template <class W, int BlockRows>
struct RowMajorKernels {
  static constexpr int kBlockRows = BlockRows;
  static constexpr int kLanes = BlockRows;
  static constexpr bool kLaneGroups = false;  // the kernels loop over the block's rows
  using Work = W;
  struct Packed {};
  struct Consts {};

  static int rows(const W& w) { return static_cast<int>(w.block[1]); }

  static void pack_q(const RowBlock& b, int d, const AttnParams& p, const W& w) {
    (void)d;
    w.block[0] = b.row0;
    w.block[1] = b.rows;
    for (int r = 0; r < b.rows; ++r) w.a[r] = b.q_scale[r] * p.scale_log2;
  }

  template <int M>
  static void tile_max(const W& w) {
    for (int r = 0; r < rows(w); ++r) w.mt[r] = w.vis[r] > 0 ? w.a[r] * w.tmax[r] : kNegInf;
    for (int r = rows(w); r < kBlockRows; ++r) w.mt[r] = kNegInf;
  }

  template <int M>
  static void rescale(const W& w, int d) {
    for (int r = 0; r < rows(w); ++r) {
      const float alpha = w.alpha[r];
      if (alpha == 1.0f) continue;
      float* orow = w.o + static_cast<int64_t>(r) * d;
      for (int x = 0; x < d; ++x) orow[x] *= alpha;
    }
  }

  static void load_state(const RowBlock& b, int d, const RowState& st, bool from_st, const W& w) {
    std::fill(w.o, w.o + static_cast<std::size_t>(kBlockRows) * d, 0.0f);
    for (int r = 0; r < kBlockRows; ++r) {
      w.m[r] = kNegInf;
      w.l[r] = 0.0f;
    }
    if (!from_st) return;
    std::copy(st.m, st.m + b.rows, w.m);
    std::copy(st.l, st.l + b.rows, w.l);
    std::copy(st.acc, st.acc + static_cast<std::size_t>(b.rows) * d, w.o);
  }

  static void store_state(const RowBlock& b, int d, const W& w, const RowState& st) {
    if (st.m != w.m) {
      std::copy(w.m, w.m + b.rows, st.m);
      std::copy(w.l, w.l + b.rows, st.l);
    }
    std::copy(w.o, w.o + static_cast<std::size_t>(b.rows) * d, st.acc);
  }

  // The online-softmax step of row r (the portable backend's definition): probs(m) writes the
  // row's P against maximum m (int8: each P block against its own, weighed by its beta) and
  // returns their sum as the P.V sees it; skip() runs for a row whose P this tile is all zero
  // without being computed. Online: m = max(m, mt), alpha = 2^(m_old - m) (0 from -inf),
  // l = l * alpha + sum. KnownMax: m final, rows that see no key of the tile skipped, l += sum.
  template <PvPrecision PV, bool KnownMax, class Probs, class Skip>
  static void softmax_row(const W& w, int r, Probs&& probs, Skip&& skip) {
    w.alpha[r] = 1.0f;
    if constexpr (KnownMax) {
      if (w.vis[r] == 0) return skip();
      w.l[r] += probs(w.m[r]);
    } else {
      const float m_old = w.m[r];
      const float m_tile = w.mt[r];
      const float m_new = std::max(m_old, m_tile);
      if (m_new == kNegInf) return skip();  // nothing seen yet; vis == 0 keeps it out of P.V
      const float alpha = m_old == kNegInf ? 0.0f : exp2::exp2_accurate(m_old - m_new);
      float sum = 0.0f;
      if (PV == PvPrecision::Int8 && m_tile == kNegInf) skip();
      else sum = probs(m_new);
      w.l[r] = w.l[r] * alpha + sum;
      w.m[r] = m_new;
      w.alpha[r] = alpha;
    }
  }
};

template <class K, int M, PvPrecision PV, Exp2Kind E>
void block_fused(const AttnParams& p, const KvBlock& kv, const typename K::Packed& pk, const RowBlock& b,
                 int64_t end, const typename K::Work& w, const typename K::Consts& c, TileCycles& cyc) {
  for (int64_t j0 = kv.key0; j0 < end; j0 += p.tile.kv) {
    const int nc = static_cast<int>(std::min<int64_t>(p.tile.kv, end - j0));
    uint64_t t = cycle_now();
    K::template qk_range<M, false>(p, b, kv, pk, j0, nc, w);
    lap(cyc.qk, t);
    K::template tile_max<M>(w);
    K::template softmax_tile<M, PV, E, false>(w, j0, nc, c);
    K::template rescale<M>(w, p.d);
    lap(cyc.softmax, t);
    K::template pv_tile<M, PV>(p, kv, pk, j0 - kv.key0, nc, w);
    lap(cyc.pv, t);
  }
}

template <class K, int M, PvPrecision PV, Exp2Kind E>
void block_two_pass(const AttnParams& p, const KvBlock& kv, const typename K::Packed& pk, const RowBlock& b,
                    int64_t end, const typename K::Work& w, const typename K::Consts& c, TileCycles& cyc) {
  // Pass 1: the exact row maximum.
  for (int64_t j0 = kv.key0; j0 < end; j0 += p.tile.kv) {
    const int nc = static_cast<int>(std::min<int64_t>(p.tile.kv, end - j0));
    uint64_t t = cycle_now();
    K::template qk_range<M, false>(p, b, kv, pk, j0, nc, w);
    lap(cyc.qk, t);
    K::template tile_max<M>(w);
    for (int r = 0; r < K::kBlockRows; ++r) w.m[r] = std::max(w.m[r], w.mt[r]);
    lap(cyc.softmax, t);
  }
  // Pass 2: recompute S, P against the final maximum, no rescaling.
  for (int64_t j0 = kv.key0; j0 < end; j0 += p.tile.kv) {
    const int nc = static_cast<int>(std::min<int64_t>(p.tile.kv, end - j0));
    uint64_t t = cycle_now();
    K::template qk_range<M, false>(p, b, kv, pk, j0, nc, w);
    lap(cyc.qk, t);
    K::template tile_max<M>(w);
    K::template softmax_tile<M, PV, E, true>(w, j0, nc, c);
    lap(cyc.softmax, t);
    K::template pv_tile<M, PV>(p, kv, pk, j0 - kv.key0, nc, w);
    lap(cyc.pv, t);
  }
}

template <class K, int M, PvPrecision PV, Exp2Kind E>
void block_unfused(const AttnParams& p, const KvBlock& kv, const typename K::Packed& pk, const RowBlock& b,
                   int64_t end, const typename K::Work& w, const typename K::Consts& c, TileCycles& cyc) {
  const int n = static_cast<int>(std::max<int64_t>(end - kv.key0, 0));
  if (n == 0) return;
  // 1. S (and t) of every visible key, materialised.
  uint64_t t = cycle_now();
  K::template qk_range<M, false>(p, b, kv, pk, kv.key0, n, w);
  lap(cyc.qk, t);
  // 2. Softmax over whole rows.
  K::template tile_max<M>(w);
  std::copy(w.mt, w.mt + K::kBlockRows, w.m);
  K::template softmax_tile<M, PV, E, true>(w, kv.key0, n, c);
  lap(cyc.softmax, t);
  // 3. P.V in chunks of about the K/V tile (bounds the P.V's working set).
  const int step = K::unfused_chunk(p);
  for (int j = 0; j < n; j += step)
    K::template pv_tile<M, PV>(p, kv, pk, j, std::min(step, n - j), K::chunk(w, kv.key0, j));
  lap(cyc.pv, t);
}

template <class K, int M, PvPrecision PV, Exp2Kind E>
void attend_block(const AttnParams& p, const KvBlock& kv, const typename K::Packed& pk, const RowBlock& b,
                  const RowState& st, const typename K::Work& w, const typename K::Consts& c, TileCycles& cyc) {
  // Keys any row of the block sees (causal: the last row sees the most).
  const int64_t end = std::min(kv.key0 + kv.n, p.visible_keys(b.row0 + b.rows - 1));
  const bool fused = p.variant == Variant::Fused;
  bool carried = false;
  if (fused)
    for (int r = 0; r < b.rows && !carried; ++r) carried = st.m[r] != kNegInf;
  K::load_state(b, p.d, st, carried, w);
  switch (p.variant) {
    case Variant::Fused: block_fused<K, M, PV, E>(p, kv, pk, b, end, w, c, cyc); break;
    case Variant::TwoPass: block_two_pass<K, M, PV, E>(p, kv, pk, b, end, w, c, cyc); break;
    case Variant::Unfused: block_unfused<K, M, PV, E>(p, kv, pk, b, end, w, c, cyc); break;
  }
  if (fused) {
    K::store_state(b, p.d, w, st);
  } else {
    // A complete partial result over this block of keys: merge it into st.
    const RowState part{w.m, w.l, w.acc};
    K::store_state(b, p.d, w, part);
    merge_row_state(st, part, b.rows, p.d);
  }
}

// Runtime (lane groups, exp2 form) -> template parameters, at one switch.
template <class K, PvPrecision PV, Exp2Kind E>
void attend_groups(const AttnParams& p, const KvBlock& kv, const typename K::Packed& pk, const RowBlock& b,
                   const RowState& st, const typename K::Work& w, const typename K::Consts& c, TileCycles& cyc) {
  if constexpr (!K::kLaneGroups) {
    return attend_block<K, 1, PV, E>(p, kv, pk, b, st, w, c, cyc);
  } else {
    static_assert(K::kBlockRows == 4 * K::kLanes, "blocks of four lane groups");
    switch (b.groups) {
      case 1: return attend_block<K, 1, PV, E>(p, kv, pk, b, st, w, c, cyc);
      case 2: return attend_block<K, 2, PV, E>(p, kv, pk, b, st, w, c, cyc);
      case 3: return attend_block<K, 3, PV, E>(p, kv, pk, b, st, w, c, cyc);
      default: return attend_block<K, 4, PV, E>(p, kv, pk, b, st, w, c, cyc);
    }
  }
}

template <class K, PvPrecision PV>
void attend_exp2(const AttnParams& p, const KvBlock& kv, const typename K::Packed& pk, const RowBlock& b,
                 const RowState& st, const typename K::Work& w, const typename K::Consts& c, TileCycles& cyc) {
  switch (p.exp2) {
    case Exp2Kind::Accurate: return attend_groups<K, PV, Exp2Kind::Accurate>(p, kv, pk, b, st, w, c, cyc);
    case Exp2Kind::Fast: return attend_groups<K, PV, Exp2Kind::Fast>(p, kv, pk, b, st, w, c, cyc);
    case Exp2Kind::Fixed: return attend_groups<K, PV, Exp2Kind::Fixed>(p, kv, pk, b, st, w, c, cyc);
  }
}

// Backend::attend for one P.V precision (a K set built for one P.V path): every block of the
// tile against the K/V block, merged into st (w and pk: the backend's views of its scratch and
// of kv.packed).
template <class K, PvPrecision PV>
void attend_tile_pv(const AttnParams& p, const QTile& q, const KvBlock& kv, const typename K::Packed& pk,
                    const RowState& st, const typename K::Work& w, const typename K::Consts& c, TileCycles& cyc) {
  for_each_block<K>(q, p.d, [&](const RowBlock& b, int r0) {
    const RowState sub{st.m + r0, st.l + r0, st.acc + static_cast<int64_t>(r0) * p.d};
    uint64_t t = cycle_now();
    K::pack_q(b, p.d, p, w);
    lap(cyc.qk, t);
    attend_exp2<K, PV>(p, kv, pk, b, sub, w, c, cyc);
  });
}

// Backend::attend: the tile in p's P.V precision.
template <class K>
void attend_tile(const AttnParams& p, const QTile& q, const KvBlock& kv, const typename K::Packed& pk,
                 const RowState& st, const typename K::Work& w, const typename K::Consts& c, TileCycles& cyc) {
  switch (p.pv) {
    case PvPrecision::Fp32: return attend_tile_pv<K, PvPrecision::Fp32>(p, q, kv, pk, st, w, c, cyc);
    case PvPrecision::Bf16: return attend_tile_pv<K, PvPrecision::Bf16>(p, q, kv, pk, st, w, c, cyc);
    case PvPrecision::Int8: return attend_tile_pv<K, PvPrecision::Int8>(p, q, kv, pk, st, w, c, cyc);
  }
}

// Backend::qk_scores: raw int32 scores of keys [j_first, j_first + n) of the block, no mask, in
// chunks of the scratch's key capacity, transposed out to s (row stride lds).
template <class K>
void scores_tile(const AttnParams& p, const QTile& q, const KvBlock& kv, const typename K::Packed& pk,
                 int64_t j_first, int64_t n, int32_t* s, int64_t lds, const typename K::Work& w) {
  AttnParams nomask = p;
  nomask.causal = false;
  for_each_block<K>(q, p.d, [&](const RowBlock& b, int r0) {
    K::pack_q(b, p.d, p, w);
    for (int64_t j0 = 0; j0 < n; j0 += w.ldt) {
      const int nc = static_cast<int>(std::min<int64_t>(w.ldt, n - j0));
      K::template qk_range<4, true>(nomask, b, kv, pk, kv.key0 + j_first + j0, nc, w);
      K::transpose_out(w.raw, b.rows, nc, s + static_cast<int64_t>(r0) * lds + j0, lds);
    }
  });
}

}  // namespace
}  // namespace miniattn::schedule
