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
