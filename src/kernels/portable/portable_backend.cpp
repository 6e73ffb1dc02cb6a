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
// Variants: fused (online softmax, one pass over K/V tiles), two_pass (pass 1 finds the exact
// row maximum, pass 2 recomputes S and accumulates without rescaling), unfused (the seed
// baseline: S for every visible key materialised, then softmax over it, then P.V).
#include "kernels/portable/portable_backend.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/common/exp2.hpp"
#include "kernels/common/quantize.hpp"
#include "kernels/common/tile_math.hpp"
#include "miniattn/clock.hpp"

namespace miniattn {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Per-thread scratch of one attend call.
struct Work {
  int64_t lds = 0;           // row stride of s, t, p, p8
  int32_t* s = nullptr;      // rows x lds
  float* t = nullptr;        // rows x lds: dequantised scores
  float* p = nullptr;        // rows x lds: probabilities (fp32, bf16 paths)
  uint8_t* p8 = nullptr;     // rows x lds: probabilities (int8 path)
  int32_t* acc_i = nullptr;  // rows x d: int32 P.V of one tile
  int* vis = nullptr;        // rows: visible keys in the current tile or range
  float* tmax = nullptr;     // rows: max of t over visible keys
  float* a = nullptr;        // rows: q_scale * scale * log2 e
  int nb = 0;                // row stride of beta: P blocks a run of lds keys can touch
  float* beta = nullptr;     // rows x nb: int8 path, 2^(block max - m) / 255 per P block
  RowState block;            // result of two_pass/unfused before the merge
};

Work carve(tile::Arena& arena, int rows, int64_t lds, int d) {
  Work w;
  w.lds = lds;
  w.nb = tile::max_p_blocks(lds);
  const std::size_t n = static_cast<std::size_t>(rows) * static_cast<std::size_t>(lds);
  w.s = arena.take<int32_t>(n);
  w.t = arena.take<float>(n);
  w.p = arena.take<float>(n);
  w.p8 = arena.take<uint8_t>(n);
  w.acc_i = arena.take<int32_t>(static_cast<std::size_t>(rows) * d);
  w.vis = arena.take<int>(rows);
  w.tmax = arena.take<float>(rows);
  w.a = arena.take<float>(rows);
  w.beta = arena.take<float>(static_cast<std::size_t>(rows) * w.nb);
  w.block.m = arena.take<float>(rows);
  w.block.l = arena.take<float>(rows);
  w.block.acc = arena.take<float>(static_cast<std::size_t>(rows) * d);
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

// S[r][c] = q8[r] . k8[c], c < nc.
void qk_tile(const QTile& q, const int8_t* k8, int nc, int d, int32_t* s, int64_t lds) {
  for (int r = 0; r < q.rows; ++r) {
    const int8_t* qr = q.q8 + static_cast<int64_t>(r) * d;
    int32_t* sr = s + r * lds;
    for (int c = 0; c < nc; ++c) sr[c] = dot_i8(qr, k8 + static_cast<int64_t>(c) * d, d);
  }
}

// Visible keys of each row in [j0, j0 + nc).
void visibility(const AttnParams& p, const QTile& q, int64_t j0, int nc, int* vis) {
  for (int r = 0; r < q.rows; ++r) vis[r] = tile::visible_in_tile(p, q.row0 + r, j0, nc);
}

// t = float(S) * k_scale over each row's visible keys, and the row maximum of t.
void dequantise(const Work& w, int rows, const float* ks) {
  for (int r = 0; r < rows; ++r) {
    const int32_t* sr = w.s + r * w.lds;
    float* tr = w.t + r * w.lds;
    float mx = kNegInf;
    for (int c = 0; c < w.vis[r]; ++c) {
      tr[c] = static_cast<float>(sr[c]) * ks[c];
      mx = std::max(mx, tr[c]);
    }
    w.tmax[r] = mx;
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

// acc[r] += P[r] . V over keys [jrel, jrel + nc) of the block, P from column pcol of the work
// buffers. int8: int32 sums per P block, each times its beta; p_key0 is the key of P's column 0
// (where row_probs_int8 started counting blocks).
template <PvPrecision PV>
void pv_tile(const Work& w, int rows, int d, const KvBlock& kv, int64_t jrel, int64_t pcol,
             int64_t p_key0, float* acc) {
  for (int r = 0; r < rows; ++r) {
    const int vis = w.vis[r];
    if (vis == 0) continue;
    float* ar = acc + static_cast<int64_t>(r) * d;
    if constexpr (PV == PvPrecision::Fp32) {
      const float* pr = w.p + r * w.lds + pcol;
      for (int c = 0; c < vis; ++c) {
        const float* vr = kv.v + (jrel + c) * d;
        const float pc = pr[c];
        for (int x = 0; x < d; ++x) ar[x] += pc * vr[x];
      }
    } else if constexpr (PV == PvPrecision::Bf16) {
      const float* pr = w.p + r * w.lds + pcol;
      for (int c = 0; c < vis; ++c) {
        const uint16_t* vr = kv.v_bf16 + (jrel + c) * d;
        const float pc = pr[c];
        for (int x = 0; x < d; ++x) ar[x] += pc * quant::bf16_to_float(vr[x]);
      }
    } else {
      const uint8_t* pr = w.p8 + r * w.lds + pcol;
      int32_t* ai = w.acc_i + static_cast<int64_t>(r) * d;
      const int64_t j0 = kv.key0 + jrel;
      const int bfirst = static_cast<int>(j0 / kPBlock - p_key0 / kPBlock);
      tile::for_each_p_block(j0, vis, [&](int c0, int c1, int b) {
        std::fill(ai, ai + d, 0);
        for (int c = c0; c < c1; ++c) {
          const int8_t* vr = kv.v8 + (jrel + c) * d;
          const int32_t pc = pr[c];
          for (int x = 0; x < d; ++x) ai[x] += pc * static_cast<int32_t>(vr[x]);
        }
        const float beta = w.beta[static_cast<int64_t>(r) * w.nb + bfirst + b];
        for (int x = 0; x < d; ++x) ar[x] += static_cast<float>(ai[x]) * (beta * kv.v_scale[x]);
      });
    }
  }
}

void row_multipliers(const AttnParams& p, const QTile& q, float* a) {
  for (int r = 0; r < q.rows; ++r) a[r] = q.q_scale[r] * p.scale_log2;
}

// S of keys [j0, j0 + nc) (timed as qk_gemm), then each row's visible keys, the dequantised
// scores t and their row maximum (timed as softmax).
void score_tile(const AttnParams& p, const QTile& q, const KvBlock& kv, int64_t j0, int nc,
                const Work& w, TileCycles& cyc) {
  const int64_t jrel = j0 - kv.key0;
  const uint64_t c0 = cycle_now();
  qk_tile(q, kv.k8 + jrel * p.d, nc, p.d, w.s, w.lds);
  const uint64_t c1 = cycle_now();
  visibility(p, q, j0, nc, w.vis);
  dequantise(w, q.rows, kv.k_scale + jrel);
  cyc.qk += c1 - c0;
  cyc.softmax += cycle_now() - c1;
}

// Adds the time since *t to a phase counter and restarts the clock.
inline void lap(uint64_t& counter, uint64_t& t) {
  const uint64_t now = cycle_now();
  counter += now - t;
  t = now;
}

template <PvPrecision PV, Exp2Kind E>
void attend_fused(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st,
                  const Work& w, TileCycles& cyc) {
  const int d = p.d;
  const int64_t end = tile::kv_end(p, q, kv);
  row_multipliers(p, q, w.a);
  for (int64_t j0 = kv.key0; j0 < end; j0 += p.tile.kv) {
    const int nc = static_cast<int>(std::min<int64_t>(p.tile.kv, end - j0));
    score_tile(p, q, kv, j0, nc, w, cyc);
    uint64_t t = cycle_now();
    for (int r = 0; r < q.rows; ++r) {
      const float m_old = st.m[r];
      const float m_tile = w.vis[r] > 0 ? w.a[r] * w.tmax[r] : kNegInf;
      const float m_new = std::max(m_old, m_tile);
      if (m_new == kNegInf) continue;  // nothing seen yet; w.vis[r] == 0 keeps it out of P.V
      const float alpha = m_old == kNegInf ? 0.0f : exp2::exp2_accurate(m_old - m_new);
      float sum;
      if constexpr (PV == PvPrecision::Int8) {
        sum = m_tile == kNegInf ? 0.0f : row_probs_int8<E>(w, r, j0, nc, m_new);
      } else {
        sum = row_probs<PV, E>(w, r, nc, m_new);
      }
      st.l[r] = st.l[r] * alpha + sum;
      st.m[r] = m_new;
      if (alpha != 1.0f) {
        float* ar = st.acc + static_cast<int64_t>(r) * d;
        for (int x = 0; x < d; ++x) ar[x] *= alpha;
      }
    }
    lap(cyc.softmax, t);
    pv_tile<PV>(w, q.rows, d, kv, j0 - kv.key0, 0, j0, st.acc);
    lap(cyc.pv, t);
  }
}

template <PvPrecision PV, Exp2Kind E>
void attend_two_pass(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st,
                     const Work& w, TileCycles& cyc) {
  const int d = p.d;
  const int64_t end = tile::kv_end(p, q, kv);
  const RowState& b = w.block;
  reset_row_state(b, q.rows, d);
  row_multipliers(p, q, w.a);

  // Pass 1: the exact row maximum over every visible key.
  for (int64_t j0 = kv.key0; j0 < end; j0 += p.tile.kv) {
    const int nc = static_cast<int>(std::min<int64_t>(p.tile.kv, end - j0));
    score_tile(p, q, kv, j0, nc, w, cyc);
    uint64_t t = cycle_now();
    for (int r = 0; r < q.rows; ++r)
      if (w.vis[r] > 0) b.m[r] = std::max(b.m[r], w.a[r] * w.tmax[r]);
    lap(cyc.softmax, t);
  }

  // Pass 2: recompute S; P against the final maximum, no rescaling.
  for (int64_t j0 = kv.key0; j0 < end; j0 += p.tile.kv) {
    const int nc = static_cast<int>(std::min<int64_t>(p.tile.kv, end - j0));
    score_tile(p, q, kv, j0, nc, w, cyc);
    uint64_t t = cycle_now();
    for (int r = 0; r < q.rows; ++r) {
      if (w.vis[r] == 0) continue;
      if constexpr (PV == PvPrecision::Int8) {
        b.l[r] += row_probs_int8<E>(w, r, j0, nc, b.m[r]);
      } else {
        b.l[r] += row_probs<PV, E>(w, r, nc, b.m[r]);
      }
    }
    lap(cyc.softmax, t);
    pv_tile<PV>(w, q.rows, d, kv, j0 - kv.key0, 0, j0, b.acc);
    lap(cyc.pv, t);
  }
  merge_row_state(st, b, q.rows, d);
}

template <PvPrecision PV, Exp2Kind E>
void attend_unfused(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st,
                    const Work& w, TileCycles& cyc) {
  const int d = p.d;
  const int n = static_cast<int>(std::max<int64_t>(tile::kv_end(p, q, kv) - kv.key0, 0));
  const RowState& b = w.block;
  reset_row_state(b, q.rows, d);
  row_multipliers(p, q, w.a);

  // 1. S for every key any row sees, materialised (with its dequantised copy t).
  score_tile(p, q, kv, kv.key0, n, w, cyc);

  // 2. Softmax over whole rows: the maximum is known, exp2 and sum.
  uint64_t t = cycle_now();
  for (int r = 0; r < q.rows; ++r) {
    if (w.vis[r] == 0) continue;
    b.m[r] = w.a[r] * w.tmax[r];
    if constexpr (PV == PvPrecision::Int8) {
      b.l[r] = row_probs_int8<E>(w, r, kv.key0, n, b.m[r]);
    } else {
      b.l[r] = row_probs<PV, E>(w, r, n, b.m[r]);
    }
  }
  lap(cyc.softmax, t);

  // 3. P.V over the materialised P, tile by tile (bounds the int32 sums of the int8 path).
  for (int64_t j = 0; j < n; j += p.tile.kv) {
    const int nc = static_cast<int>(std::min<int64_t>(p.tile.kv, n - j));
    // Visible keys of this slice; the P of hidden keys is already 0, this only trims the loop.
    for (int r = 0; r < q.rows; ++r)
      w.vis[r] = tile::visible_in_tile(p, q.row0 + r, kv.key0 + j, nc);
    pv_tile<PV>(w, q.rows, d, kv, j, j, kv.key0, b.acc);
  }
  lap(cyc.pv, t);
  merge_row_state(st, b, q.rows, d);
}

template <PvPrecision PV, Exp2Kind E>
void attend_variant(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st,
                    const Work& w, TileCycles& cyc) {
  switch (p.variant) {
    case Variant::Fused: return attend_fused<PV, E>(p, q, kv, st, w, cyc);
    case Variant::TwoPass: return attend_two_pass<PV, E>(p, q, kv, st, w, cyc);
    case Variant::Unfused: return attend_unfused<PV, E>(p, q, kv, st, w, cyc);
  }
}

template <PvPrecision PV>
void attend_exp2(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st,
                 const Work& w, TileCycles& cyc) {
  switch (p.exp2) {
    case Exp2Kind::Accurate: return attend_variant<PV, Exp2Kind::Accurate>(p, q, kv, st, w, cyc);
    case Exp2Kind::Fast: return attend_variant<PV, Exp2Kind::Fast>(p, q, kv, st, w, cyc);
    case Exp2Kind::Fixed: return attend_variant<PV, Exp2Kind::Fixed>(p, q, kv, st, w, cyc);
  }
}

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
    carve(arena, p.tile.q, scratch_stride(p, n), p.d);
    return arena.used();
  }

  bool qk_scores(const AttnParams& p, const QTile& q, const KvBlock& kv, int64_t j0, int64_t n,
                 int32_t* s, int64_t lds, std::byte*) const override {
    qk_tile(q, kv.k8 + j0 * p.d, static_cast<int>(n), p.d, s, lds);
    return true;
  }

  void attend(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st,
              std::byte* scratch, TileCycles& cyc) const override {
    tile::Arena arena(scratch);
    const Work w = carve(arena, q.rows, scratch_stride(p, kv.n), p.d);
    switch (p.pv) {
      case PvPrecision::Fp32: return attend_exp2<PvPrecision::Fp32>(p, q, kv, st, w, cyc);
      case PvPrecision::Bf16: return attend_exp2<PvPrecision::Bf16>(p, q, kv, st, w, cyc);
      case PvPrecision::Int8: return attend_exp2<PvPrecision::Int8>(p, q, kv, st, w, cyc);
    }
  }
};

}  // namespace

std::unique_ptr<Backend> make_portable_backend() { return std::make_unique<PortableBackend>(); }

}  // namespace miniattn
