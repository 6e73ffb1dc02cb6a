// The kokkos backend's fused kernel: one work item (a query tile against a block of keys) computed
// by one Kokkos team. The K/V tile, its scales, the Q tile, the tile's scores and P live in team
// scratch; TeamThreadRange spreads the tile's query rows (and, when loading, its keys) over the
// team's threads, ThreadVectorRange spreads keys and head-dimension channels over vector lanes.
// Numerics are the portable backend's (portable_backend.cpp), operation for operation:
//   S = q8 . k8 (int32), t = float(S) * k_scale, base-2 score a * t with a = q_scale * scale_log2,
//   P = exp2(a t - m) of the selected form, online softmax over K/V tiles, P.V in fp32, bf16 (P and
//   V rounded) or int8 (u8 P per 64-key block aligned to key 0, s8 V per channel, int32 sums per
//   block times 2^(m_b - m) / 255 * v_scale).
//
// The body is written once against a Team: KokkosTeam (a TeamPolicy member: the executor's
// kernel) or SerialTeam (plain loops on the calling thread: Backend::attend, which the ring
// executor calls from many host threads at once, where no Kokkos kernel may be dispatched).
// Row state is double-buffered in scratch and phases are separated by team barriers, so that no
// vector lane ever reads a value another lane of the same row writes in the same phase.
#pragma once

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>

#include "kernels/common/tile_math.hpp"
#include "kernels/kokkos/kokkos_math.hpp"
#include "miniattn/clock.hpp"
#include "miniattn/kernel.hpp"

namespace miniattn::kk {

// Shape and numerics of a launch, plain data for the device.
struct Geometry {
  int d = 0;
  int tile_kv = 0;  // Bc
  int nb = 0;       // P blocks a K/V tile can touch (int8 P.V): tile::max_p_blocks(Bc)
  bool causal = false;
  int64_t lq = 0;
  int64_t lk = 0;
  float scale_log2 = 0.0f;
  bool two_pass = false;
  bool reset_state = false;  // start every row from an empty state (executor) instead of merging

  // AttnParams::visible_keys.
  KOKKOS_INLINE_FUNCTION int64_t visible_keys(int64_t row) const {
    if (!causal) return lk;
    const int64_t v = row + (lk - lq) + 1;
    return v < 0 ? 0 : (v > lk ? lk : v);
  }
  // tile::visible_in_tile.
  KOKKOS_INLINE_FUNCTION int visible_in_tile(int64_t row, int64_t j0, int nc) const {
    const int64_t v = visible_keys(row) - j0;
    return static_cast<int>(v < 0 ? 0 : (v > nc ? nc : v));
  }
};

// One work item of a launch.
struct Item {
  int64_t row = 0;     // row of the tile's first query in the launch's q8, q_scale, m, l, acc
  int64_t q_row0 = 0;  // its row within the head (causal mask)
  int rows = 0;
  int64_t key_row = 0;  // row of k8 / k_scale / v holding the block's first key
  int64_t key0 = 0;     // global index (within the KV head) of the block's first key
  int64_t n = 0;        // keys in the block
  int64_t group = 0;    // row of v_scale
};

// Everything a launch reads and the row state it updates, as Views of one memory space.
template <class Mem>
struct Operands {
  template <class T>
  using Mat = Kokkos::View<T**, Kokkos::LayoutRight, Mem, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  template <class T>
  using Vec = Kokkos::View<T*, Kokkos::LayoutRight, Mem, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

