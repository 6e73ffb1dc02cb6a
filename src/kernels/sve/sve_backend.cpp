// sve: the A64FX backend. SVE intrinsics (ACLE), vector-length agnostic, tuned for 512 bits.
// Same numerics as the portable backend (see its header comment), with:
//   Q.K^T  sdot on K packed in strips of W keys (W = 32-bit lanes, 16 on A64FX), the seeds'
//          register blocks of 6/4/2/1 rows x 4 strips; the int32 scores equal portable's.
//   exp2   fexpa for the accurate (plus a cubic term) and fast forms, the integer fixed form;
//          vectorised along each row of the score tile (sve_rows.hpp).
//   P.V    fp32 fmla; bf16 with bfdot where the CPU has SVE BF16, else bf16 widened to fp32
//          for fmla; int8 with udot on V + 128 (no mixed-sign dot on A64FX), exact int32 sums.
// The variants are the shared schedule's (kernels/common/schedule.hpp), in blocks of 64 rows;
// the row-state logic follows the portable backend step for step.
#include "kernels/sve/sve_backend.hpp"

#include <arm_sve.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "kernels/common/exp2.hpp"
#include "kernels/common/schedule.hpp"
#include "kernels/common/tile_math.hpp"
#include "kernels/sve/sve_bf16.hpp"
#include "kernels/sve/sve_kernels.hpp"
#include "kernels/sve/sve_rows.hpp"
#include "miniattn/clock.hpp"
#include "miniattn/cpu_features.hpp"

