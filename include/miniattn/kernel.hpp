// The kernel interface every CPU backend implements: pack a block of K/V once, then attend
// query tiles to it, merging into an online-softmax row state. The driver owns all memory;
// kernels see raw pointers with row stride d.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "miniattn/attn_params.hpp"
#include "miniattn/decomp.hpp"
#include "miniattn/executor.hpp"

namespace miniattn {

// One query tile: rows [row0, row0 + rows) of head (b, h).
struct QTile {
  int64_t b = 0;
  int64_t h = 0;
  int64_t row0 = 0;
  int rows = 0;
  const float* q = nullptr;        // rows x d, original values (reference backend)
  const int8_t* q8 = nullptr;      // rows x d, quantised
  const float* q_scale = nullptr;  // rows: dequantisation scale of each row
};

// Keys [key0, key0 + n) of one (b, kv head), in every form a backend may read.
struct KvBlock {
  int64_t key0 = 0;
  int64_t n = 0;
  const float* k = nullptr;           // n x d, original
  const float* v = nullptr;           // n x d, original (the fp32 P.V operand)
  const int8_t* k8 = nullptr;         // n x d, smoothed (optional) and quantised
  const float* k_scale = nullptr;     // n: dequantisation scale of each key
  const uint16_t* v_bf16 = nullptr;   // n x d, V rounded to bf16 (pv = bf16)
  const int8_t* v8 = nullptr;         // n x d, V quantised per channel (pv = int8)
  const float* v_scale = nullptr;     // d: per-channel scales of v8
  const std::byte* packed = nullptr;  // the backend's own layout, from pack_kv (may be null)
};

// The float K/V of one K/V block (keys [0, n), row stride d) and what quantising it needs from
// its whole KV head (Backend::kv_stats over every key of the head).
struct KvSource {
  int64_t n = 0;                    // keys of the block: the extent of its packed layout
  const float* k = nullptr;         // n x d
  const float* v = nullptr;         // n x d
  const float* k_mean = nullptr;    // d: K smoothing's channel means; null: no smoothing
  const float* v_absmax = nullptr;  // d: max |V| per channel over the head (pv = int8)
};

// Where Backend::quantize_kv writes a block's keys: the KvBlock arrays (keys [0, n) of the
// block) and the backend's packed layout (packed_kv_bytes(p, n) bytes, 64-byte aligned).
struct KvTarget {
  int8_t* k8 = nullptr;         // n x d
  float* k_scale = nullptr;     // n
  uint16_t* v_bf16 = nullptr;   // n x d (pv = bf16); null: not kept
  int8_t* v8 = nullptr;         // n x d (pv = int8); null: not kept
  std::byte* packed = nullptr;  // null when packed_kv_bytes is 0
};

// Online-softmax state of a tile's rows. m is the running maximum of the scores in base-2
// units (score * scale * log2 e), l the running sum of 2^(s - m), and O = acc / l once every
// key has been seen. A row that has seen no key has m = -inf, l = 0, acc = 0.
struct RowState {
  float* m = nullptr;    // rows
  float* l = nullptr;    // rows
  float* acc = nullptr;  // rows x d
};

// Cycle counts of the three kernel phases, accumulated per thread, per tile.
struct TileCycles {
  uint64_t qk = 0;
  uint64_t softmax = 0;
  uint64_t pv = 0;
};

void reset_row_state(const RowState& s, int rows, int d);
// into = merge(into, from): the exact online-softmax combination of two partial states.
void merge_row_state(const RowState& into, const RowState& from, int rows, int d);
// O = acc / l and LSE = ln(sum exp(scaled score)) + lse_shift[r] (the term K smoothing took out
// of the scores: quant::smoothing_lse_shift; null: none); rows that saw no key give O = 0,
// LSE = -inf.
void finalize_rows(const RowState& s, int rows, int d, float* o, float* lse,
                   const float* lse_shift = nullptr);

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;
  // False for the float64 reference, which reads the original values only.
  virtual bool quantized() const { return true; }
  // Tile shape used where the deck says 0.
  virtual TileShape default_tiles(int d, PvPrecision pv) const = 0;
  // Empty if the backend can run these params (tile shape, head dim), else why not.
  virtual std::string check(const AttnParams& p) const { return {}; }