  Mat<const int8_t> q8;         // rows x d
  Vec<const float> q_scale;     // rows
  Mat<const int8_t> k8;         // keys x d
  Vec<const float> k_scale;     // keys
  Mat<const float> v;           // keys x d (pv = fp32)
  Mat<const uint16_t> v_bf16;   // keys x d (pv = bf16)
  Mat<const int8_t> v8;         // keys x d (pv = int8)
  Mat<const float> v_scale;     // groups x d (pv = int8)
  Vec<const uint32_t> fexpa;    // exp2::kFexpaMantissa (exp2 = fast)
  Vec<float> m, l;              // rows: online-softmax state (RowState)
  Mat<float> acc;               // rows x d
};

// Byte offsets of a team's scratch arrays, computed once on the host.
struct ScratchLayout {
  std::size_t q8 = 0, k8 = 0, ks = 0, v = 0, t = 0, p8 = 0, beta = 0, rowvals = 0, total = 0;
};

inline ScratchLayout scratch_layout(int br, int bc, int d, PvPrecision pv) {
  constexpr std::size_t kAlign = 64;
  ScratchLayout s;
  std::size_t at = 0;
  auto take = [&](std::size_t& field, std::size_t bytes) {
    field = at;
    at = (at + bytes + kAlign - 1) / kAlign * kAlign;
  };
  const std::size_t r = static_cast<std::size_t>(br), c = static_cast<std::size_t>(bc), dd = static_cast<std::size_t>(d);
  const std::size_t vbytes = pv == PvPrecision::Fp32 ? 4 : pv == PvPrecision::Bf16 ? 2 : 1;
  take(s.q8, r * dd);
  take(s.k8, c * dd);
  take(s.ks, c * 4);
  take(s.v, c * dd * vbytes);
  take(s.t, r * c * 4);
  take(s.p8, pv == PvPrecision::Int8 ? r * c : 0);
  take(s.beta, pv == PvPrecision::Int8 ? r * static_cast<std::size_t>(tile::max_p_blocks(bc)) * 4 : 0);
  take(s.rowvals, r * 7 * 4);
  s.total = at;
  return s;
}

// A team's scratch arrays.
struct TileScratch {
  int8_t* q8;      // Br x d: the query tile
  int8_t* k8;      // Bc x d: the key tile
  float* ks;       // Bc: its dequantisation scales
  float* vf;       // Bc x d: fp32 V tile
  uint16_t* vb;    // Bc x d: bf16 V tile
  int8_t* v8t;     // d x Bc: s8 V tile, transposed (a channel's keys contiguous)
  float* t;        // Br x Bc: dequantised scores, then P (fp32, bf16)
  uint8_t* p8;     // Br x Bc: u8 P (int8)
  float* beta;     // Br x nb: 2^(m_b - m) / 255 per P block (int8)
  // Per row. m, l: the state; mnew, alpha, lnew: its next value (written in one phase, committed
  // in the next); tmax: the tile's largest t; mrow: two_pass's row maximum.
  float *m, *l, *mnew, *alpha, *lnew, *tmax, *mrow;
};

KOKKOS_INLINE_FUNCTION TileScratch carve(char* base, const ScratchLayout& s, int br) {
  TileScratch w;
  w.q8 = reinterpret_cast<int8_t*>(base + s.q8);
  w.k8 = reinterpret_cast<int8_t*>(base + s.k8);
  w.ks = reinterpret_cast<float*>(base + s.ks);
  w.vf = reinterpret_cast<float*>(base + s.v);
  w.vb = reinterpret_cast<uint16_t*>(base + s.v);
  w.v8t = reinterpret_cast<int8_t*>(base + s.v);
  w.t = reinterpret_cast<float*>(base + s.t);
  w.p8 = reinterpret_cast<uint8_t*>(base + s.p8);
  w.beta = reinterpret_cast<float*>(base + s.beta);
  float* rv = reinterpret_cast<float*>(base + s.rowvals);
  w.m = rv;
  w.l = rv + br;
  w.mnew = rv + 2 * br;
  w.alpha = rv + 3 * br;
  w.lnew = rv + 4 * br;
  w.tmax = rv + 5 * br;
  w.mrow = rv + 6 * br;
  return w;
}

// A Kokkos team. OnHost: the execution space runs on the host, whose vector length is 1; the
// P.V then runs keys outer, channels inner (the loop the host compiler vectorises), on devices
// channels outer (each lane keeps its sums in registers over the tile). Both orders add the same
// products in the same order per output element, so the results are the same.
template <class Member, bool OnHost>
struct KokkosTeam {
  static constexpr bool kKeysOuter = OnHost;
  const Member& member;