namespace miniattn {
namespace sve {
namespace {

using schedule::kNegInf;
using schedule::RowBlock;
constexpr int kBlockRows = 64;  // rows per block of the schedule

// How P.V runs: fp32 fmla, bf16 widened for fmla, bf16 bfdot, int8 udot.
enum class PvPath { Fp32, Bf16Widen, Bf16Dot, Int8 };

using schedule::round_up;

// Keys per P group of the path's dot product (udot: 4, bfdot: 2, fmla: 1).
constexpr int group_of(PvPath pv) { return pv == PvPath::Int8 ? 4 : pv == PvPath::Bf16Dot ? 2 : 1; }

// Byte layout of the packed K/V of n keys (see sve_kernels.hpp).
struct Packed {
  int64_t k_bytes = 0;
  int64_t v_offset = 0;
  int64_t v_bytes = 0;
};

Packed packed_layout(int d, PvPath pv, int64_t n) {
  Packed l;
  l.k_bytes = round_up(n, lanes()) * d;
  l.v_offset = round_up(l.k_bytes, 64);
  if (pv == PvPath::Int8) l.v_bytes = round_up(n, 4) * d;
  if (pv == PvPath::Bf16Dot) l.v_bytes = round_up(n, 2) * d * 2;
  return l;
}

// Per-thread scratch of one attend call. Row r of s holds S (int32) of whole strips, then in
// place t = float(S) * k_scale, then P (fp32 paths); p8 / pb hold P for the dot paths.
struct Work {
  int64_t lds = 0;  // floats per row of s
  int64_t ldp = 0;  // elements per row of p8 / pb
  float* s = nullptr;
  uint8_t* p8 = nullptr;
  uint16_t* pb = nullptr;
  int* vis = nullptr;       // rows: visible keys in the current tile or range
  float* tmax = nullptr;    // rows: max of t over visible keys
  float* a = nullptr;       // rows: q_scale * scale * log2 e
  float* alpha = nullptr;   // rows: rescale of acc for this tile (fused)
  int brows = 0;            // rows per P block in beta
  float* beta = nullptr;    // [P blocks][rows]: int8, 2^(block max - m) / 255 of each P block
  int* bvis = nullptr;      // rows: visible keys of the current P block (int8 P.V)
  int32_t* psum = nullptr;  // rows: sum of the u8 P multiplied (int8 correction)
  int64_t* block = nullptr;  // [4]: block's first row and row count; column of key j0 in s
                             // (off) and in P (the dot paths' lead zeros) of the last scores
  int chunk_cols = 0;       // unfused P.V: columns of P before the chunk (Kernels::chunk)
  // The block's online-softmax state (the schedule's Work members).
  float* m = nullptr;       // rows
  float* l = nullptr;       // rows
  float* mt = nullptr;      // rows: tile maximum, base 2
  float* o = nullptr;       // rows x d: O (acc, unnormalised)
  float* acc = nullptr;     // rows x d: a partial result's O, for the merge
  int64_t ldt = 0;          // keys a pass holds
  int32_t* raw = nullptr;   // unused (qk_scores writes S directly)
};

// keys: keys of one pass over S (tile.kv, or every key for unfused).
Work carve(tile::Arena& arena, int rows, int64_t keys, int d, PvPath pv) {
  const int64_t w = lanes();
  Work k;
  k.lds = round_up(keys, w) + 2 * w;  // a tile may start inside a strip: one more at each end
  k.ldp = round_up(keys + 3, 4) + 4;  // up to 3 leading zeros, quad padding
  const std::size_t r = static_cast<std::size_t>(rows);
  k.s = arena.take<float>(r * k.lds);
  k.p8 = arena.take<uint8_t>(pv == PvPath::Int8 ? r * k.ldp : 0);
  k.pb = arena.take<uint16_t>(pv == PvPath::Bf16Dot ? r * k.ldp : 0);
  k.vis = arena.take<int>(r);
  k.tmax = arena.take<float>(r);
  k.a = arena.take<float>(r);
  k.alpha = arena.take<float>(r);
  k.brows = rows;
  k.beta = arena.take<float>(r * static_cast<std::size_t>(tile::max_p_blocks(keys)));
  k.bvis = arena.take<int>(r);
  k.psum = arena.take<int32_t>(r);
  k.block = arena.take<int64_t>(4);
  k.m = arena.take<float>(r);
  k.l = arena.take<float>(r);
  k.mt = arena.take<float>(r);
  k.o = arena.take<float>(r * d);
  k.acc = arena.take<float>(r * d);
  k.ldt = keys;
  return k;
}

int64_t pass_keys(const AttnParams& p, int64_t n) {
  return p.variant == Variant::Unfused ? std::max<int64_t>(n, 1) : p.tile.kv;
}

const int8_t* packed_k(const KvBlock& kv) { return reinterpret_cast<const int8_t*>(kv.packed); }

template <class T>
const T* packed_v(const AttnParams& p, PvPath pv, const KvBlock& kv) {
  return reinterpret_cast<const T*>(kv.packed + packed_layout(p.d, pv, kv.n).v_offset);
}

// Where row r's P of a pass lives. Dot paths keep `lead` zeros before the first key so that
// their groups of 2 or 4 keys line up with the packed V; zero_to pads to a whole group.
struct PRow {
  float* t;        // t, then P (fp32 paths), from the first key
  uint8_t* p8;     // u8 P from its first key (int8), after lead zeros
  uint16_t* pb;    // bf16 P from its first key (bfdot), after lead zeros
  int64_t zero_to; // P is written or zeroed over [0, zero_to)
};

// off: column of the first key in w.s; pcol: in p8 / pb (= the lead zeros of dot paths).
template <PvPath PV>
PRow prow(const Work& w, int r, int off, int pcol, int nc) {
  const int lead = group_of(PV) == 1 ? 0 : pcol;
  PRow x;
  x.t = w.s + r * w.lds + off;
  x.p8 = w.p8 ? w.p8 + r * w.ldp + lead : nullptr;
  x.pb = w.pb ? w.pb + r * w.ldp + lead : nullptr;
  x.zero_to = round_up(lead + nc, group_of(PV)) - lead;
  if constexpr (PV == PvPath::Int8) std::memset(x.p8 - lead, 0, static_cast<std::size_t>(lead));
  if constexpr (PV == PvPath::Bf16Dot) std::memset(x.pb - lead, 0, static_cast<std::size_t>(lead) * 2);
  return x;
}

template <PvPath PV>
void clear_row(const PRow& x) {
  if constexpr (PV == PvPath::Int8) std::memset(x.p8, 0, static_cast<std::size_t>(x.zero_to));
  else if constexpr (PV == PvPath::Bf16Dot) std::memset(x.pb, 0, static_cast<std::size_t>(x.zero_to) * 2);
  else std::memset(x.t, 0, static_cast<std::size_t>(x.zero_to) * sizeof(float));
}

// P of one row against maximum m over its vis keys; returns the sum the P.V will see.
template <PvPath PV, Exp2Kind E>
float row_probs(const PRow& x, int vis, float a, float m) {
  if constexpr (PV == PvPath::Int8) return probs_u8<E>(x.t, vis, x.zero_to, a, m, x.p8);
  else if constexpr (PV == PvPath::Bf16Dot) return probs_bf16<E>(x.t, vis, x.zero_to, a, m, x.pb);
  else return probs_f32<E, PV == PvPath::Bf16Widen>(x.t, vis, x.zero_to, a, m);
}

// int8: u8 P of one row, each P block of [j0, j0 + nc) against its own maximum m_b, beta[b *
// stride] = 2^(m_b - m) / 255 (0 for a block the row does not see); returns the row's P sum as
// the P.V weighs it, sum_b beta_b * (sum of the block's u8). As the portable backend.
template <Exp2Kind E>
float row_probs_int8(const PRow& x, int vis, float a, int64_t j0, int nc, float m, float* beta,
                     int stride) {
  float sum = 0.0f;
  tile::for_each_p_block(j0, nc, [&](int c0, int c1, int b) {
    const int e = std::min(c1, vis);
    const int64_t zero_to = (c1 == nc ? x.zero_to : c1) - c0;  // the last block pads the group
    beta[b * stride] = 0.0f;
    if (e <= c0) {
      std::memset(x.p8 + c0, 0, static_cast<std::size_t>(zero_to));
      return;
    }
    const float mb = a * row_max(x.t + c0, e - c0);
    const float isum = probs_u8<E>(x.t + c0, e - c0, zero_to, a, mb, x.p8 + c0);
    beta[b * stride] = exp2::exp2_accurate(mb - m) / 255.0f;
    sum += beta[b * stride] * isum;
  });
  return sum;
}

// The betas of a row that sees no key of the tile [j0, j0 + nc).
void zero_betas(int64_t j0, int nc, float* beta, int stride) {
  tile::for_each_p_block(j0, nc, [&](int, int, int b) { beta[b * stride] = 0.0f; });
}

// int8 P.V of keys [jrel, jrel + vis[r]) of one P block, P of key jrel at column pcol of p8
// (after jrel % 4 lead zeros), the block's factors in beta (per row).
void pv_int8_block(const AttnParams& p, const KvBlock& kv, const Work& w, int rows, int64_t jrel,
                   int64_t pcol, const int* vis, const float* beta, float* acc, const AccMode& mode) {
  const int d = p.d;
  const int lead = static_cast<int>(jrel % 4);
  int nmax = 0;
  for (int r = 0; r < rows; ++r) nmax = std::max(nmax, vis[r]);
  const int groups = (lead + nmax + 3) / 4;
  const int64_t first = (jrel - lead) / 4;  // first packed quad of V
  const uint8_t* p8 = w.p8 + pcol - lead;
  for (int r = 0; r < rows; ++r) w.psum[r] = sum_u8(p8 + r * w.ldp, 4 * groups);
  pv_rows_u8(p8, w.ldp, packed_v<uint8_t>(p, PvPath::Int8, kv) + first * 4 * d, d, rows, groups,
             acc, mode, Int8Epilogue{w.psum, beta, kv.v_scale});
}

// acc (= acc * alpha) += P . V over keys [jrel, jrel + vis[r]) of the block, P of key jrel at
// column pcol of w's rows (fp32 paths: of w.s; dot paths: of p8 / pb, after jrel % group lead
// zeros). int8: P block by P block (w's betas start at the block of key kv.key0 + jrel).
template <PvPath PV>
void pv_path(const AttnParams& p, const KvBlock& kv, const Work& w, int rows, int64_t jrel,
             int64_t pcol, float* acc, const float* alpha) {
  const int d = p.d;
  const AccMode mode{alpha, false};
  if constexpr (PV == PvPath::Fp32) {
    pv_rows_f32(w.s + pcol, w.lds, kv.v + jrel * d, d, rows, w.vis, 0, acc, mode);
  } else if constexpr (PV == PvPath::Bf16Widen) {
    pv_rows_f32(w.s + pcol, w.lds, kv.v_bf16 + jrel * d, d, rows, w.vis, 0, acc, mode);
  } else {
    constexpr int g = group_of(PV);
    const int lead = static_cast<int>(jrel % g);
    int nmax = 0;
    for (int r = 0; r < rows; ++r) nmax = std::max(nmax, w.vis[r]);
    const int groups = static_cast<int>((lead + nmax + g - 1) / g);
    const int64_t first = (jrel - lead) / g;  // first packed group of V
    if constexpr (PV == PvPath::Int8) {
      (void)groups;
      (void)first;
      // Blocks after the first start at multiples of 64 keys: no lead zeros, columns in step.
      tile::for_each_p_block(kv.key0 + jrel, nmax, [&](int c0, int c1, int b) {
        for (int r = 0; r < rows; ++r) w.bvis[r] = std::clamp(w.vis[r] - c0, 0, c1 - c0);
        pv_int8_block(p, kv, w, rows, jrel + c0, pcol + c0, w.bvis, w.beta + b * w.brows, acc,
                      b == 0 ? mode : AccMode{nullptr, false});
      });
    } else {
      pv_rows_bf16(w.pb + pcol - lead, w.ldp, packed_v<uint16_t>(p, PV, kv) + first * 2 * d, d,
                   rows, groups, acc, mode);
    }
  }
}

// Column of P for a pass starting at block key jrel whose S sits at column off of w.s.
template <PvPath PV>
int p_column(int64_t jrel, int off) {
  return group_of(PV) == 1 ? off : static_cast<int>(jrel % group_of(PV));
}

// The microkernel set of the shared schedule (kernels/common/schedule.hpp) for one P.V path;
// row-major like the portable backend's. The rescale by alpha rides on the P.V epilogue (acc *
// alpha + P.V, alpha = 1 outside the fused variant), so rescale() does nothing.
template <PvPath Path>
struct Kernels : schedule::RowMajorKernels<sve::Work, kBlockRows> {
  // S of keys [j0, j0 + nc) on whole strips of keys, then each row's visible keys, t in place
  // and its row maximum; the column of key j0 in w.s and in P.
  template <int M, bool Raw>
  static void qk_range(const AttnParams& p, const RowBlock& b, const KvBlock& kv, const Packed&, int64_t j0,
                       int nc, const Work& w) {
    static_assert(!Raw, "sve qk_scores writes S directly");
    const int64_t lw = lanes();
    const int64_t jrel = j0 - kv.key0;
    const int off = static_cast<int>(jrel % lw);
    const int strips = static_cast<int>((off + nc + lw - 1) / lw);
    qk_rows(b.q8, b.rows, p.d, packed_k(kv) + (jrel - off) * p.d, strips,
            reinterpret_cast<int32_t*>(w.s), w.lds, strips * lw);
    for (int r = 0; r < b.rows; ++r) {
      w.vis[r] = tile::visible_in_tile(p, b.row0 + r, j0, nc);
      w.tmax[r] = dequant_row(w.s + r * w.lds + off, kv.k_scale + jrel, w.vis[r]);
    }
    w.block[2] = off;
    w.block[3] = group_of(Path) == 1 ? off : static_cast<int>(jrel % group_of(Path));
  }

