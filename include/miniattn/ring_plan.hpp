// Ring mode (kv_mode = "ring"): who holds which keys and computes which query rows.
//
// The P ranks form P / R rings of R consecutive ranks (R = [run] ring_size, 0 = all ranks).
// Ring k owns a contiguous range of the B*Hkv KV heads, and with them every query head that
// reads them (GQA groups are never split over rings, so a K/V block crosses the network once
// per ring step and serves all the query heads of its group). Inside a ring, every KV head's
// keys and every query head's rows are cut into chunks along the sequence:
//   - non-causal: R chunks; ring rank j holds key chunk j and query chunk j;
//   - causal: 2R chunks in zig-zag order (the load-balanced layout of causal context
//     parallelism, e.g. Llama 3, Dubey et al. 2024; Striped Attention, Brandon et al. 2023,
//     balances with round-robin tokens instead): ring rank j holds chunks j and 2R-1-j.
//     With a bottom-right causal mask the cost of a query row grows linearly with its
//     position, so the pair (j, 2R-1-j) costs the same for every j, and with Lq = Lk every
//     (query shard, key shard) pair costs two chunk-squares: each ring step is balanced too.
// Key chunks are whole multiples of 64 keys (the per_block K quantisation block, aligned to
// key 0) and of the K/V tile, so a rank's int8 K and the kernels' tiles are those of the
// replicated mode (unless Lk is under two tiles per chunk: then 64-key multiples); query chunks are whole query tiles, so work items are the same as well.
// The K/V blocks then travel around the ring (ring_executor.cpp); each rank keeps its queries.
#pragma once

#include <cstdint>
#include <vector>

#include "miniattn/attn_params.hpp"
#include "miniattn/decomp.hpp"

namespace miniattn {

class RingPlan {
 public:
  // Throws miniattn::Error (bad input) naming [run] ring_size when it does not divide nranks or
  // leaves a ring without a KV head.
  RingPlan(const AttnParams& p, int nranks, int ring_size);

  int nranks() const { return nranks_; }
  int ring_size() const { return ring_size_; }
  int num_rings() const { return nranks_ / ring_size_; }
  int ring_of(int rank) const { return rank / ring_size_; }
  int ring_rank(int rank) const { return rank % ring_size_; }
  // Chunks per head: R (non-causal) or 2R (causal, zig-zag).
  int num_chunks() const { return chunks_; }

  // Flattened (b * kv_heads + kvh) KV heads of a ring.
  Range kv_groups(int ring) const;
  // Keys of every KV head held by a ring rank, ascending: one or two chunks (possibly empty).
  std::vector<Range> key_chunks(int ring_rank) const;
  // Query rows (within a head) a ring rank computes, ascending: one or two chunks.
  std::vector<Range> query_chunks(int ring_rank) const;

  // A rank's work items in (batch, head, tile) order, its query rows (flattened B*H*Lq) and its
  // keys (flattened B*Hkv*Lk).
  std::vector<WorkItem> items(int rank) const;
  RowSet rows(int rank) const;
  RowSet kv_rows(int rank) const;

  double rank_cost(int rank) const;
  // max over ranks of predicted cost / mean - 1.
  double predicted_imbalance() const;

 private:
  Range chunk(int64_t units, int64_t unit, int64_t len, int c) const;

  AttnParams p_;
  int nranks_ = 1;
  int ring_size_ = 1;
  int chunks_ = 1;
  int64_t key_unit_ = 64;  // keys per indivisible piece of a key chunk
};

}  // namespace miniattn