  template <class F>
  KOKKOS_INLINE_FUNCTION void threads(int n, const F& f) const {
    Kokkos::parallel_for(Kokkos::TeamThreadRange(member, n), f);
  }
  template <class F>
  KOKKOS_INLINE_FUNCTION void lanes(int n, const F& f) const {
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, n), f);
  }
  // Largest f(i) over [0, n), n > 0.
  template <class F>
  KOKKOS_INLINE_FUNCTION float lanes_max(int n, const F& f) const {
    float r = 0.0f;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(member, n),
        [&](int i, float& mx) {
          const float v = f(i);
          if (v > mx) mx = v;
        },
        Kokkos::Max<float>(r));
    return r;
  }
  template <class F>
  KOKKOS_INLINE_FUNCTION float lanes_sum(int n, const F& f) const {
    float r = 0.0f;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(member, n), [&](int i, float& s) { s += f(i); }, Kokkos::Sum<float>(r));
    return r;
  }
  template <class F>
  KOKKOS_INLINE_FUNCTION int32_t lanes_isum(int n, const F& f) const {
    int32_t r = 0;
    Kokkos::parallel_reduce(
        Kokkos::ThreadVectorRange(member, n), [&](int i, int32_t& s) { s += f(i); }, Kokkos::Sum<int32_t>(r));
    return r;
  }
  // Once per thread (vector lane 0): writes of a row's scalars.
  template <class F>
  KOKKOS_INLINE_FUNCTION void single(const F& f) const {
    Kokkos::single(Kokkos::PerThread(member), f);
  }
  KOKKOS_INLINE_FUNCTION void barrier() const { member.team_barrier(); }
  // No portable clock inside a Kokkos kernel: the executor times the kernel as a whole.
  KOKKOS_INLINE_FUNCTION uint64_t tick() const { return 0; }
};

// The same body on the calling host thread: a team of one thread with one vector lane.
struct SerialTeam {
  static constexpr bool kKeysOuter = true;

  template <class F>
  KOKKOS_INLINE_FUNCTION void threads(int n, const F& f) const {
    for (int i = 0; i < n; ++i) f(i);
  }
  template <class F>
  KOKKOS_INLINE_FUNCTION void lanes(int n, const F& f) const {
    for (int i = 0; i < n; ++i) f(i);
  }
  template <class F>
  KOKKOS_INLINE_FUNCTION float lanes_max(int n, const F& f) const {
    float mx = f(0);
    for (int i = 1; i < n; ++i) {
      const float v = f(i);
      if (v > mx) mx = v;
    }
    return mx;
  }
  template <class F>
  KOKKOS_INLINE_FUNCTION float lanes_sum(int n, const F& f) const {
    float s = 0.0f;
    for (int i = 0; i < n; ++i) s += f(i);
    return s;
  }
  template <class F>
  KOKKOS_INLINE_FUNCTION int32_t lanes_isum(int n, const F& f) const {
    int32_t s = 0;
    for (int i = 0; i < n; ++i) s += f(i);
    return s;
  }
  template <class F>
  KOKKOS_INLINE_FUNCTION void single(const F& f) const {
    f();
  }
  KOKKOS_INLINE_FUNCTION void barrier() const {}
  KOKKOS_INLINE_FUNCTION uint64_t tick() const {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__) || defined(__SYCL_DEVICE_ONLY__)
    return 0;  // never runs on a device
#else
    return cycle_now();
#endif
  }
};

KOKKOS_INLINE_FUNCTION int32_t dot_i8(const int8_t* a, const int8_t* b, int d) {
  int32_t s = 0;
  for (int i = 0; i < d; ++i) s += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
  return s;
}