  // P of the tile (int8: each P block against its own maximum), l, alpha: softmax_row; a row
  // whose P is not computed is zeroed (with its P blocks' betas).
  template <int M, PvPrecision PV, Exp2Kind E, bool KnownMax>
  static void softmax_tile(const Work& w, int64_t j0, int nc, const Consts&) {
    const int off = static_cast<int>(w.block[2]), pcol = static_cast<int>(w.block[3]);
    for (int r = 0; r < rows(w); ++r) {
      const PRow x = prow<Path>(w, r, off, pcol, nc);
      softmax_row<PV, KnownMax>(
          w, r,
          [&](float m) {
            if constexpr (Path == PvPath::Int8)
              return row_probs_int8<E>(x, w.vis[r], w.a[r], j0, nc, m, w.beta + r, w.brows);
            else
              return row_probs<Path, E>(x, w.vis[r], w.a[r], m);
          },
          [&] {
            clear_row<Path>(x);
            if constexpr (Path == PvPath::Int8) zero_betas(j0, nc, w.beta + r, w.brows);
          });
    }
  }

  template <int M>
  static void rescale(const Work&, int) {}

  template <int M, PvPrecision PV>
  static void pv_tile(const AttnParams& p, const KvBlock& kv, const Packed&, int64_t jrel, int nc,
                      const Work& w) {
    for (int r = 0; r < rows(w); ++r) w.vis[r] = tile::visible_in_tile(p, w.block[0] + r, kv.key0 + jrel, nc);
    pv_path<Path>(p, kv, w, rows(w), jrel, w.block[3] + w.chunk_cols, w.o, w.alpha);
  }