  // Bytes of the backend's own K/V layout for n keys; 0 means attend reads KvBlock's arrays.
  virtual std::size_t packed_kv_bytes(const AttnParams& p, int64_t n) const { return 0; }
  virtual void pack_kv(const AttnParams& p, const KvBlock& kv, std::byte* dst) const {}

  // Quantisation: the int8 (and bf16) operands, bitwise equal to the scalar definition in
  // kernels/common/quantize.hpp, which the defaults run. Called concurrently on disjoint rows.
  //
  // Statistics of keys [0, n) of a KV head, accumulated over calls: k_sum[c] += K[j][c] in double
  // in key order (quant::k_channel_sum), v_absmax[c] = max(v_absmax[c], |V[j][c]|); either may be
  // null (not wanted).
  virtual void kv_stats(const AttnParams& p, const float* k, const float* v, int64_t n, double* k_sum,
                        float* v_absmax) const;
  // Keys [j0, j0 + n) of the block src (j0 and n multiples of kKeyQuantBlock, except n for the
  // range that ends the block): K smoothed, rotated and quantised into dst.k8 and dst.k_scale, V
  // as the P.V reads it (dst.v_bf16, dst.v8 where not null), and where quantize_writes_packed()
  // their part of the packed layout at dst.packed, in the same pass.
  virtual void quantize_kv(const AttnParams& p, const KvSource& src, int64_t j0, int64_t n,
                           const KvTarget& dst) const;
  // True when quantize_kv writes the packed layout, so that no pack_kv pass follows, and attend
  // reads V only from the packed layout (fp32: KvBlock::v): v_bf16 and v8 need not be kept.
  virtual bool quantize_writes_packed() const { return false; }
  // One query tile of `rows` rows: q8 and q_scale (quant::quantize_q_tile), and where k_mean is
  // not null K smoothing's LSE term of each row (quant::smoothing_lse_shift) into lse_shift.
  virtual void quantize_q(const AttnParams& p, const float* q, int rows, const float* k_mean, int8_t* q8,
                          float* q_scale, float* lse_shift) const;

  // Per-thread scratch that attend needs for one tile against up to n keys.
  virtual std::size_t scratch_bytes(const AttnParams& p, int64_t n) const = 0;

  // Q.K^T alone, for tests (int32 scores must be bitwise equal across backends) and the GEMM
  // benchmark: s[r * lds + c] = q8[r] . k8[j0 + c] for every row of q and keys [j0, j0 + n) of
  // the block (no mask; j0 a multiple of 64, j0 + n <= kv.n; kv packed by pack_kv). False if
  // the backend has no int8 scores.
  virtual bool qk_scores(const AttnParams& p, const QTile& q, const KvBlock& kv, int64_t j0,
                         int64_t n, int32_t* s, int64_t lds, std::byte* scratch) const {
    return false;
  }

  // Attends one query tile to one block of keys and merges the result into st. Called
  // concurrently from many threads with distinct st and scratch; must not write shared state.
  // Keys the causal mask hides from every row of the tile are skipped without being read.
  virtual void attend(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st,
                      std::byte* scratch, TileCycles& cycles) const = 0;

  // A backend that runs a whole rank itself (on a device) returns its executor; null means
  // the threaded CPU executor (src/exec/) over pack_kv/attend.
  virtual std::unique_ptr<RankExecutor> make_executor(const AttnParams& p, const Decomposition& dec,
                                                      const RankSlice& slice, int threads) const {
    return nullptr;
  }
};

}  // namespace miniattn