// End (exclusive, tile column) of the int8 P block that holds column c0 of a tile starting at
// key j0, clipped to n: tile::for_each_p_block's step.
KOKKOS_INLINE_FUNCTION int p_block_end(int64_t j0, int c0, int n) {
  const int64_t e = ((j0 + c0) / kPBlock + 1) * kPBlock - j0;
  return e < n ? static_cast<int>(e) : n;
}

// Adds the time since t to a phase counter and restarts the clock (SerialTeam only).
template <class Team>
KOKKOS_INLINE_FUNCTION void lap(const Team& team, uint64_t* counter, uint64_t& t) {
  if (!counter) return;
  const uint64_t now = team.tick();
  *counter += now - t;
  t = now;
}

// Keys [j0, j0 + nc) of the block into scratch: K, its scales and (with_v) V.
template <PvPrecision PV, class Team, class Mem>
KOKKOS_INLINE_FUNCTION void load_kv_tile(const Team& team, const Geometry& g, const Operands<Mem>& op,
                                         const Item& it, const TileScratch& s, int64_t j0, int nc, bool with_v) {
  const int d = g.d, bc = g.tile_kv;
  const int64_t kr0 = it.key_row + (j0 - it.key0);
  team.threads(nc, [&](int c) {
    const int64_t kr = kr0 + c;
    team.lanes(d, [&](int x) { s.k8[c * d + x] = op.k8(kr, x); });
    team.single([&] { s.ks[c] = op.k_scale(kr); });
    if (!with_v) return;
    if constexpr (PV == PvPrecision::Fp32) {
      team.lanes(d, [&](int x) { s.vf[c * d + x] = op.v(kr, x); });
    } else if constexpr (PV == PvPrecision::Bf16) {
      team.lanes(d, [&](int x) { s.vb[c * d + x] = op.v_bf16(kr, x); });
    } else {
      team.lanes(d, [&](int x) { s.v8t[x * bc + c] = op.v8(kr, x); });
    }
  });
}

// t = float(S) * k_scale over each row's visible keys of the tile, and the row's largest t.
template <class Team>
KOKKOS_INLINE_FUNCTION void score_rows(const Team& team, const Geometry& g, const Item& it, const TileScratch& s,
                                       int64_t j0, int nc) {
  const int d = g.d, bc = g.tile_kv;
  team.threads(it.rows, [&](int r) {
    const int vis = g.visible_in_tile(it.q_row0 + r, j0, nc);
    float tmax = neg_inf();
    if (vis > 0) {
      const int8_t* qr = s.q8 + r * d;
      float* tr = s.t + r * bc;
      tmax = team.lanes_max(vis, [&](int c) {
        const float t = static_cast<float>(dot_i8(qr, s.k8 + c * d, d)) * s.ks[c];
        tr[c] = t;
        return t;
      });
    }
    team.single([&] { s.tmax[r] = tmax; });
  });
}