  // P.V slices of whole dot groups: a slice that starts inside a group would count the keys
  // before it again.
  static int unfused_chunk(const AttnParams& p) { return static_cast<int>(round_up(p.tile.kv, 4)); }

  static Work chunk(const Work& w, int64_t key0, int j) {
    Work c = w;
    c.chunk_cols = j;
    c.beta = w.beta + ((key0 + j) / kPBlock - key0 / kPBlock) * w.brows;
    return c;
  }
};

class SveBackend final : public Backend {
 public:
  SveBackend() : bf16_dot_(cpu_features().sve_bf16 && bf16_kernels_built()) {}

  std::string_view name() const override { return "sve"; }


  TileShape default_tiles(int d, PvPrecision pv) const override {
    // Br = 48: eight of the seeds' 6-row blocks. Bc: the largest of 128, 64, 32 whose hot set
    // (the K and V tiles every row block rereads, plus S/P) fits half of A64FX's 64 KiB L1D,
    // leaving the rest to the Q and O rows streaming through; 16 when none does (fp32, D=256).
    // E.g. D=128: int8 P.V 48 x 64 (the seeds' tile), fp32 48 x 32. Unmeasured on A64FX.
    constexpr int br = 48;
    const int vbytes = pv == PvPrecision::Fp32 ? 4 : pv == PvPrecision::Bf16 ? 2 : 1;
    const int pbytes = 4 + (pv == PvPrecision::Int8 ? 1 : pv == PvPrecision::Bf16 ? 2 : 0);
    for (int bc : {128, 64, 32})
      if (bc * d * (1 + vbytes) + br * bc * pbytes <= 32 * 1024) return {br, bc};
    return {br, 16};
  }

  std::string check(const AttnParams& p) const override {
    // udot sums 255 * 255 per key in u32 lanes, and the corrected sums must fit int32.
    if (p.pv == PvPrecision::Int8 && p.tile.kv > 65536)
      return "tile_kv = " + std::to_string(p.tile.kv) +
             " too large for the sve int8 P.V (int32 sums), expected <= 65536";
    return {};
  }

  std::size_t packed_kv_bytes(const AttnParams& p, int64_t n) const override {
    const Packed l = packed_layout(p.d, path(p), n);
    return static_cast<std::size_t>(l.v_offset + l.v_bytes);
  }

  void pack_kv(const AttnParams& p, const KvBlock& kv, std::byte* dst) const override {
    const int d = p.d;
    const int64_t lw = lanes(), n = kv.n;
    const Packed l = packed_layout(d, path(p), n);
    int8_t* kp = reinterpret_cast<int8_t*>(dst);
    for (int64_t s = 0; s < l.k_bytes / (lw * d); ++s)
      for (int g = 0; g < d / 4; ++g)
        for (int64_t i = 0; i < lw; ++i) {
          const int64_t key = s * lw + i;
          int8_t* out = kp + s * lw * d + g * 4 * lw + i * 4;
          for (int b = 0; b < 4; ++b) out[b] = key < n ? kv.k8[key * d + 4 * g + b] : int8_t{0};
        }
    if (path(p) == PvPath::Int8) {
      uint8_t* vq = reinterpret_cast<uint8_t*>(dst + l.v_offset);
      for (int64_t qd = 0; qd < round_up(n, 4) / 4; ++qd)
        for (int x = 0; x < d; ++x)
          for (int b = 0; b < 4; ++b) {
            const int64_t key = 4 * qd + b;
            const int v = key < n ? kv.v8[key * d + x] : 0;
            vq[(qd * d + x) * 4 + b] = static_cast<uint8_t>(v + 128);
          }
    } else if (path(p) == PvPath::Bf16Dot) {
      uint16_t* vp = reinterpret_cast<uint16_t*>(dst + l.v_offset);
      for (int64_t i = 0; i < round_up(n, 2) / 2; ++i)
        for (int x = 0; x < d; ++x)
          for (int e = 0; e < 2; ++e) {
            const int64_t key = 2 * i + e;
            vp[(i * d + x) * 2 + e] = key < n ? kv.v_bf16[key * d + x] : uint16_t{0};
          }
    }
  }