// The online-softmax step of each row against the tile: the new maximum, the rescale factor of
// what the row has summed so far, and P (fp32 / bf16 into t, u8 into p8 with its block betas).
template <PvPrecision PV, Exp2Kind E, class Team, class Mem>
KOKKOS_INLINE_FUNCTION void softmax_rows(const Team& team, const Geometry& g, const Operands<Mem>& op,
                                         const Item& it, const TileScratch& s, int64_t j0, int nc) {
  const int bc = g.tile_kv;
  const uint32_t* table = op.fexpa.data();
  team.threads(it.rows, [&](int r) {
    const int vis = g.visible_in_tile(it.q_row0 + r, j0, nc);
    const float a = op.q_scale(it.row + r) * g.scale_log2;
    const float m_old = s.m[r];
    const float m_tile = vis > 0 ? a * s.tmax[r] : neg_inf();
    const float m_new = max_of(m_old, m_tile);
    if (m_new == neg_inf()) {  // nothing seen yet
      team.single([&] {
        s.mnew[r] = m_new;
        s.alpha[r] = 1.0f;
        s.lnew[r] = s.l[r];
      });
      return;
    }
    const float alpha = m_old == neg_inf() ? 0.0f : exp2_accurate(m_old - m_new);
    float* tr = s.t + r * bc;
    float sum = 0.0f;
    if constexpr (PV == PvPrecision::Int8) {
      uint8_t* pr = s.p8 + r * bc;
      float* beta = s.beta + r * g.nb;
      int b = 0;
      for (int c0 = 0; c0 < vis; ++b) {
        const int c1 = p_block_end(j0, c0, vis);
        const float mb = a * team.lanes_max(c1 - c0, [&](int i) { return tr[c0 + i]; });
        const int32_t isum = team.lanes_isum(c1 - c0, [&](int i) {
          const uint8_t u = prob_u8<E>(madd(a, tr[c0 + i], -mb), table);
          pr[c0 + i] = u;
          return static_cast<int32_t>(u);
        });
        const float bb = exp2_accurate(mb - m_new) / 255.0f;
        team.single([&] { beta[b] = bb; });
        sum += bb * static_cast<float>(isum);
        c0 = c1;
      }
    } else if (vis > 0) {
      sum = team.lanes_sum(vis, [&](int c) {
        float v = exp2_of<E>(madd(a, tr[c], -m_new), table);
        if constexpr (PV == PvPrecision::Bf16) v = bf16_round(v);
        tr[c] = v;
        return v;
      });
    }
    const float l_new = s.l[r] * alpha + sum;
    team.single([&] {
      s.mnew[r] = m_new;
      s.alpha[r] = alpha;
      s.lnew[r] = l_new;
    });
  });
}

// Commits each row's new state: rescales its accumulator by alpha, then (with_pv) adds the
// tile's P.V.
template <PvPrecision PV, class Team, class Mem>
KOKKOS_INLINE_FUNCTION void commit_rows(const Team& team, const Geometry& g, const Operands<Mem>& op,
                                        const Item& it, const TileScratch& s, int64_t j0, int nc, bool with_pv) {
  const int d = g.d, bc = g.tile_kv;
  team.threads(it.rows, [&](int r) {
    float* ar = &op.acc(it.row + r, 0);
    const float alpha = s.alpha[r];
    if (alpha != 1.0f) team.lanes(d, [&](int x) { ar[x] *= alpha; });
    team.single([&] {
      s.m[r] = s.mnew[r];
      s.l[r] = s.lnew[r];
    });
    const int vis = with_pv ? g.visible_in_tile(it.q_row0 + r, j0, nc) : 0;
    if (vis == 0) return;
    if constexpr (PV == PvPrecision::Int8) {
      const uint8_t* pr = s.p8 + r * bc;
      const float* beta = s.beta + r * g.nb;
      int b = 0;
      for (int c0 = 0; c0 < vis; ++b) {
        const int c1 = p_block_end(j0, c0, vis);
        const float bb = beta[b];
        team.lanes(d, [&](int x) {
          const int8_t* vx = s.v8t + x * bc;
          int32_t ai = 0;
          for (int c = c0; c < c1; ++c) ai += static_cast<int32_t>(pr[c]) * static_cast<int32_t>(vx[c]);
          ar[x] += static_cast<float>(ai) * (bb * op.v_scale(it.group, x));
        });
        c0 = c1;
      }
    } else {
      const float* pr = s.t + r * bc;
      auto v_at = [&](int c, int x) {
        if constexpr (PV == PvPrecision::Fp32) {
          return s.vf[c * d + x];
        } else {
          return bf16_to_float(s.vb[c * d + x]);
        }
      };
      if constexpr (Team::kKeysOuter) {
        for (int c = 0; c < vis; ++c) {
          const float pc = pr[c];
          team.lanes(d, [&](int x) { ar[x] += pc * v_at(c, x); });
        }
      } else {
        team.lanes(d, [&](int x) {
          float sum = ar[x];
          for (int c = 0; c < vis; ++c) sum += pr[c] * v_at(c, x);
          ar[x] = sum;
        });
      }
    }
  });
}