  std::size_t scratch_bytes(const AttnParams& p, int64_t n) const override {
    tile::Arena arena(nullptr);
    carve(arena, kBlockRows, pass_keys(p, n), p.d, path(p));
    return arena.used();
  }

  bool qk_scores(const AttnParams& p, const QTile& q, const KvBlock& kv, int64_t j0, int64_t n,
                 int32_t* s, int64_t lds, std::byte*) const override {
    // j0 is a multiple of 64, hence of the strip width (at most 64 int32 lanes).
    const int strips = static_cast<int>((n + lanes() - 1) / lanes());
    qk_rows(q.q8, q.rows, p.d, packed_k(kv) + j0 * p.d, strips, s, lds, n);
    return true;
  }

  void attend(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st,
              std::byte* scratch, TileCycles& cyc) const override {
    tile::Arena arena(scratch);
    const Work w = carve(arena, kBlockRows, pass_keys(p, kv.n), p.d, path(p));
    switch (path(p)) {
      case PvPath::Fp32: return run<PvPath::Fp32, PvPrecision::Fp32>(p, q, kv, st, w, cyc);
      case PvPath::Bf16Widen: return run<PvPath::Bf16Widen, PvPrecision::Bf16>(p, q, kv, st, w, cyc);
      case PvPath::Bf16Dot: return run<PvPath::Bf16Dot, PvPrecision::Bf16>(p, q, kv, st, w, cyc);
      case PvPath::Int8: return run<PvPath::Int8, PvPrecision::Int8>(p, q, kv, st, w, cyc);
    }
  }

 private:
  template <PvPath Path, PvPrecision PV>
  static void run(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st, const Work& w,
                  TileCycles& cyc) {
    using K = Kernels<Path>;
    schedule::attend_tile_pv<K, PV>(p, q, kv, typename K::Packed{}, st, w, typename K::Consts{}, cyc);
  }

  PvPath path(const AttnParams& p) const {
    switch (p.pv) {
      case PvPrecision::Bf16: return bf16_dot_ ? PvPath::Bf16Dot : PvPath::Bf16Widen;
      case PvPrecision::Int8: return PvPath::Int8;
      case PvPrecision::Fp32: break;
    }
    return PvPath::Fp32;
  }

  bool bf16_dot_;  // the CPU has SVE BF16 and this build has the bfdot kernels
};

}  // namespace
}  // namespace sve

std::unique_ptr<Backend> make_sve_backend() { return std::make_unique<sve::SveBackend>(); }

}  // namespace miniattn