// One work item: its query tile against keys [key0, key0 + n) of its KV head, merged into the
// row state (m, l, acc) of op. Keys the causal mask hides from every row are not read.
// cycles: per-phase cycle counts (SerialTeam), or null.
template <PvPrecision PV, Exp2Kind E, class Team, class Mem>
KOKKOS_INLINE_FUNCTION void attend_item(const Team& team, const Geometry& g, const Operands<Mem>& op,
                                        const Item& it, const TileScratch& s, TileCycles* cycles) {
  const int d = g.d;
  uint64_t* c_qk = cycles ? &cycles->qk : nullptr;
  uint64_t* c_sm = cycles ? &cycles->softmax : nullptr;
  uint64_t* c_pv = cycles ? &cycles->pv : nullptr;
  uint64_t t = cycles ? team.tick() : 0;

  team.threads(it.rows, [&](int r) {
    const int64_t gr = it.row + r;
    team.lanes(d, [&](int x) { s.q8[r * d + x] = op.q8(gr, x); });
    if (g.reset_state) team.lanes(d, [&](int x) { op.acc(gr, x) = 0.0f; });
    team.single([&] {
      s.m[r] = g.reset_state ? neg_inf() : op.m(gr);
      s.l[r] = g.reset_state ? 0.0f : op.l(gr);
      s.mrow[r] = neg_inf();
    });
  });
  const int64_t last = g.visible_keys(it.q_row0 + it.rows - 1);
  const int64_t end = it.key0 + it.n < last ? it.key0 + it.n : last;

  if (g.two_pass) {
    // Pass 1: each row's exact maximum over the block; folded into the state, it makes every
    // rescale factor of pass 2 exactly 1.
    for (int64_t j0 = it.key0; j0 < end; j0 += g.tile_kv) {
      const int nc = static_cast<int>(end - j0 < g.tile_kv ? end - j0 : g.tile_kv);
      team.barrier();
      load_kv_tile<PV>(team, g, op, it, s, j0, nc, false);
      team.barrier();
      score_rows(team, g, it, s, j0, nc);
      lap(team, c_qk, t);
      team.threads(it.rows, [&](int r) {
        if (g.visible_in_tile(it.q_row0 + r, j0, nc) == 0) return;
        // The lane that wrote tmax[r] reads it.
        team.single([&] { s.mrow[r] = max_of(s.mrow[r], op.q_scale(it.row + r) * g.scale_log2 * s.tmax[r]); });
      });
      lap(team, c_sm, t);
    }
    team.barrier();
    team.threads(it.rows, [&](int r) {
      const float m_old = s.m[r];
      const float m_new = max_of(m_old, s.mrow[r]);
      float alpha = 1.0f;  // a row that has seen nothing stays as it is
      if (m_new != neg_inf()) alpha = m_old == neg_inf() ? 0.0f : exp2_accurate(m_old - m_new);
      team.single([&] {
        s.mnew[r] = m_new;
        s.alpha[r] = alpha;
        s.lnew[r] = s.l[r] * alpha;
      });
    });
    team.barrier();
    commit_rows<PV>(team, g, op, it, s, 0, 0, false);
    lap(team, c_sm, t);
  }

  for (int64_t j0 = it.key0; j0 < end; j0 += g.tile_kv) {
    const int nc = static_cast<int>(end - j0 < g.tile_kv ? end - j0 : g.tile_kv);
    team.barrier();
    load_kv_tile<PV>(team, g, op, it, s, j0, nc, true);
    team.barrier();
    score_rows(team, g, it, s, j0, nc);
    lap(team, c_qk, t);
    team.barrier();
    softmax_rows<PV, E>(team, g, op, it, s, j0, nc);
    lap(team, c_sm, t);
    team.barrier();
    commit_rows<PV>(team, g, op, it, s, j0, nc, true);
    lap(team, c_pv, t);
  }

  team.barrier();
  team.threads(it.rows, [&](int r) {
    team.single([&] {
      op.m(it.row + r) = s.m[r];
      op.l(it.row + r) = s.l[r];
    });
  });
}

}  // namespace miniattn::kk
